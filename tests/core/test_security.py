"""Hardening that holds across the API: CSRF for session clients, throttles, the body limit,
client secrets kept out of logs and of our own URLs."""

import json
import logging
import re

import pytest
from django.http import HttpRequest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from core.logging import JsonFormatter, TextFormatter
from payments import stripe_gateway
from tests.factories import EventFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ONE_MIB = 1024 * 1024


@pytest.fixture
def session_client(user):
    """A browser: logged in with a session cookie, CSRF checks enforced as in production."""
    client = APIClient(enforce_csrf_checks=True)
    # A request for django-axes, which watches every password check (the login lockout).
    client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def _csrf_token(client) -> str:
    client.get(reverse("csrf"))
    return client.cookies["csrftoken"].value


def _unsafe_calls(event_id: int) -> list[tuple[str, dict]]:
    return [
        (reverse("event-list"), {"title": "Launch", "starts_at": "2031-01-01T10:00:00Z"}),
        (reverse("create-payment-intent"), {"event_id": event_id}),
        (reverse("logout"), {}),
    ]


def test_session_clients_need_the_csrf_token_on_every_unsafe_call(session_client, event, webhooks_off):
    for path, body in _unsafe_calls(event.pk):
        # when: no token
        refused = session_client.post(path, body, format="json")

        # then
        assert refused.status_code == 403, (path, refused.content)
        assert "CSRF" in refused.json()["detail"]


def test_with_the_token_the_same_calls_go_through(session_client, event, webhooks_off):
    for path, body in _unsafe_calls(event.pk):
        token = _csrf_token(session_client)
        response = session_client.post(path, body, format="json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code in (200, 201, 204), (path, response.content)


@pytest.mark.parametrize("name", ["login", "register"])
def test_login_and_registration_need_the_csrf_token_too(name, user):
    # given: an anonymous browser (a forged cross-site form would log the victim into the attacker's account)
    client = APIClient(enforce_csrf_checks=True)
    body = {"username": user.username, "password": PASSWORD}
    if name == "register":
        body = {"username": "newcomer", "email": "newcomer@example.com", "password": "a-long-enough-passphrase"}

    # when
    refused = client.post(reverse(name), body, format="json")
    accepted = client.post(reverse(name), body, format="json", HTTP_X_CSRFTOKEN=_csrf_token(client))

    # then
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert accepted.status_code in (200, 201), accepted.content


def test_token_clients_need_no_csrf_token(user, event, webhooks_off):
    # given: a script with `Authorization: Token …` (no cookies, so nothing to forge)
    client = APIClient(enforce_csrf_checks=True)
    token = client.post(reverse("token"), {"username": user.username, "password": PASSWORD}, format="json").json()[
        "token"
    ]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    # when
    response = client.post(reverse("create-payment-intent"), {"event_id": event.pk}, format="json")

    # then
    assert response.status_code == 201, response.content


def test_the_webhook_needs_no_csrf_token_even_from_a_session(session_client):
    # given
    body = json.dumps({"id": "evt_csrf", "object": "event", "type": "customer.created", "data": {"object": {}}})

    # when
    response = session_client.post(
        reverse("stripe-webhook"), body, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_gateway.sign_payload(body, "whsec_test_current"),
    )  # fmt: skip

    # then
    assert response.status_code == 200, response.content


@pytest.fixture
def tight_throttles(monkeypatch):
    # The rates are settings (THROTTLE_AUTH, THROTTLE_CHECKOUT); DRF reads them once, at import.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min", "register": "3/min", "checkout": "3/min"}
    )


@pytest.mark.parametrize("name", ["login", "register", "token"])
def test_auth_endpoints_are_throttled(tight_throttles, name):
    # given
    client = APIClient()
    body = {"username": "nobody", "password": "wrong-password", "email": "not-an-email"}

    # when
    answers = [client.post(reverse(name), body, format="json") for _ in range(4)]

    # then
    assert [a.status_code for a in answers[:3]] == [400, 400, 400]
    assert answers[3].status_code == 429
    assert re.fullmatch(r"Too many requests: try again in (\d+ seconds|1 minute)\.", answers[3].json()["detail"])
    assert int(answers[3]["Retry-After"]) > 0


def test_create_payment_intent_is_throttled_per_user(tight_throttles, auth_client, user, webhooks_off):
    # given
    events = [EventFactory(owner=user) for _ in range(4)]

    # when
    answers = [auth_client.post(reverse("create-payment-intent"), {"event_id": e.pk}, format="json") for e in events]

    # then
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert re.fullmatch(r"Too many requests: try again in (\d+ seconds|1 minute)\.", answers[3].json()["detail"])
    assert int(answers[3]["Retry-After"]) > 0
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.post(reverse("create-payment-intent"), {"event_id": 10**9}, format="json").status_code == 404


@pytest.mark.parametrize(
    "path",
    [reverse("stripe-webhook"), reverse("event-list"), reverse("login"), reverse("create-payment-intent")],
)
def test_bodies_over_one_mebibyte_are_refused_with_413(auth_client, path):
    # given
    body = json.dumps({"title": "x" * ONE_MIB, "starts_at": "2031-01-01T10:00:00Z"})

    # when
    response = auth_client.post(path, body, content_type="application/json")

    # then
    assert response.status_code == 413, response.content[:200]
    assert "detail" in response.json()


def test_client_secrets_stay_out_of_logs_and_of_our_urls(auth_client, event, webhooks_off, caplog):
    # given: everything that handles a client secret, logged at DEBUG through the configured formatter
    caplog.set_level(logging.DEBUG)
    checkout = auth_client.post(reverse("create-payment-intent"), {"event_id": event.pk}, format="json")
    secret = checkout.json()["clientSecret"]
    intent_id = secret.split("_secret_")[0]

    # when: the return page (Stripe puts the secret in its URL) and the offline route read it
    auth_client.get("/payments/status", {"payment_intent": intent_id, "payment_intent_client_secret": secret})
    auth_client.get(reverse("offline-stripe", args=[f"v1/payment_intents/{intent_id}"]), {"client_secret": secret})
    logging.getLogger("django.server").info(
        '"GET /payments/status?payment_intent_client_secret=%s HTTP/1.1" 200', secret
    )

    # then: in either format the product writes logs in
    lines = [formatter.format(record) for record in caplog.records for formatter in (JsonFormatter(), TextFormatter())]
    assert any(intent_id in line for line in lines), "the requests were not logged"
    secret_part = secret.split("_secret_")[1]
    assert not [line for line in lines if secret_part in line]
