"""The thin-event webhook (an event destination's): every answer of the contract, as the snapshot webhook.
It verifies (stripe-python's `parse_event_notification`), stores in the same inbox and enqueues; nothing else."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from payments import stripe_gateway
from payments.models import Payment, StripeEvent
from payments.services import fulfilment
from tests.factories import PaymentFactory, payment_intent_object, stripe_event_body, thin_event_body

pytestmark = pytest.mark.django_db

URL = reverse("stripe-thin-webhook")
SECRET = "whsec_thin_current"


@pytest.fixture(autouse=True)
def thin_secrets(settings):
    settings.STRIPE_THIN_WEBHOOK_SECRETS = [SECRET, "whsec_thin_previous"]


@pytest.fixture
def stripe_client():
    # enforce_csrf_checks: the webhook must not need a CSRF token even where CSRF is enforced.
    return Client(enforce_csrf_checks=True)


def _post(client, body, *, secret=SECRET, skew=0, signature=None, raw=None):
    # The signing time is taken when the request is made, never at collection: the suite takes minutes.
    payload = raw if raw is not None else json.dumps(body)
    header = (
        signature if signature is not None else stripe_gateway.sign_payload(payload, secret, int(time.time()) + skew)
    )
    return client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def test_signed_notification_is_stored_raw_with_its_related_object_and_enqueued(stripe_client, enqueued):
    # given: Stripe's shape, about one of our PaymentIntents
    payment = PaymentFactory()
    body = thin_event_body("v1.payment_intent.succeeded", related_object_id=payment.payment_intent_id)
    raw = json.dumps(body, indent=2)

    # when
    response = _post(stripe_client, None, raw=raw)

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": False}
    row = StripeEvent.objects.get()
    assert row.stripe_id == body["id"]
    assert row.kind == StripeEvent.Kind.THIN
    assert row.type == "v1.payment_intent.succeeded"
    assert (row.related_object_type, row.related_object_id) == ("payment_intent", payment.payment_intent_id)
    assert row.payment_intent_id == payment.payment_intent_id  # found by the admin's pi_ search
    assert row.api_version == ""  # thin events are unversioned
    assert row.payload == raw
    assert row.status == StripeEvent.Status.ENQUEUED and row.enqueued_at is not None
    assert enqueued == [row.pk]
    # The view never touches the ledger.
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING


def test_a_charge_notification_keeps_the_charge_and_no_payment_intent_yet(stripe_client, enqueued):
    body = thin_event_body("v1.charge.refunded", related_object_id="ch_3MmlLrLkdIwHu7ix0snN0B15")

    response = _post(stripe_client, body)

    assert response.status_code == 200
    row = StripeEvent.objects.get()
    assert (row.related_object_type, row.related_object_id) == ("charge", "ch_3MmlLrLkdIwHu7ix0snN0B15")
    assert row.payment_intent_id == ""


def test_duplicate_delivery_answers_200_and_stores_nothing_more(stripe_client, enqueued):
    body = thin_event_body("v1.payment_intent.succeeded")

    first = _post(stripe_client, body)
    second = _post(stripe_client, body)

    assert first.status_code == second.status_code == 200
    assert second.json() == {"received": True, "duplicate": True}
    assert StripeEvent.objects.count() == 1
    assert len(enqueued) == 1


def test_notification_signed_with_the_previous_secret_is_accepted_during_rotation(stripe_client, enqueued):
    body = thin_event_body("v1.payment_intent.succeeded")

    response = _post(stripe_client, body, secret="whsec_thin_previous")

    assert response.status_code == 200
    assert StripeEvent.objects.filter(stripe_id=body["id"]).exists()


def test_the_destination_ping_is_answered_200_recorded_and_closed_as_ignored(stripe_client, enqueued):
    # given: verbatim from Stripe's API reference, but for a fresh id
    body = thin_event_body("v2.core.event_destination.ping")

    # when
    response = _post(stripe_client, body)
    status = fulfilment.process_stripe_event(stripe_event_id=enqueued[0])

    # then
    assert response.status_code == 200
    row = StripeEvent.objects.get()
    assert (row.type, row.related_object_type) == ("v2.core.event_destination.ping", "event_destination")
    assert status == row.status == StripeEvent.Status.IGNORED


@pytest.mark.parametrize(
    "event_type",
    ["v1.billing.meter.error_report_triggered", "v2.core.something_stripe_adds_next_year"],
    ids=["known-to-the-sdk", "unknown-to-the-sdk"],
)
def test_a_type_eventpay_does_not_act_on_is_stored_then_ignored(stripe_client, enqueued, event_type):
    # given: one the SDK has a class for, and one it parses as an UnknownEventNotification
    body = {**thin_event_body("v1.billing.meter.error_report_triggered"), "type": event_type}

    # when
    response = _post(stripe_client, body)
    status = fulfilment.process_stripe_event(stripe_event_id=enqueued[0])

    # then
    assert response.status_code == 200, response.content
    assert StripeEvent.objects.get().type == event_type
    assert status == StripeEvent.Status.IGNORED


def test_an_unknown_type_without_a_related_object_is_stored_too(stripe_client, enqueued):
    body = thin_event_body("v1.billing.meter.error_report_triggered")
    body.update(type="v2.core.account_link.returned", related_object=None)

    response = _post(stripe_client, body)

    assert response.status_code == 200, response.content
    row = StripeEvent.objects.get()
    assert (row.related_object_type, row.related_object_id) == ("", "")


def test_with_no_thin_secret_configured_every_delivery_is_refused(stripe_client, enqueued, settings):
    # given: the event destination is not set up here (the snapshot endpoint's secrets do not count)
    settings.STRIPE_THIN_WEBHOOK_SECRETS = []
    body = thin_event_body("v1.payment_intent.succeeded")

    # when
    response = _post(stripe_client, body, secret=settings.STRIPE_WEBHOOK_SECRETS[0])

    # then
    assert response.status_code == 400
    assert "No thin-event webhook secret" in response.json()["detail"]
    assert StripeEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signature": ""}, "Missing Stripe-Signature"),
        ({"secret": "whsec_someone_else"}, "No signature matches"),
        ({"secret": "whsec_test_current"}, "No signature matches"),  # the snapshot endpoint's secret
        ({"signature": "t=not-a-number,v1=abc"}, "timestamp"),
        ({"signature": "v1=abc"}, "timestamp"),
        ({"skew": -400}, "tolerance"),
        ({"skew": 400}, "tolerance"),
    ],
)
def test_bad_signatures_are_refused_with_400(stripe_client, enqueued, kwargs, message):
    body = thin_event_body("v1.payment_intent.succeeded")

    response = _post(stripe_client, body, **kwargs)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert StripeEvent.objects.count() == 0
    assert enqueued == []


def test_a_snapshot_event_sent_to_the_thin_endpoint_is_refused_with_the_sdks_reason(stripe_client, enqueued):
    # given: a webhook endpoint's event, signed with the thin secret (a destination of the wrong payload kind)
    body = stripe_event_body("payment_intent.succeeded", payment_intent_object(PaymentFactory()))

    # when
    response = _post(stripe_client, body)

    # then
    assert response.status_code == 400
    assert "construct_event" in response.json()["detail"]
    assert StripeEvent.objects.count() == 0


def _without_related_object(body: dict) -> dict:
    del body["related_object"]
    return body


@pytest.mark.parametrize(
    "raw",
    [
        "not json at all",
        "[1, 2, 3]",
        json.dumps({"id": "evt_1", "object": "v2.core.event", "type": "v1.payment_intent.succeeded"}),
        json.dumps(_without_related_object(thin_event_body("v1.payment_intent.succeeded"))),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "related_object": "pi_1"}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "related_object": {"id": "pi_1"}}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "id": 5}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "id": ""}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "type": ["v1"]}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "context": 7}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "object": "charge"}),
        json.dumps({**thin_event_body("v1.payment_intent.succeeded"), "reason": {"type": "request"}}),
    ],
)
def test_correctly_signed_body_that_is_not_a_thin_event_is_refused(stripe_client, enqueued, raw):
    response = _post(stripe_client, None, raw=raw)

    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert StripeEvent.objects.count() == 0


@pytest.mark.parametrize("field", ["id", "type", "related_object"])
def test_signed_notification_with_text_postgresql_cannot_store_is_refused_not_503(stripe_client, enqueued, field):
    body = thin_event_body("v1.payment_intent.succeeded")
    if field == "related_object":
        body["related_object"]["id"] += "\u0000"
    else:
        body[field] = f"{body[field]}\ud800"

    response = _post(stripe_client, body)

    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_body_that_is_not_utf8_is_refused(stripe_client, enqueued):
    raw = b'{"id": "evt_\xff"}'
    header = f"t={int(time.time())},v1={'0' * 64}"

    response = stripe_client.post(URL, data=raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)

    assert response.status_code == 400


def test_body_over_one_mebibyte_is_refused_with_413(stripe_client, enqueued):
    body = {**thin_event_body("v1.payment_intent.succeeded"), "pad": "x" * (1024 * 1024)}

    response = _post(stripe_client, body)

    assert response.status_code == 413
    assert StripeEvent.objects.count() == 0


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post_is_allowed(stripe_client, method):
    response = getattr(stripe_client, method)(URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["detail"]


@pytest.mark.django_db(transaction=True)  # the webhook's own path: the group insert commits the row
def test_broker_down_still_acknowledges_a_stored_notification(stripe_client, broker_down):
    body = thin_event_body("v1.payment_intent.succeeded")

    response = _post(stripe_client, body)

    # Stored, left in `received` for the sweeper.
    assert response.status_code == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.RECEIVED


def test_a_database_that_cannot_store_answers_503_so_stripe_retries(stripe_client, enqueued):
    # given: PostgreSQL refuses every statement of this connection's transaction (it is aborted)
    from django.db import DataError, connection

    with pytest.raises(DataError), connection.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
    body = thin_event_body("v1.payment_intent.succeeded")

    # when
    response = _post(stripe_client, body)

    # then
    assert response.status_code == 503
    assert response.json()["detail"] == "Could not store the event; please retry."
    assert enqueued == []
