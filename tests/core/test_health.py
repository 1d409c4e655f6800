import pytest


def test_health_answers_while_the_process_serves(client):
    response = client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_unknown_api_path_answers_json_404(client):
    for path in ("/api/nope/", "/api/events", "/api/payments/webhook"):
        response = client.post(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}
