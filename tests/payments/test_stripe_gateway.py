"""The gateway against localstripe: what the rest of EventPay sees of Stripe (plain data, two error kinds)."""

import json
import time

import pytest

from offline.net import free_port
from payments import stripe_gateway
from payments.stripe_gateway import StripeIntent
from tests.conftest import paid_payment
from tests.factories import thin_event_body

pytestmark = pytest.mark.usefixtures("localstripe")


def _create(**metadata) -> StripeIntent:
    return stripe_gateway.create_payment_intent(
        amount=1500, currency="usd", metadata={"payment_id": "1", **metadata}, idempotency_key=f"test-{time.time_ns()}"
    )


def test_a_created_intent_carries_amount_currency_metadata_and_a_client_secret():
    intent = _create(event_id="7")

    assert intent.id.startswith("pi_") and intent.client_secret.startswith(f"{intent.id}_secret_")
    assert (intent.amount, intent.currency, intent.status) == (1500, "usd", "requires_payment_method")
    assert intent.metadata == {"payment_id": "1", "event_id": "7"}
    assert stripe_gateway.intent_accepts_payment(intent)


def test_retrieve_and_cancel_answer_the_intents_current_state():
    created = _create()

    canceled = stripe_gateway.cancel_payment_intent(created.id)

    assert canceled.status == "canceled"
    assert stripe_gateway.retrieve_payment_intent(created.id).status == "canceled"
    assert not stripe_gateway.intent_accepts_payment(canceled)


def test_an_unknown_intent_is_a_refusal_not_a_transient_error():
    with pytest.raises(stripe_gateway.StripeGatewayError) as raised:
        stripe_gateway.retrieve_payment_intent("pi_nobody_made")

    assert not isinstance(raised.value, stripe_gateway.TransientStripeError)


def test_an_unreachable_stripe_is_a_transient_error(settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(stripe_gateway.TransientStripeError):
        stripe_gateway.retrieve_payment_intent("pi_any")


def test_an_intent_reads_the_shapes_of_stripe_and_of_the_stand_in():
    pinned = StripeIntent.from_dict({"id": "pi_1", "status": "succeeded", "amount": 1500, "amount_received": 1500,
                                     "currency": "USD", "metadata": {"payment_id": 3}})  # fmt: skip
    # localstripe: no amount_received, amounts sometimes as strings, a declined attempt's error
    stand_in = StripeIntent.from_dict({"id": "pi_2", "status": "succeeded", "amount": "1500", "currency": "usd"})
    declined = StripeIntent.from_dict({"id": "pi_3", "status": "requires_payment_method", "amount": 1500,
                                       "last_payment_error": {"message": "Your card was declined."}})  # fmt: skip

    assert (pinned.amount_received, pinned.currency, pinned.metadata) == (1500, "usd", {"payment_id": "3"})
    assert (stand_in.amount, stand_in.amount_received) == (1500, 1500)
    assert (declined.amount_received, declined.last_error) == (0, "Your card was declined.")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"object": "payment_intent", "id": "pi_1"}, "pi_1"),
        ({"object": "charge", "id": "ch_1", "payment_intent": "pi_2"}, "pi_2"),
        ({"object": "charge", "id": "ch_1", "payment_intent": {"id": "pi_3", "object": "payment_intent"}}, "pi_3"),
        ({"object": "refund", "id": "re_1", "payment_intent": None}, ""),
        ({"object": "customer", "id": "cus_1"}, ""),
    ],
)
def test_the_payment_intent_an_object_is_about(obj, expected):
    assert stripe_gateway.payment_intent_id_of(obj) == expected


def test_a_header_signed_like_stripe_verifies_and_returns_the_event(settings):
    payload = '{"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {"id": "cus_1"}}}'
    header = stripe_gateway.sign_payload(payload, settings.STRIPE_WEBHOOK_SECRETS[-1])

    event = stripe_gateway.verify_webhook(payload.encode(), header)

    assert (event["id"], event["type"]) == ("evt_1", "customer.created")


def test_a_header_signed_with_another_secret_is_refused():
    payload = '{"id": "evt_1", "object": "event", "type": "customer.created", "data": {"object": {}}}'

    with pytest.raises(stripe_gateway.InvalidWebhook, match="No signature matches"):
        stripe_gateway.verify_webhook(payload.encode(), stripe_gateway.sign_payload(payload, "whsec_someone_else"))


def test_a_thin_notification_signed_like_stripe_verifies_and_names_its_related_object(settings):
    # given: Stripe's shape (tests/fixtures/thin_events/), signed with the second thin secret
    settings.STRIPE_THIN_WEBHOOK_SECRETS = ["whsec_thin_new", "whsec_thin_old"]
    body = thin_event_body("v1.charge.refunded", related_object_id="ch_1")
    payload = json.dumps(body)

    # when
    notification = stripe_gateway.verify_event_notification(
        payload.encode(), stripe_gateway.sign_payload(payload, "whsec_thin_old")
    )

    # then
    assert notification == stripe_gateway.EventNotification(
        id=body["id"], type="v1.charge.refunded", livemode=False, related_object_type="charge", related_object_id="ch_1"
    )


def test_a_thin_notification_is_not_verified_with_the_snapshot_secrets(settings):
    settings.STRIPE_THIN_WEBHOOK_SECRETS = ["whsec_thin_new"]
    payload = json.dumps(thin_event_body("v1.charge.refunded"))

    with pytest.raises(stripe_gateway.InvalidWebhook, match="No signature matches"):
        stripe_gateway.verify_event_notification(
            payload.encode(), stripe_gateway.sign_payload(payload, settings.STRIPE_WEBHOOK_SECRETS[0])
        )


@pytest.mark.django_db
def test_a_thin_events_related_payment_intent_and_charge_are_fetched_as_they_are_now(webhooks_off):
    # given: an intent paid, then refunded, at localstripe
    payment, intent = paid_payment()
    charge_id = stripe_gateway.retrieve_object(object_type="payment_intent", object_id=intent["id"])["latest_charge"]
    charge_id = charge_id["id"] if isinstance(charge_id, dict) else charge_id  # localstripe expands it
    stripe_gateway.client().v1.refunds.create({"payment_intent": intent["id"]})

    # when
    fetched_intent = stripe_gateway.retrieve_object(object_type="payment_intent", object_id=intent["id"])
    fetched_charge = stripe_gateway.retrieve_object(object_type="charge", object_id=charge_id)

    # then: plain dicts, shaped as a snapshot event's data.object
    assert (fetched_intent["object"], fetched_intent["status"]) == ("payment_intent", "succeeded")
    assert fetched_intent["metadata"]["payment_id"] == str(payment.pk)
    assert (fetched_charge["object"], fetched_charge["refunded"]) == ("charge", True)
    assert stripe_gateway.payment_intent_id_of(fetched_charge) == intent["id"]


def test_only_payment_intents_charges_and_disputes_are_fetched():
    with pytest.raises(stripe_gateway.StripeGatewayError, match="does not fetch event_destination"):
        stripe_gateway.retrieve_object(object_type="event_destination", object_id="ed_1")
