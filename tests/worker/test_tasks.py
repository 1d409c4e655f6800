"""The tasks' own behaviour (the queue is not the subject: tasks run in-process with apply())."""

import pytest

from payments.models import StripeEvent
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event
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


def test_the_task_retries_transient_errors_with_backoff():
    task = tasks.process_stripe_event

    assert set(task.autoretry_for) >= set(tasks.TRANSIENT_ERRORS)
    assert task.acks_late is True and task.reject_on_worker_lost is True
    assert task.max_retries == 8 and task.retry_backoff
