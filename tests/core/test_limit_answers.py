"""Every limit answers the same way: 429, Retry-After in whole seconds, and a `detail` that says the same
wait in words (what the interface shows comes from the header, what a script reads from the body)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from core.limits import wait_in_words

pytestmark = pytest.mark.django_db

LIMITS = [
    # (throttle scope, URL name, signed in, body): the body may be refused; the budget is spent all the same
    ("register", "register", False, {"username": "ada", "email": "ada@example.com", "password": "x"}),
    ("auth", "login", False, {"username": "ada", "password": "wrong"}),
    ("auth", "token", False, {"username": "ada", "password": "wrong"}),
    ("auth", "password-change", True, {"old_password": "wrong", "new_password": "x"}),
    ("auth", "password-reset-confirm", False, {"uid": "x", "token": "x", "new_password": "x"}),
    ("password_reset", "password-reset", False, {"email": "ada@example.com"}),
    ("verification_email", "email-resend", True, {}),
    ("event_create", "event-list", True, {"title": ""}),
    ("checkout", "create-payment-intent", True, {"event_id": 10**9}),
    ("csp_report", "csp-report", False, {}),
]


@pytest.mark.parametrize(("scope", "name", "signed_in", "body"), LIMITS, ids=[limit[1] for limit in LIMITS])
def test_a_spent_budget_says_when_to_try_again_in_the_header_and_in_words(
    monkeypatch, user, scope, name, signed_in, body
):
    # given: a budget of one request an hour
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, scope: "1/hour"})
    client = APIClient()
    if signed_in:
        client.force_authenticate(user)

    # when
    first = client.post(reverse(name), body, format="json")
    second = client.post(reverse(name), body, format="json")

    # then
    assert first.status_code != 429
    assert second.status_code == 429
    retry_after = int(second["Retry-After"])
    assert 3500 < retry_after <= 3600
    assert second.json() == {"detail": f"Too many requests: try again in {wait_in_words(retry_after)}."}


def test_a_database_that_refuses_mid_request_answers_503_saying_when_to_try_again(monkeypatch):
    # given: the database connection is cut as the public list reads (a restart, an operator's terminate)
    from django.db import OperationalError

    from events import views

    def cut():
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(views, "event_list_public", cut)

    # when
    response = APIClient().get(reverse("public-event-list"))

    # then
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert response.json() == {"detail": "The service is temporarily unavailable; please retry."}
