"""A JSON body nested deeper than Python's json module goes is malformed input: 400 with a message on
every endpoint that reads JSON, never the RecursionError's 500."""

import pytest

pytestmark = pytest.mark.django_db

DEEP = "[" * 50_000 + "]" * 50_000


@pytest.mark.parametrize(
    ("client_name", "path"),
    [
        ("api_client", "/api/auth/login/"),
        ("api_client", "/api/auth/register/"),
        ("auth_client", "/api/events/"),
        ("auth_client", "/api/payments/create-payment-intent/"),
    ],
)
def test_a_body_nested_too_deeply_is_refused_with_a_message(request, client_name, path):
    client = request.getfixturevalue(client_name)

    response = client.post(path, data=DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON parse error - nested too deeply."
