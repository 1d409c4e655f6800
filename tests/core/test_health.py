import pytest


def test_health_answers_while_the_process_serves(client):
    response = client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_unknown_api_path_answers_json_404(client):
    # A newline inside the path (%0A) is still an unknown API path, not the site's HTML 404.
    for path in ("/api/nope/", "/api/events", "/api/payments/webhook", "/api/events/1%0A/cancel/"):
        response = client.post(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}
