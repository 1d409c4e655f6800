"""An operator's retries, called directly: retry, bulk retry, re-fetch from Stripe, mark ignored."""

import pytest

from core.exceptions import ApplicationError
from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent
from payments.services import retries
from payments.services.audit import Actor
from tests.conftest import paid_payment
from tests.factories import PaymentFactory, UserFactory, payment_intent_object, stored_stripe_event, stored_thin_event

pytestmark = pytest.mark.django_db

ADA = Actor(name="ada")


def test_retry_reenqueues_a_failed_row_keeping_its_attempts(enqueued):
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment),
        status=StripeEvent.Status.FAILED, attempts=9, last_error="OperationalError: server closed the connection",
    )  # fmt: skip

    # when
    record = retries.stripe_event_retry(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert enqueued == [row.pk]
    assert row.status == StripeEvent.Status.ENQUEUED and row.attempts == 9
    assert (record.action, record.outcome, record.actor, record.stripe_event) == ("retry", "done", "ada", row)
    assert "9 attempt(s)" in record.detail


def test_retry_leaves_a_processed_row_alone(enqueued):
    # given
    row = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.PROCESSED
    )

    # when
    record = retries.stripe_event_retry(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert enqueued == [] and row.status == StripeEvent.Status.PROCESSED
    assert record.outcome == OperatorAction.Outcome.SKIPPED and "processed" in record.detail


def test_retry_with_the_broker_down_leaves_the_row_for_the_sweeper(broker_down):
    # given
    row = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED
    )

    # when
    record = retries.stripe_event_retry(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.RECEIVED
    assert record.outcome == OperatorAction.Outcome.ERROR and "sweeper" in record.detail


def test_retried_row_is_processed_by_fulfilment(enqueued):
    # given
    from payments.services import fulfilment

    payment = PaymentFactory()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED,
        payment_intent_object(payment),
        status=StripeEvent.Status.FAILED,
        attempts=3,
    )
    retries.stripe_event_retry(stripe_event=row, actor=ADA)

    # when
    fulfilment.process_stripe_event(stripe_event_id=enqueued[0])

    # then
    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED and row.attempts == 4
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active


def test_ignore_needs_a_reason():
    # given
    row = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED
    )

    # when
    with pytest.raises(ApplicationError):
        retries.stripe_event_ignore(stripe_event=row, actor=ADA, reason="   ")

    # then
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.FAILED and not OperatorAction.objects.exists()


def test_ignore_closes_the_row_and_keeps_the_reason():
    # given
    row = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED, last_error="boom"
    )

    # when
    record = retries.stripe_event_ignore(stripe_event=row, actor=ADA, reason="test-mode noise")

    # then
    row.refresh_from_db()
    assert row.status == StripeEvent.Status.IGNORED and row.last_error == "boom"
    assert (record.outcome, record.reason) == ("done", "test-mode noise")


def test_refetch_applies_the_intent_state_at_stripe(webhooks_off):
    # given: the stored event lies (wrong amount), the intent at Stripe succeeded with the right one
    payment, _intent = paid_payment()
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment, amount_received=1),
        status=StripeEvent.Status.FAILED, last_error="Amount received 1 does not match the payment's 1500.",
    )  # fmt: skip

    # when
    record = retries.stripe_event_refetch(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    payment.refresh_from_db()
    assert record.outcome == OperatorAction.Outcome.DONE, record.detail
    assert row.status == StripeEvent.Status.PROCESSED and row.last_error == ""
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active


def test_refetch_reruns_a_thin_payment_intent_event_too(webhooks_off):
    # given: a thin event left failed (say Stripe refused while it was down), the intent succeeded since
    payment, intent = paid_payment()
    row = stored_thin_event(
        "v1.payment_intent.succeeded", related_object_id=intent["id"], status=StripeEvent.Status.FAILED
    )

    # when
    record = retries.stripe_event_refetch(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    payment.refresh_from_db()
    assert record.outcome == OperatorAction.Outcome.DONE, record.detail
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED


def test_refetch_is_only_for_payment_intent_events():
    # given
    row = stored_stripe_event("charge.refunded", {"id": "ch_1", "object": "charge", "payment_intent": "pi_1"})
    row.status = StripeEvent.Status.FAILED
    row.save()

    # when
    record = retries.stripe_event_refetch(stripe_event=row, actor=ADA)

    # then
    row.refresh_from_db()
    assert record.outcome == OperatorAction.Outcome.SKIPPED and row.status == StripeEvent.Status.FAILED


def test_bulk_retry_counts_each_outcome_and_names_the_errors(enqueued):
    # given: one failed row, one already processed, one stuck
    operator = UserFactory(username="ada", is_staff=True)
    failed = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED
    )
    done = stored_stripe_event(
        "customer.created", {"id": "cus_2", "object": "customer"}, status=StripeEvent.Status.PROCESSED
    )
    stuck = stored_stripe_event(
        "customer.created", {"id": "cus_3", "object": "customer"}, status=StripeEvent.Status.RECEIVED
    )

    # when
    result = retries.stripe_events_retry(
        stripe_event_ids=[failed.pk, done.pk, stuck.pk], actor=Actor.from_user(operator)
    )

    # then
    assert result == {"actor": "ada", "rows": 3, "done": 2, "skipped": 1, "error": 0, "errors": []}
    assert enqueued == [failed.pk, stuck.pk]
    assert OperatorAction.objects.filter(operator=operator, action=OperatorAction.Action.RETRY).count() == 3


def test_bulk_retry_with_the_broker_down_reports_each_row(broker_down):
    # given
    row = stored_stripe_event(
        "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED
    )

    # when
    result = retries.stripe_events_retry(stripe_event_ids=[row.pk], actor=ADA)

    # then
    assert (result["done"], result["error"]) == (0, 1)
    assert result["errors"] == [
        f"{row.stripe_id}: The broker is unavailable; the row is back in the inbox and the sweeper will send it."
    ]
