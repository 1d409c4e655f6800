import re
from datetime import timedelta

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from payments.models import Notification
from payments.services.notifications import WITHHELD_LINK
from tests.factories import UserFactory

# Account emails are written to the outbox with the request and handed to a worker at its commit: these
# tests commit for real (a transactional database) and run the worker's task at once, in this process.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("tasks_in_process")]

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


RESET_ANSWER = "If an account uses this address, an email with a link to set a new password is on its way."


def _reset_link_parts(message) -> dict[str, str]:
    match = re.search(r"/reset-password/(?P<uid>[^/\s]+)/(?P<token>[^/\s]+)", message.body)
    assert match, message.body
    return match.groupdict()


def test_password_reset_answers_alike_for_an_account_and_for_none(mailoutbox):
    user = UserFactory(email="ada@example.com")

    known = APIClient().post(reverse("password-reset"), {"email": "ADA@example.com"}, format="json")
    unknown = APIClient().post(reverse("password-reset"), {"email": "nobody@example.com"}, format="json")

    assert (known.status_code, known.json()) == (202, {"detail": RESET_ANSWER})
    assert (unknown.status_code, unknown.json()) == (202, {"detail": RESET_ANSWER})
    assert [m.to for m in mailoutbox] == [[user.email]]


def test_a_reset_link_sets_the_password_once_and_ends_every_session_and_token(mailoutbox):
    user = UserFactory()
    token = _token(user)
    browser = _logged_in_browser(user)
    APIClient().post(reverse("password-reset"), {"email": user.email}, format="json")
    body = {**_reset_link_parts(mailoutbox[0]), "new_password": NEW_PASSWORD}

    first = APIClient().post(reverse("password-reset-confirm"), body, format="json")
    again = APIClient().post(reverse("password-reset-confirm"), body, format="json")

    assert first.status_code == 204, first.content
    assert again.status_code == 400 and "token" in again.json()
    assert browser.get(reverse("me")).json() == {"authenticated": False}
    assert _script(token).get(reverse("event-list")).status_code == 403
    _logged_in_browser(user, NEW_PASSWORD)


def test_a_reset_link_expires(mailoutbox, settings):
    user = UserFactory()
    APIClient().post(reverse("password-reset"), {"email": user.email}, format="json")
    body = {**_reset_link_parts(mailoutbox[0]), "new_password": NEW_PASSWORD}

    with freeze_time(timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)):
        response = APIClient().post(reverse("password-reset-confirm"), body, format="json")

    assert response.status_code == 400 and "token" in response.json()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize(
    "body",
    [
        {"uid": "not-base64!", "token": "x", "new_password": NEW_PASSWORD},
        {"uid": "OTk5OTk5", "token": "abc-def", "new_password": NEW_PASSWORD},
        {"uid": "", "token": "", "new_password": ""},
        {},
    ],
)
def test_a_malformed_reset_confirmation_answers_400(body):
    response = APIClient().post(reverse("password-reset-confirm"), body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_weak_new_password_is_refused_and_the_link_still_works(mailoutbox):
    user = UserFactory()
    APIClient().post(reverse("password-reset"), {"email": user.email}, format="json")
    parts = _reset_link_parts(mailoutbox[0])

    weak = APIClient().post(reverse("password-reset-confirm"), {**parts, "new_password": "123"}, format="json")
    strong = APIClient().post(reverse("password-reset-confirm"), {**parts, "new_password": NEW_PASSWORD}, format="json")

    assert weak.status_code == 400 and "new_password" in weak.json()
    assert strong.status_code == 204


def test_reset_requests_have_a_per_client_budget_and_say_when_to_retry(monkeypatch, mailoutbox):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"password_reset": "2/hour", "auth": "100/min"})
    client = APIClient()

    answers = [
        client.post(reverse("password-reset"), {"email": f"n{i}@example.com"}, format="json", REMOTE_ADDR="203.0.113.7")
        for i in range(3)
    ]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2]["Retry-After"]) > 60
    assert answers[2].json()["detail"]


def _verification_key(message) -> str:
    match = re.search(r"/verify-email/(?P<key>\S+)", message.body)
    assert match, message.body
    return match["key"]


def test_sign_up_emails_a_link_that_verifies_the_address(api_client, mailoutbox):
    body = {"username": "ada", "email": "ada@example.com", "password": "a-long-enough-passphrase"}
    api_client.post(reverse("register"), body, format="json")
    before = api_client.get(reverse("me")).json()["email_verified"]

    verified = APIClient().post(reverse("email-verify"), {"key": _verification_key(mailoutbox[0])}, format="json")

    assert [m.to for m in mailoutbox] == [["ada@example.com"]]
    assert before is False
    assert verified.status_code == 204
    assert api_client.get(reverse("me")).json()["email_verified"] is True


def test_a_verification_link_expires_and_a_forged_one_is_refused(api_client, mailoutbox, settings):
    user = UserFactory(email_verified=False)
    browser = _logged_in_browser(user)
    browser.post(reverse("email-resend"))
    key = _verification_key(mailoutbox[0])

    with freeze_time(timezone.now() + timedelta(hours=settings.EMAIL_VERIFICATION_MAX_AGE_HOURS, minutes=1)):
        expired = APIClient().post(reverse("email-verify"), {"key": key}, format="json")
    forged = APIClient().post(reverse("email-verify"), {"key": key[:-2] + "xx"}, format="json")

    assert expired.status_code == 400 and "key" in expired.json()
    assert forged.status_code == 400 and "key" in forged.json()
    assert browser.get(reverse("me")).json()["email_verified"] is False


def test_no_reset_email_goes_to_an_unverified_address(mailoutbox):
    user = UserFactory(email_verified=False)

    response = APIClient().post(reverse("password-reset"), {"email": user.email}, format="json")

    assert (response.status_code, response.json()) == (202, {"detail": RESET_ANSWER})
    assert mailoutbox == []


def test_an_account_email_waits_in_the_outbox_when_it_cannot_be_handed_over(api_client, broker_down, mailoutbox):
    current_app.conf.task_always_eager = False  # through the broker, which is down, as in production
    body = {"username": "ada", "email": "ada@example.com", "password": "a-long-enough-passphrase"}

    response = api_client.post(reverse("register"), body, format="json")

    # The sign-up does not wait for the broker nor for the SMTP server: the sweeper sends the row later.
    assert response.status_code == 201, response.content
    row = Notification.objects.get(user__username="ada")
    assert (row.kind, row.status, row.to_email, row.payment, row.enqueued_at) == (
        "email_verification", "pending", "ada@example.com", None, None
    )  # fmt: skip
    assert mailoutbox == []


def test_an_account_emails_link_is_sent_but_never_stored_nor_shown(mailoutbox, operator_client):
    user = UserFactory()
    APIClient().post(reverse("password-reset"), {"email": user.email}, format="json")
    link = "/reset-password/{uid}/{token}".format(**_reset_link_parts(mailoutbox[0]))
    row = Notification.objects.get(user=user, kind="password_reset")

    page = operator_client.get(reverse("admin:payments_notification_change", args=[row.pk]))

    assert row.status == "sent" and mailoutbox[0].extra_headers["Message-ID"] == row.message_id
    assert link not in row.body_text + row.body_html
    assert WITHHELD_LINK in row.body_text
    assert page.status_code == 200
    assert link not in page.content.decode() and "reset-password/" not in page.content.decode()
