"""Thin tasks: each takes ids, calls one service. Retry policies are declared here.

The hot task, `process_stripe_event`, keeps no result: its inbox row records the outcome. The
operators' tasks (beat's sweeps, reconciliation, cancellation, catch-up, bulk retries) return their
counts and errors, which django-celery-results keeps as task results (admin: "Task results").
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from billiard.einfo import ExceptionInfo
from celery import Task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone

from payments.services import (
    catch_up,
    fulfilment,
    fulfilment_batch,
    inbox,
    notifications,
    receipts,
    reconciliation,
    refunds,
    retention,
    retries,
)
from payments.services.audit import Actor
from payments.stripe_gateway import TransientStripeError
from worker.celery import app

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (TransientStripeError, OperationalError, InterfaceError)


def _row_id(args: tuple[Any, ...], kwargs: dict[str, Any], *, name: str) -> int:
    """The id a row task was sent, whether positionally or by name."""
    return int(args[0] if args else kwargs[name])


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


class StripeEventTask(Task[Any, Any]):
    def on_retry(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        stripe_event_id = _row_id(args, kwargs, name="stripe_event_id")
        inbox.stripe_event_record_attempt(stripe_event_id=stripe_event_id, error=_error_text(exc))

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        # Retries are used up (or the error is not transient): the row waits for an operator.
        stripe_event_id = _row_id(args, kwargs, name="stripe_event_id")
        inbox.stripe_event_mark_failed(stripe_event_id=stripe_event_id, error=_error_text(exc))


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
def process_stripe_event(self: StripeEventTask, stripe_event_id: int) -> str:
    return fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)


# A row of a batch that hits a transient error waits this long, then goes on alone as `process_stripe_event`
# with that task's back-off and retry budget (the first step of its back-off).
RETRY_ALONE_AFTER_SECONDS = 2


@app.task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def process_stripe_events(stripe_event_ids: list[int]) -> None:
    """A wake-up from the web (`inbox.stripe_events_wake_workers`): the rows it names, topped up with rows
    waiting in the inbox up to FULFILMENT_BATCH_MAX_ROWS, the hot ones applied together in one transaction
    (`fulfilment_batch`), the rest each in its own, one after the other. The wake-up is answered first, so
    rows stored from then on wake a worker again; a full claim wakes another for the rows it left.

    A row that fails fails alone, as it would in a message of its own: a transient error records the attempt
    and re-sends the row by itself; any other error leaves it failed for an operator. The others go on.
    If the re-send is refused too, the row stays `enqueued` and the sweeper sends it again."""
    inbox.stripe_events_answer_wake_up()
    try:
        one_at_a_time = fulfilment_batch.stripe_events_fulfil(
            stripe_event_ids=stripe_event_ids,
            claim_waiting=max(0, settings.FULFILMENT_BATCH_MAX_ROWS - len(stripe_event_ids)),
            more_waiting=lambda: inbox.stripe_events_wake_workers([]),
        )
    except Exception:  # the batch rolled back whole: each row goes its own way, and fails alone if it must
        logger.warning("a batch of stripe events failed; applying them one at a time", exc_info=True)
        one_at_a_time = stripe_event_ids
    for stripe_event_id in one_at_a_time:
        try:
            fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)
        except TRANSIENT_ERRORS as exc:
            # Re-sent first: with PostgreSQL gone, recording the attempt fails too, and the retry must not.
            process_stripe_event.apply_async((stripe_event_id,), countdown=RETRY_ALONE_AFTER_SECONDS)
            try:
                inbox.stripe_event_record_attempt(stripe_event_id=stripe_event_id, error=f"{type(exc).__name__}: {exc}")
            except DatabaseError:  # only bookkeeping: the row's retry is on its way
                logger.warning("could not record the attempt of stripe event row %s", stripe_event_id, exc_info=True)
        except Exception as exc:  # one row's error must not stop the rows after it
            inbox.stripe_event_mark_failed(stripe_event_id=stripe_event_id, error=f"{type(exc).__name__}: {exc}")


@app.task(acks_late=True)
def requeue_stale_stripe_events() -> dict[str, int]:
    requeued = inbox.stripe_events_requeue_stale(
        older_than=timedelta(seconds=settings.STRIPE_EVENT_SWEEP_AFTER_SECONDS)
    )
    return {"requeued": requeued}


@app.task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def reconcile_pending_payments() -> dict[str, object]:
    return reconciliation.payments_reconcile_stale(
        older_than=timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    )


@app.task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def cancel_abandoned_payments() -> dict[str, object]:
    return reconciliation.payments_cancel_abandoned(
        older_than=timedelta(seconds=settings.PAYMENT_ABANDON_AFTER_SECONDS)
    )


@app.task(acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, max_retries=3)
def recheck_succeeded_payments() -> dict[str, object]:
    return reconciliation.payments_recheck_charges()


@app.task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def catch_up_stripe_events() -> dict[str, object]:
    since = timezone.now() - catch_up.CATCH_UP_WINDOW
    result = catch_up.stripe_events_catch_up(since=since, actor=Actor.job("beat: catch up Stripe events"))
    return {"listed": result.listed, "stored": result.stored, "errors": result.errors}


@app.task(acks_late=True, ignore_result=True)
def check_stripe_event_backlog() -> float:
    return inbox.stripe_event_backlog_check()


class NotificationTask(Task[Any, Any]):
    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        # Retries are used up: the row waits for an operator's retry in the admin.
        notification_id = _row_id(args, kwargs, name="notification_id")
        notifications.notification_mark_failed(notification_id=notification_id, error=_error_text(exc))


@app.task(
    base=NotificationTask,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,  # the notification row records the outcome
    autoretry_for=(notifications.EmailNotSent, *TRANSIENT_ERRORS),
    retry_backoff=2,
    retry_backoff_max=300,  # below the sweeper's threshold: a row being retried is not swept
    retry_jitter=True,
    max_retries=8,
)
def send_notification(notification_id: int) -> str:
    return notifications.notification_send(notification_id=notification_id)


# A group of emails starts no new one after this long, well inside the soft time limit, and hands the
# rest on in a message of its own (each email may take a few EMAIL_TIMEOUTs when the SMTP server is slow).
SEND_NOTIFICATIONS_TIME_BUDGET_SECONDS = 30


@app.task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def send_notifications(notification_ids: list[int]) -> None:
    """The emails one transaction recorded, handed over together: each claimed, sent and recorded as
    `send_notification` does, one after the other over one SMTP connection.

    An email that fails fails alone, as it would in a message of its own: one worth retrying (pending again)
    is re-sent by itself as `send_notification`, with that task's back-off and retry budget; any other error
    leaves it to an operator, or to the sweeper once its claim runs out. The others go on. If the re-send is
    refused too, the row waits for the sweeper."""
    deadline = time.monotonic() + SEND_NOTIFICATIONS_TIME_BUDGET_SECONDS
    read = notifications.notifications_read(notification_ids=notification_ids)
    with notifications.notifications_email_connection() as email_connection:
        for position, notification_id in enumerate(notification_ids):
            if position and time.monotonic() > deadline:
                _hand_on(send_notifications, notification_ids[position:])
                return
            try:
                notifications.notification_send(
                    notification_id=notification_id, email_connection=email_connection, read=read.get(notification_id)
                )
            except (notifications.EmailNotSent, *TRANSIENT_ERRORS):
                _hand_on(send_notification, notification_id, countdown=RETRY_ALONE_AFTER_SECONDS)
            except Exception as exc:  # one email's error must not stop the emails after it
                notifications.notification_mark_failed(notification_id=notification_id, error=_error_text(exc))


def _hand_on(task: Task[Any, Any], *args: object, countdown: float = 0) -> None:
    """Sends the rest of a group's work on; a broker that refuses it leaves the rows to the sweeper."""
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:  # the rows are pending and marked handed over: the sweeper sends them
        logger.warning("could not hand on %s%s; the sweeper will", task.name, args, exc_info=True)


@app.task(acks_late=True)
def requeue_stale_notifications() -> dict[str, int]:
    requeued = notifications.notifications_requeue_stale(
        older_than=timedelta(seconds=settings.NOTIFICATION_SWEEP_AFTER_SECONDS)
    )
    return {"requeued": requeued}


@app.task(acks_late=True, ignore_result=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def fetch_charge_details(payment_id: int) -> bool:
    return receipts.payment_charge_details_fetch(payment_id=payment_id)


@app.task(acks_late=True, autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=3)
def reconcile_refunds() -> dict[str, int]:
    return refunds.refunds_reconcile_submitted(older_than=timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS))


# Each run stops well inside the soft time limit; a large backlog is pruned over several runs.
PRUNE_TIME_BUDGET_SECONDS = 30


@app.task(acks_late=True)
def prune_stripe_events() -> dict[str, object]:
    return retention.stripe_events_prune(
        older_than=timedelta(days=settings.STRIPE_EVENT_RETENTION_DAYS), time_budget=PRUNE_TIME_BUDGET_SECONDS
    ).as_result()


@app.task(acks_late=True)
def retry_stripe_events(*, stripe_event_ids: list[int], operator_id: int) -> dict[str, object]:
    operator = get_user_model().objects.get(pk=operator_id)
    return retries.stripe_events_retry(stripe_event_ids=stripe_event_ids, actor=Actor.from_user(operator))
