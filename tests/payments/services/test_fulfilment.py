"""Unit tests of fulfilment: each handler, applied to stored inbox rows, called directly."""

import pytest

from events.models import Event
from payments.consts import StripeEventType
from payments.models import Payment, StripeEvent
from payments.services import fulfilment
from tests.factories import (
    PaymentFactory,
    declined_intent_object,
    payment_intent_object,
    refunded_charge_object,
    stored_stripe_event,
)

pytestmark = pytest.mark.django_db


def _process(event_type: str, data_object: dict) -> StripeEvent:
    row = stored_stripe_event(event_type, data_object)
    fulfilment.process_stripe_event(stripe_event_id=row.pk)
    row.refresh_from_db()
    return row


def test_succeeded_marks_payment_succeeded_and_activates_event():
    # given
    payment = PaymentFactory()

    # when
    row = _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    # then
    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.attempts == 1 and row.processed_at is not None
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.event.is_active is True
    assert payment.event.activated_at is not None


def test_processing_the_same_row_twice_changes_nothing_the_second_time():
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    fulfilment.process_stripe_event(stripe_event_id=row.pk)
    payment.event.refresh_from_db()
    activated_at = payment.event.activated_at

    # when
    status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then
    row.refresh_from_db()
    payment.event.refresh_from_db()
    assert status == StripeEvent.Status.PROCESSED
    assert row.attempts == 1
    assert payment.event.activated_at == activated_at


def test_a_second_succeeded_event_for_the_same_intent_keeps_the_first_activation():
    payment = PaymentFactory()
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    payment.event.refresh_from_db()
    first_activation = payment.event.activated_at

    row = _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    payment.event.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.event.activated_at == first_activation


def test_payment_failed_records_stripes_message():
    payment = PaymentFactory()

    row = _process(StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED, declined_intent_object(payment))

    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.FAILED
    assert payment.last_error == "Your card was declined."
    assert payment.event.is_active is False


def test_payment_failed_after_succeeded_keeps_the_payment_succeeded():
    payment = PaymentFactory()
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    row = _process(StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED, declined_intent_object(payment))

    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.last_error == ""
    assert payment.event.is_active is True


def test_succeeded_after_failed_is_a_new_attempt_that_succeeds():
    payment = PaymentFactory()
    _process(StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED, declined_intent_object(payment))

    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.last_error == ""
    assert payment.event.is_active is True


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount_received": 100, "amount": 100}, "Amount received 100"),
        ({"currency": "eur"}, "Currency 'eur'"),
        ({"metadata": {"payment_id": "999999", "event_id": "1"}}, "Metadata"),
        ({"metadata": {}}, "Metadata"),
    ],
)
def test_succeeded_that_does_not_match_the_payment_is_not_activated(overrides, reason):
    # given
    payment = PaymentFactory()

    # when
    row = _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment, **overrides))

    # then
    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.FAILED
    assert reason in row.last_error
    assert payment.status == Payment.Status.PENDING
    assert reason in payment.last_error
    assert payment.event.is_active is False


def test_localstripe_shaped_succeeded_event_without_amount_received_is_accepted():
    # localstripe's events carry no amount_received and latest_charge as an object.
    payment = PaymentFactory()
    obj = payment_intent_object(payment, latest_charge={"id": "ch_1", "object": "charge"})
    del obj["amount_received"]

    row = _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, obj)

    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED


def test_intent_that_is_not_ours_is_ignored():
    payment = PaymentFactory.build(payment_intent_id="pi_someone_elses", pk=424242, event_id=1)

    row = _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    assert row.status == StripeEvent.Status.IGNORED
    assert Payment.objects.filter(payment_intent_id="pi_someone_elses").exists() is False


def test_event_type_without_a_handler_is_ignored():
    row = _process("customer.created", {"id": "cus_1", "object": "customer"})

    assert row.status == StripeEvent.Status.IGNORED
    assert row.last_error == ""


def test_processing_moves_a_failed_payment_back_to_pending():
    payment = PaymentFactory(status=Payment.Status.FAILED, last_error="Your card was declined.")

    _process(StripeEventType.PAYMENT_INTENT_PROCESSING, payment_intent_object(payment, status="processing"))

    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert payment.last_error == ""


def test_canceled_cancels_an_open_payment_but_never_a_succeeded_one():
    open_payment = PaymentFactory()
    paid = PaymentFactory()
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(paid))

    _process(StripeEventType.PAYMENT_INTENT_CANCELED, payment_intent_object(open_payment, status="canceled"))
    _process(StripeEventType.PAYMENT_INTENT_CANCELED, payment_intent_object(paid, status="canceled"))

    open_payment.refresh_from_db()
    paid.refresh_from_db()
    assert open_payment.status == Payment.Status.CANCELED
    assert paid.status == Payment.Status.SUCCEEDED
    assert paid.event.is_active is True


def test_full_refund_refunds_the_payment_and_deactivates_the_event():
    payment = PaymentFactory()
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    row = _process(StripeEventType.CHARGE_REFUNDED, refunded_charge_object(payment))

    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.REFUNDED
    assert payment.event.is_active is False


def test_partial_refund_changes_nothing():
    payment = PaymentFactory()
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    row = _process(StripeEventType.CHARGE_REFUNDED, refunded_charge_object(payment, amount_refunded=500))

    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.event.is_active is True


def test_refund_that_overtakes_its_succeeded_event_wins():
    # given: Stripe delivers charge.refunded before payment_intent.succeeded
    payment = PaymentFactory()
    _process(StripeEventType.CHARGE_REFUNDED, refunded_charge_object(payment))

    # when
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    # then
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert payment.event.is_active is False


def test_the_event_follows_its_latest_payment():
    # given
    payment = PaymentFactory()

    # when: declined, then paid
    _process(
        StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED, payment_intent_object(payment, status="requires_payment_method")
    )
    declined = Event.objects.get(pk=payment.event_id)
    _process(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    # then
    paid = Event.objects.get(pk=payment.event_id)
    assert (declined.payment_status, declined.is_active) == (Payment.Status.FAILED, False)
    assert (paid.payment_status, paid.is_active) == (Payment.Status.SUCCEEDED, True)
