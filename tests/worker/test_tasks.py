"""The tasks' own behaviour (the queue is not the subject: tasks run in-process with apply())."""

import pytest
from django.db import OperationalError

from payments.models import StripeEvent
from payments.services import fulfilment
from payments.stripe_gateway import TransientStripeError
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
