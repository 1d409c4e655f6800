"""Operator services, called directly: retry, re-fetch, ignore, reconcile, catch-up, the backlog alert."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from core import offline
from core.exceptions import ApplicationError
from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent
from payments.services import checkout, operations
from tests.conftest import pay_at_localstripe
from tests.factories import EventFactory, PaymentFactory, payment_intent_object, stored_stripe_event

pytestmark = pytest.mark.django_db

ADA = operations.Actor(name="ada")


@pytest.fixture
def broker_down(monkeypatch):
    from kombu.exceptions import OperationalError

    from worker.tasks import process_stripe_event

    def refuse(stripe_event_id):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(process_stripe_event, "delay", refuse)


@pytest.fixture
def offline_stripe(localstripe):
    """localstripe with its webhooks pointed at a closed port: Stripe's events exist but never reach us."""
    localstripe.register_webhook(f"http://127.0.0.1:{offline.free_port()}/api/payments/webhook/", "whsec_unused")
    return localstripe


def _paid_payment(card: str = "4242424242424242") -> tuple[Payment, dict]:
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    status, intent = pay_at_localstripe(started.client_secret, card)
    assert status == 200, intent
    return started.payment, intent


def test_retry_reenqueues_a_failed_row_keeping_its_attempts(enqueued):
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment),
        status=StripeEvent.Status.FAILED, attempts=9, last_error="OperationalError: server closed the connection",
    )  # fmt: skip

    # when
    record = operations.stripe_event_retry(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert enqueued == [row.pk]
    assert row.status == StripeEvent.Status.ENQUEUED and row.attempts == 9
    assert (record.action, record.outcome, record.actor, record.stripe_event) == ("retry", "done", "ada", row)
    assert "9 attempt(s)" in record.detail


def test_retry_leaves_a_processed_row_alone(enqueued):
    # given
    row = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.PROCESSED)

    # when
    record = operations.stripe_event_retry(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert enqueued == [] and row.status == StripeEvent.Status.PROCESSED
    assert record.outcome == OperatorAction.Outcome.SKIPPED and "processed" in record.detail


def test_retry_with_the_broker_down_leaves_the_row_for_the_sweeper(broker_down):
    # given
    row = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED)

    # when
    record = operations.stripe_event_retry(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.RECEIVED
    assert record.outcome == OperatorAction.Outcome.ERROR and "sweeper" in record.detail


def test_retried_row_is_processed_by_fulfilment(enqueued):
    # given
    from payments.services import fulfilment

    payment = PaymentFactory()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment), status=StripeEvent.Status.FAILED, attempts=3
    )
    operations.stripe_event_retry(stripe_event=row, actor=ADA)

    # when
    fulfilment.process_stripe_event(stripe_event_id=enqueued[0])

    # then
    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED and row.attempts == 4
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active


def test_ignore_needs_a_reason():
    # given
    row = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED)

    # when
    with pytest.raises(ApplicationError):
        operations.stripe_event_ignore(stripe_event=row, actor=ADA, reason="   ")

    # then
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.FAILED and not OperatorAction.objects.exists()


def test_ignore_closes_the_row_and_keeps_the_reason():
    # given
    row = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED, last_error="boom"
    )

    # when
    record = operations.stripe_event_ignore(stripe_event=row, actor=ADA, reason="test-mode noise")

    # then
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.IGNORED and row.last_error == "boom"
    assert (record.outcome, record.reason) == ("done", "test-mode noise")


def test_refetch_applies_the_intent_state_at_stripe(offline_stripe):
    # given: the stored event lies (wrong amount), the intent at Stripe succeeded with the right one
    payment, intent = _paid_payment()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment, amount_received=1),
        status=StripeEvent.Status.FAILED, last_error="Amount received 1 does not match the payment's 1500.",
    )  # fmt: skip

    # when
    record = operations.stripe_event_refetch(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    payment.refresh_from_db()
    assert record.outcome == OperatorAction.Outcome.DONE, record.detail
    assert row.status == StripeEvent.Status.PROCESSED and row.last_error == ""
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active


def test_refetch_is_only_for_payment_intent_events():
    # given
    row = stored_stripe_event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"})
    row.status = StripeEvent.Status.FAILED
    row.save()

    # when
    record = operations.stripe_event_refetch(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert record.outcome == OperatorAction.Outcome.SKIPPED and row.status == StripeEvent.Status.FAILED


def test_reconcile_now_records_the_outcome(offline_stripe):
    # given
    payment, _ = _paid_payment()

    # when
    record = operations.payment_reconcile_now(payment=payment, actor=ADA)

    # then
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert (record.action, record.outcome, record.payment) == ("reconcile", "done", payment)


def test_reconcile_now_reports_stripe_refusing():
    # given: a PaymentIntent Stripe has never heard of
    payment = PaymentFactory(payment_intent_id="pi_unknown_to_stripe")

    # when
    record = operations.payment_reconcile_now(payment=payment, actor=ADA)

    # then
    assert record.outcome == OperatorAction.Outcome.ERROR and "Stripe" in record.detail
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_catch_up_stores_only_the_missing_events_and_enqueues_them(offline_stripe, enqueued):
    # given: two payments paid while the endpoint was down; the first one's event arrived after all
    started = timezone.now()
    first, first_intent = _paid_payment()
    second, second_intent = _paid_payment()
    [delivered] = [
        e for e in operations.stripe_events_missing(since=started) if e["data"]["object"]["id"] == first_intent["id"]
    ]
    StripeEvent.objects.create(
        stripe_id=delivered["id"], type=delivered["type"], payload=json.dumps(delivered),
        payment_intent_id=first_intent["id"], status=StripeEvent.Status.PROCESSED,
    )  # fmt: skip

    # when
    result = operations.stripe_events_catch_up(since=started, actor=ADA)

    # then
    row = StripeEvent.objects.get(payment_intent_id=second_intent["id"])
    assert result.stored >= 1 and result.errors == []
    assert StripeEvent.objects.filter(payment_intent_id=first_intent["id"]).count() == 1
    assert row.type == StripeEventType.PAYMENT_INTENT_SUCCEEDED and row.status == StripeEvent.Status.ENQUEUED
    assert json.loads(row.payload)["data"]["object"]["metadata"]["payment_id"] == str(second.pk)
    assert row.pk in enqueued
    assert OperatorAction.objects.get(stripe_event=row).action == OperatorAction.Action.CATCH_UP
    # A second run finds nothing left to store.
    assert operations.stripe_events_catch_up(since=started, actor=ADA).stored == 0


def test_backlog_older_than_five_minutes_is_an_error_record(caplog):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=6)):
        stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.ENQUEUED)

    # when
    with caplog.at_level(logging.INFO, logger="payments.services.operations"):
        age = operations.stripe_event_backlog_check()

    # then
    assert 360 <= age < 400
    [alert] = [r for r in caplog.records if getattr(r, "alert", None) == "stripe_event_backlog"]
    assert alert.levelno == logging.ERROR


def test_a_recent_backlog_raises_no_alert(caplog):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=4)):
        stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.RECEIVED)

    # when
    with caplog.at_level(logging.INFO):
        operations.stripe_event_backlog_check()

    # then
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
