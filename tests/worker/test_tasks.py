"""The tasks' own behaviour (the queue is not the subject: tasks run in-process with apply())."""

import pytest
from django.db import DatabaseError, OperationalError

from payments import queue
from payments.models import Payment, StripeEvent
from payments.services import fulfilment, fulfilment_batch
from payments.stripe_gateway import TransientStripeError
from tests.factories import PaymentFactory, payment_intent_object, refunded_charge_object, stored_stripe_event
from worker import tasks

pytestmark = pytest.mark.django_db


def test_process_stripe_event_returns_the_rows_new_status():
    payment = PaymentFactory()
    row = stored_stripe_event("payment_intent.succeeded", payment_intent_object(payment))

    result = tasks.process_stripe_event.apply(args=[row.pk])

    assert result.get() == StripeEvent.Status.PROCESSED


def test_an_error_that_retrying_cannot_fix_leaves_the_row_failed_for_an_operator():
    # given: a stored row whose payload fulfilment cannot read
    row = StripeEvent.objects.create(stripe_id="evt_broken", type="payment_intent.succeeded", payload="{}")

    # when
    result = tasks.process_stripe_event.apply(args=[row.pk])

    # then
    row.refresh_from_db()
    assert result.failed()
    assert row.status == StripeEvent.Status.FAILED
    assert row.last_error.startswith("KeyError")
    assert row.attempts == 1


def test_a_transient_error_is_retried_and_each_attempt_recorded(monkeypatch, caplog):
    # given: the database drops the connection twice, then answers
    row = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    real = fulfilment.process_stripe_event
    failures = iter([OperationalError("server closed the connection unexpectedly")] * 2)

    def flaky(*, stripe_event_id):
        for error in failures:
            raise error
        return real(stripe_event_id=stripe_event_id)

    monkeypatch.setattr(fulfilment, "process_stripe_event", flaky)

    # when
    result = tasks.process_stripe_event.apply(args=[row.pk])

    # then: two retries with back-off, each counted on the row, then the row is closed
    row.refresh_from_db()
    retries = [r for r in caplog.records if "retry: Retry in" in r.getMessage()]
    assert result.successful() and len(retries) == 2
    assert (row.status, row.attempts, row.last_error) == (StripeEvent.Status.IGNORED, 3, "")


def test_a_transient_error_that_outlasts_the_retries_leaves_the_row_failed(monkeypatch):
    # given: Stripe stays unreachable
    row = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    def unreachable(*, stripe_event_id):
        raise TransientStripeError("Could not connect to Stripe.")

    monkeypatch.setattr(fulfilment, "process_stripe_event", unreachable)
    monkeypatch.setattr(tasks.process_stripe_event, "max_retries", 2)

    # when
    result = tasks.process_stripe_event.apply(args=[row.pk])

    # then
    row.refresh_from_db()
    assert result.failed()
    assert (row.status, row.attempts) == (StripeEvent.Status.FAILED, 3)
    assert row.last_error == "TransientStripeError: Could not connect to Stripe."


def test_a_batch_applies_every_row_and_one_failing_row_fails_alone():
    # given: three rows in one message, the middle one unreadable
    first = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    broken = StripeEvent.objects.create(stripe_id="evt_broken", type="payment_intent.succeeded", payload="{}")
    last = stored_stripe_event("customer.created", {"id": "cus_2", "object": "customer"})

    # when
    result = tasks.process_stripe_events.apply(args=[[first.pk, broken.pk, last.pk]])

    # then: the broken row is failed with its error; the rows around it are closed
    assert result.successful()
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert statuses == {
        first.pk: StripeEvent.Status.IGNORED,
        broken.pk: StripeEvent.Status.FAILED,
        last.pk: StripeEvent.Status.IGNORED,
    }
    assert StripeEvent.objects.get(pk=broken.pk).last_error.startswith("KeyError")


def test_a_transient_error_in_a_batch_records_the_attempt_and_resends_that_row_alone(monkeypatch):
    # given: three refunds (applied one at a time); the database drops the connection during the second
    rows = [stored_stripe_event("charge.refunded", refunded_charge_object(PaymentFactory())) for _ in range(3)]
    real = fulfilment.process_stripe_event

    def flaky(*, stripe_event_id):
        if stripe_event_id == rows[1].pk:
            raise OperationalError("server closed the connection unexpectedly")
        return real(stripe_event_id=stripe_event_id)

    monkeypatch.setattr(fulfilment, "process_stripe_event", flaky)
    resent = []
    monkeypatch.setattr(
        tasks.process_stripe_event, "apply_async", lambda args, **options: resent.append((args, options))
    )

    # when
    result = tasks.process_stripe_events.apply(args=[[row.pk for row in rows]])

    # then: the others are closed, the flaky one keeps its attempt and goes on alone, after a back-off
    assert result.successful()
    for row in rows:
        row.refresh_from_db()
    assert [row.status for row in rows] == [
        StripeEvent.Status.PROCESSED,
        StripeEvent.Status.RECEIVED,
        StripeEvent.Status.PROCESSED,
    ]
    assert (rows[1].attempts, rows[1].last_error) == (1, "OperationalError: server closed the connection unexpectedly")
    assert resent == [((rows[1].pk,), {"countdown": tasks.RETRY_ALONE_AFTER_SECONDS})]


def test_a_batch_applies_its_payment_intent_events_together_and_the_rest_one_at_a_time(monkeypatch):
    # given: two payments' successes, an unreadable row, a type fulfilment ignores, and a refund (a type the
    # batch leaves to the one-at-a-time path)
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    first, second = PaymentFactory(), PaymentFactory()
    succeeded = [stored_stripe_event("payment_intent.succeeded", payment_intent_object(p)) for p in (first, second)]
    broken = StripeEvent.objects.create(stripe_id="evt_broken", type="payment_intent.succeeded", payload="{}")
    ignored = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"})
    refund = stored_stripe_event("charge.refunded", refunded_charge_object(PaymentFactory()))
    one_at_a_time = []
    real = fulfilment.process_stripe_event

    def spy(*, stripe_event_id):
        one_at_a_time.append(stripe_event_id)
        return real(stripe_event_id=stripe_event_id)

    monkeypatch.setattr(fulfilment, "process_stripe_event", spy)

    # when
    result = tasks.process_stripe_events.apply(
        args=[[succeeded[0].pk, broken.pk, ignored.pk, refund.pk, succeeded[1].pk]]
    )

    # then: the batch applies the successes and closes the ignored row; the others go one at a time, the
    # broken one failing alone
    assert result.successful()
    assert one_at_a_time == [broken.pk, refund.pk]
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert [statuses[row.pk] for row in (*succeeded, broken, ignored, refund)] == [
        StripeEvent.Status.PROCESSED,
        StripeEvent.Status.PROCESSED,
        StripeEvent.Status.FAILED,
        StripeEvent.Status.IGNORED,
        StripeEvent.Status.PROCESSED,
    ]
    assert set(Payment.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        Payment.Status.SUCCEEDED
    }


def test_a_batch_that_fails_whole_is_applied_one_row_at_a_time(monkeypatch):
    # given: the batch's transaction fails
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    payments = [PaymentFactory(), PaymentFactory()]
    rows = [stored_stripe_event("payment_intent.succeeded", payment_intent_object(p)) for p in payments]

    def failing(*, stripe_event_ids, claim_waiting, more_waiting):
        raise DatabaseError("could not serialize access")

    monkeypatch.setattr(fulfilment_batch, "stripe_events_fulfil", failing)

    # when
    result = tasks.process_stripe_events.apply(args=[[row.pk for row in rows]])

    # then: each row is applied on its own
    assert result.successful()
    assert set(StripeEvent.objects.values_list("status", "attempts")) == {(StripeEvent.Status.PROCESSED, 1)}
    assert set(Payment.objects.values_list("status", flat=True)) == {Payment.Status.SUCCEEDED}
