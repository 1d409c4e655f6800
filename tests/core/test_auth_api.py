import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def test_register_creates_the_user_and_logs_in(api_client):
    response = api_client.post(
        reverse("register"),
        {"username": "ada", "email": "ada@example.com", "password": "a-long-enough-passphrase"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert set(response.json()) == {"id", "username", "email"}
    assert api_client.get(reverse("me")).json()["username"] == "ada"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "taken", "email": "a@example.com", "password": "a-long-enough-passphrase"}, "username"),
        ({"username": "TAKEN", "email": "a@example.com", "password": "a-long-enough-passphrase"}, "username"),
        ({"username": "new", "email": "a@example.com", "password": "123"}, "non_field_errors"),
        ({"username": "new", "email": "a@example.com", "password": "password"}, "non_field_errors"),
        ({"username": "new", "email": "not-an-email", "password": "a-long-enough-passphrase"}, "email"),
        ({"username": "has spaces", "email": "a@example.com", "password": "a-long-enough-passphrase"}, "username"),
        ({}, "username"),
    ],
)
def test_register_refuses_bad_input_with_400(api_client, body, field):
    UserFactory(username="taken")

    response = api_client.post(reverse("register"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert response.json()["detail"]
    assert not get_user_model().objects.filter(username="new").exists()


def test_login_and_logout(api_client):
    user = UserFactory()

    login = api_client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, format="json")
    me = api_client.get(reverse("me"))
    logout = api_client.post(reverse("logout"))
    after = api_client.get(reverse("me"))

    assert login.status_code == 200 and login.json()["id"] == user.pk
    assert me.json() == {
        "authenticated": True,
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "email_verified": True,
    }
    assert logout.status_code == 204
    # A visitor is an answer, not an error: the browser logs nothing for it.
    assert (after.status_code, after.json()) == (200, {"authenticated": False})


def test_bad_credentials_answer_400(api_client):
    user = UserFactory()

    response = api_client.post(reverse("login"), {"username": user.username, "password": "wrong"}, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid username or password."


def test_token_authenticates_scripts(api_client):
    user = UserFactory()

    token = api_client.post(reverse("token"), {"username": user.username, "password": PASSWORD}, format="json").json()[
        "token"
    ]
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert script.get(reverse("me")).json()["username"] == user.username
    assert (
        script.post(
            reverse("event-list"), {"title": "T", "starts_at": "2031-01-01T00:00:00Z"}, format="json"
        ).status_code
        == 201
    )


def test_session_clients_need_the_csrf_token_for_unsafe_methods():
    user = UserFactory()
    browser = APIClient(enforce_csrf_checks=True)
    browser.get(reverse("csrf"))
    token = browser.cookies["csrftoken"].value
    browser.post(
        reverse("login"), {"username": user.username, "password": PASSWORD}, format="json", HTTP_X_CSRFTOKEN=token
    )

    without = browser.post(reverse("event-list"), {"title": "T", "starts_at": "2031-01-01T00:00:00Z"}, format="json")
    rotated = browser.cookies["csrftoken"].value
    with_token = browser.post(
        reverse("event-list"),
        {"title": "T", "starts_at": "2031-01-01T00:00:00Z"},
        format="json",
        HTTP_X_CSRFTOKEN=rotated,
    )

    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    assert with_token.status_code == 201


def test_csrf_endpoint_sets_the_cookie(api_client):
    response = api_client.get(reverse("csrf"))

    assert response.status_code == 204
    assert "csrftoken" in response.cookies
