"""Fulfilment's guards for the other Stripe mode, and lost disputes (deactivated like a refund), told by a
snapshot event or by a thin one."""

import pytest

from payments import stripe_gateway
from payments.consts import StripeEventType
from payments.models import Payment, StripeEvent
from payments.services import fulfilment
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event, stored_thin_event

pytestmark = pytest.mark.django_db


def _live_payment() -> Payment:
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    fulfilment.process_stripe_event(stripe_event_id=row.pk)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active
    return payment


@pytest.mark.parametrize(
    ("key", "event_livemode", "named"),
    [("sk_offline_eventpay", True, "live-mode"), ("sk_live_eventpay", False, "test-mode")],
    ids=["live-event-on-a-test-key", "test-event-on-a-live-key"],
)
def test_an_event_of_the_other_mode_is_stored_and_ignored_with_a_reason(settings, caplog, key, event_livemode, named):
    # given: a correctly signed event of the other mode (a test endpoint's events sent to production)
    settings.STRIPE_SECRET_KEY = key
    payment = PaymentFactory()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment), livemode=event_livemode
    )

    # when
    status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then: kept for operators, never applied
    row.refresh_from_db()
    payment.refresh_from_db()
    assert status == row.status == StripeEvent.Status.IGNORED
    assert f"A {named} event" in caplog.text
    assert payment.status == Payment.Status.PENDING and payment.event.is_active is False


def _dispute(payment: Payment, status: str) -> dict:
    return {
        "id": "dp_test",
        "object": "dispute",
        "status": status,
        "amount": payment.amount,
        "charge": "ch_test",
        "payment_intent": payment.payment_intent_id,
        "reason": "fraudulent",
    }


def test_a_lost_dispute_deactivates_the_event_like_a_refund():
    # given
    payment = _live_payment()

    # when
    row = stored_stripe_event(StripeEventType.CHARGE_DISPUTE_CLOSED, _dispute(payment, "lost"))
    status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then
    payment.refresh_from_db()
    assert status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.REFUNDED
    assert payment.event.is_active is False


@pytest.mark.parametrize("status", ["won", "warning_closed"])
def test_a_dispute_closed_otherwise_leaves_the_event_live(status):
    payment = _live_payment()

    row = stored_stripe_event(StripeEventType.CHARGE_DISPUTE_CLOSED, _dispute(payment, status))
    outcome = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    payment.refresh_from_db()
    assert outcome == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active is True


def test_a_thin_dispute_closed_as_lost_fetches_the_dispute_and_deactivates_the_event(monkeypatch):
    # given: an event destination's notification names the dispute, which Stripe answers lost (the offline
    # stand-in has no disputes: the answer is the dispute as Stripe renders it)
    payment = _live_payment()
    fetched: list[tuple[str, str]] = []

    def retrieve(*, object_type: str, object_id: str) -> dict:
        fetched.append((object_type, object_id))
        return _dispute(payment, "lost")

    monkeypatch.setattr(stripe_gateway, "retrieve_object", retrieve)
    row = stored_thin_event(StripeEventType.thin(StripeEventType.CHARGE_DISPUTE_CLOSED), related_object_id="dp_test")

    # when
    status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then: the same handler as the snapshot's; the row names the payment's intent for the admin's search
    payment.refresh_from_db()
    row.refresh_from_db()
    assert fetched == [("dispute", "dp_test")]
    assert status == StripeEvent.Status.PROCESSED and row.payment_intent_id == payment.payment_intent_id
    assert payment.status == Payment.Status.REFUNDED and payment.event.is_active is False


def test_the_webhook_endpoint_is_subscribed_to_dispute_closings():
    assert StripeEventType.CHARGE_DISPUTE_CLOSED in fulfilment.HANDLERS
