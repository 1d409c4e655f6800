from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "a-brand-new-passphrase"


def _token(user) -> str:
    response = APIClient().post(reverse("token"), {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _script(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _logged_in_browser(user, password: str = PASSWORD) -> APIClient:
    browser = APIClient()
    assert (
        browser.post(reverse("login"), {"username": user.username, "password": password}, format="json").status_code
        == 200
    )
    return browser


def test_each_token_request_gets_a_new_token_stored_only_as_a_digest():
    user = UserFactory()

    first, second = _token(user), _token(user)

    assert first != second
    stored = AuthToken.objects.filter(user=user)
    assert stored.count() == 2
    assert not stored.filter(digest__in=[first, second]).exists()
    assert _script(first).get(reverse("me")).json()["username"] == user.username


def test_a_token_expires_after_its_time_to_live(settings):
    user = UserFactory()
    token = _token(user)
    ttl = settings.REST_KNOX["TOKEN_TTL"]

    with freeze_time(timezone.now() + ttl - timedelta(minutes=1)):
        just_before = _script(token).get(reverse("event-list"))
    with freeze_time(timezone.now() + ttl + timedelta(minutes=1)):
        after = _script(token).get(reverse("event-list"))

    assert just_before.status_code == 200
    assert after.status_code == 403
    assert after.json()["detail"]


def test_logout_revokes_the_token_used_and_only_that_one():
    user = UserFactory()
    used, other = _token(user), _token(user)

    assert _script(used).post(reverse("logout")).status_code == 204

    assert _script(used).get(reverse("event-list")).status_code == 403
    assert _script(other).get(reverse("event-list")).status_code == 200


def test_log_out_everywhere_revokes_every_token_of_the_user_only():
    user, someone_else = UserFactory(), UserFactory()
    tokens = [_token(user), _token(user)]
    theirs = _token(someone_else)
    browser = _logged_in_browser(user)

    assert browser.post(reverse("logout-everywhere")).status_code == 204

    assert [_script(t).get(reverse("event-list")).status_code for t in tokens] == [403, 403]
    assert browser.get(reverse("me")).json() == {"authenticated": False}
    assert _script(theirs).get(reverse("event-list")).status_code == 200


def test_log_out_everywhere_needs_a_logged_in_caller():
    assert APIClient().post(reverse("logout-everywhere")).status_code == 403


def test_password_change_keeps_this_session_and_ends_every_other_and_every_token():
    user = UserFactory()
    token = _token(user)
    this, other = _logged_in_browser(user), _logged_in_browser(user)

    response = this.post(
        reverse("password-change"), {"old_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 204, response.content
    assert this.get(reverse("me")).json()["authenticated"] is True
    assert other.get(reverse("me")).json() == {"authenticated": False}
    assert _script(token).get(reverse("event-list")).status_code == 403
    _logged_in_browser(user, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"old_password": "wrong", "new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": PASSWORD, "new_password": "123"}, "new_password"),
        ({"old_password": PASSWORD}, "new_password"),
        ({}, "old_password"),
    ],
)
def test_password_change_refuses_bad_input_with_400_and_changes_nothing(body, field):
    user = UserFactory()
    token = _token(user)
    browser = _logged_in_browser(user)

    response = browser.post(reverse("password-change"), body, format="json")

    assert response.status_code == 400
    assert field in response.json() and response.json()["detail"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert _script(token).get(reverse("event-list")).status_code == 200
