"""Thin tasks: each takes ids, calls one service. Retry policies are declared here."""

from datetime import timedelta

from celery import Task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from payments.services import fulfilment, inbox, operations, reconciliation
from payments.stripe_gateway import TransientStripeError
from worker import celery
from worker.celery import app

TRANSIENT_ERRORS = (TransientStripeError, OperationalError, InterfaceError)


class StripeEventTask(Task):
    def delay(self, *args, **kwargs):
        # The webhook's hot path: one LPUSH of the message apply_async would send (worker/celery.py).
        if kwargs or not celery.can_publish_directly():
            return super().delay(*args, **kwargs)
        return self.AsyncResult(celery.publish(self, args))

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        stripe_event_id = args[0] if args else kwargs.get("stripe_event_id")
        fulfilment.stripe_event_record_attempt(stripe_event_id=stripe_event_id, error=f"{type(exc).__name__}: {exc}")

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        # Retries are used up (or the error is not transient): the row waits for an operator.
        stripe_event_id = args[0] if args else kwargs.get("stripe_event_id")
        fulfilment.stripe_event_mark_failed(stripe_event_id=stripe_event_id, error=f"{type(exc).__name__}: {exc}")


@app.task(
    base=StripeEventTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,  # the inbox row records the outcome; a result row per event would cost a commit
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def process_stripe_event(self, stripe_event_id: int) -> str:
    return fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)


@app.task(acks_late=True, ignore_result=True)
def requeue_stale_stripe_events() -> int:
    return inbox.stripe_events_requeue_stale(older_than=timedelta(seconds=settings.STRIPE_EVENT_SWEEP_AFTER_SECONDS))


@app.task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def reconcile_pending_payments() -> int:
    return reconciliation.payments_reconcile_stale(
        older_than=timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    )


@app.task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def cancel_abandoned_payments() -> int:
    return reconciliation.payments_cancel_abandoned(older_than=timedelta(seconds=settings.PAYMENT_ABANDON_AFTER_SECONDS))


@app.task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def catch_up_stripe_events() -> int:
    # Over Stripe's own retry window: an endpoint outage shorter than it heals by itself.
    since = timezone.now() - operations.CATCH_UP_WINDOW
    return operations.stripe_events_catch_up(since=since, actor=operations.Actor.process("beat")).stored


@app.task(acks_late=True, ignore_result=True)
def check_stripe_event_backlog() -> float:
    return operations.stripe_event_backlog_check()
