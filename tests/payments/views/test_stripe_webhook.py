"""The webhook view: every answer of the contract. It verifies, stores and enqueues; nothing else."""

import json
import time

import pytest
from celery.signals import after_task_publish, before_task_publish
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client, RequestFactory
from django.urls import reverse

from payments import stripe_gateway
from payments.models import Payment, StripeEvent
from payments.services import inbox
from tests.factories import PaymentFactory, payment_intent_object, stripe_event_body

pytestmark = pytest.mark.django_db

URL = reverse("stripe-webhook")


@pytest.fixture
def stripe_client():
    # enforce_csrf_checks: the webhook must not need a CSRF token even where CSRF is enforced.
    return Client(enforce_csrf_checks=True)


def _post(client, body, *, secret="whsec_test_current", skew=0, signature=None, raw=None):
    # The signing time is taken when the request is made, never at collection: the suite takes minutes.
    payload = raw if raw is not None else json.dumps(body)
    header = (
        signature if signature is not None else stripe_gateway.sign_payload(payload, secret, int(time.time()) + skew)
    )
    return client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def test_signed_event_is_stored_raw_and_enqueued(stripe_client, enqueued):
    # given
    payment = PaymentFactory()
    body = stripe_event_body("payment_intent.succeeded", payment_intent_object(payment))
    raw = json.dumps(body, indent=2)

    # when
    response = _post(stripe_client, None, raw=raw)

    # then
    assert response.status_code == 200, response.content
    row = StripeEvent.objects.get()
    assert row.stripe_id == body["id"]
    assert row.type == "payment_intent.succeeded"
    assert row.payload == raw
    assert row.payment_intent_id == payment.payment_intent_id
    assert row.api_version == "2026-10-28.endive"
    assert row.status == StripeEvent.Status.ENQUEUED and row.enqueued_at is not None
    assert enqueued == [row.pk]
    # The view never touches the ledger.
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_duplicate_delivery_answers_200_and_stores_nothing_more(stripe_client, enqueued):
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})

    first = _post(stripe_client, body)
    second = _post(stripe_client, body)

    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert StripeEvent.objects.count() == 1
    assert len(enqueued) == 1


def test_event_signed_with_the_previous_secret_is_accepted_during_rotation(stripe_client, enqueued):
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})

    response = _post(stripe_client, body, secret="whsec_test_previous")

    assert response.status_code == 200
    assert StripeEvent.objects.filter(stripe_id=body["id"]).exists()


def test_type_the_app_ignores_is_still_stored_and_acknowledged(stripe_client, enqueued):
    body = stripe_event_body("customer.created", {"id": "cus_1", "object": "customer"})

    response = _post(stripe_client, body)

    assert response.status_code == 200
    assert StripeEvent.objects.get().type == "customer.created"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signature": ""}, "Missing Stripe-Signature"),
        ({"secret": "whsec_someone_else"}, "No signature matches"),
        ({"signature": "t=not-a-number,v1=abc"}, "timestamp"),
        ({"signature": "v1=abc"}, "timestamp"),
        ({"skew": -400}, "tolerance"),
        ({"skew": 400}, "tolerance"),
    ],
)
def test_bad_signatures_are_refused_with_400(stripe_client, enqueued, kwargs, message):
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    response = _post(stripe_client, body, **kwargs)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert StripeEvent.objects.count() == 0
    assert enqueued == []


@pytest.mark.parametrize(
    "raw",
    [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"id": "evt_1", "object": "event", "type": "x"}),
        json.dumps({"id": "evt_1", "object": "charge", "type": "x", "data": {"object": {}}}),
        json.dumps({"id": 5, "object": "event", "type": "x", "data": {"object": {}}}),
        json.dumps({"id": "evt_1", "object": "event", "type": "x", "data": {"object": "nope"}}),
    ],
)
def test_correctly_signed_body_that_is_not_a_stripe_event_is_refused(stripe_client, enqueued, raw):
    response = _post(stripe_client, None, raw=raw)

    assert response.status_code == 400
    assert response.json()["detail"]
    assert StripeEvent.objects.count() == 0


def test_body_that_is_not_utf8_is_refused(stripe_client, enqueued):
    raw = b'{"id": "evt_\xff"}'
    header = f"t={int(time.time())},v1={'0' * 64}"

    response = stripe_client.post(URL, data=raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    assert response.status_code == 400


def test_body_over_one_mebibyte_is_refused_with_413(stripe_client, enqueued):
    body = stripe_event_body(
        "payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent", "pad": "x" * (1024 * 1024)}
    )

    response = _post(stripe_client, body)

    assert response.status_code == 413
    assert StripeEvent.objects.count() == 0


def test_only_post_is_allowed(stripe_client):
    assert stripe_client.get(URL).status_code == 405


@pytest.mark.django_db(transaction=True)  # the webhook's own path: the group insert commits the row
def test_broker_down_still_acknowledges_a_stored_event(stripe_client, broker_down):
    # given: publishing fails (the chaos tests stop a real Redis; here the broker call itself raises)
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})

    # when
    response = _post(stripe_client, body)

    # then: stored, left in `received` for the sweeper
    assert response.status_code == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.RECEIVED


@pytest.mark.parametrize("field", ["id", "type", "api_version"])
def test_signed_event_with_text_postgresql_cannot_store_is_refused_not_503(stripe_client, enqueued, field):
    # Found by the fuzz test: a NUL escape in a stored field made the insert fail with a 503, and Stripe retries those.
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    body[field] = f"{body[field]}\u0000"

    response = _post(stripe_client, body)

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_since_its_last_use_is_replaced_not_answered_503(enqueued):
    # given: this thread's database connection was cut behind Django's back (a restart, a network cut)
    from django.db import connection

    connection.ensure_connection()
    connection.connection.close()
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    payload = json.dumps(body)
    request = RequestFactory().post(
        URL, data=payload, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_gateway.sign_payload(payload, "whsec_test_current"),
    )  # fmt: skip

    # when: the delivery goes through Django's WSGI handler as gunicorn calls it (the test client skips the
    # start-of-request connection handling that arms Django's health check)
    response = WSGIHandler()(request.environ, lambda status, headers: None)
    response.close()

    # then
    assert response.status_code == 200, response.content
    assert StripeEvent.objects.filter(stripe_id=body["id"]).exists()


def test_the_enqueue_goes_through_celerys_publish_with_its_signals(stripe_client):
    # given: receivers on Celery's publish signals, as tracing and error-reporting integrations connect them
    published: list[tuple[str, str, object]] = []

    def before(sender, headers, body, exchange, routing_key, **kwargs):
        published.append(("before", sender, list(body[0])))

    def after(sender, headers, body, exchange, routing_key, **kwargs):
        published.append(("after", sender, list(body[0])))

    before_task_publish.connect(before)
    after_task_publish.connect(after)
    body = stripe_event_body("customer.created", {"id": "cus_1", "object": "customer"})

    # when: a delivery is stored and handed to the real broker
    try:
        response = _post(stripe_client, body)
    finally:
        before_task_publish.disconnect(before)
        after_task_publish.disconnect(after)

    # then: both signals fired once, for the message carrying the inbox row
    assert response.status_code == 200
    row = StripeEvent.objects.get(stripe_id=body["id"])
    assert published == [
        ("before", "worker.tasks.process_stripe_events", [[row.pk]]),
        ("after", "worker.tasks.process_stripe_events", [[row.pk]]),
    ]
    assert row.status == StripeEvent.Status.ENQUEUED


def test_a_database_that_cannot_store_the_event_answers_503_saying_when_to_try_again(stripe_client, monkeypatch):
    # given: PostgreSQL refuses the insert (a restart, a full disk)
    from django.db import OperationalError

    def refuse(row):
        raise OperationalError("the database system is starting up")

    monkeypatch.setattr(inbox.stripe_events_group_commit, "store", refuse)
    body = stripe_event_body("customer.created", {"id": "cus_1", "object": "customer"})

    # when
    response = _post(stripe_client, body)

    # then: Stripe retries it later; nothing was stored
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert not StripeEvent.objects.filter(stripe_id=body["id"]).exists()
