"""The webhook inbox, one row per Stripe event: stored once, handed to the workers, swept when it never
arrived, closed with its outcome (processed, ignored or failed) and the error operators need."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.utils import timezone

from payments import metrics, queue, selectors
from payments.consts import StripeObjectType
from payments.models import StripeEvent
from payments.services.bulk_writes import rows_update
from payments.services.hand_over import MAX_ERROR_LENGTH, HandOver
from payments.stripe_gateway import API_VERSION, EventNotification, payment_intent_id_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What processing a row came to: its new status, and why."""

    status: str
    reason: str = ""

    @classmethod
    def processed(cls, reason: str = "") -> Outcome:
        return cls(StripeEvent.Status.PROCESSED, reason)

    @classmethod
    def ignored(cls, reason: str) -> Outcome:
        return cls(StripeEvent.Status.IGNORED, reason)

    @classmethod
    def failed(cls, reason: str) -> Outcome:
        return cls(StripeEvent.Status.FAILED, reason)


def payment_intent_id(event: dict[str, Any]) -> str:
    return payment_intent_id_of(event["data"]["object"])


def _new_row(event: dict[str, Any], payload: bytes, **fields: Any) -> StripeEvent:
    return StripeEvent(
        stripe_id=event["id"],
        type=event["type"][:100],
        livemode=bool(event.get("livemode")),
        api_version=str(event.get("api_version") or "")[:64],
        payment_intent_id=payment_intent_id(event)[:255],
        payload=payload.decode("utf-8"),
        **fields,
    )


def _new_thin_row(notification: EventNotification, payload: bytes, **fields: Any) -> StripeEvent:
    related_type, related_id = notification.related_object_type[:100], notification.related_object_id[:255]
    return StripeEvent(
        stripe_id=notification.id,
        kind=StripeEvent.Kind.THIN,
        type=notification.type[:100],
        livemode=notification.livemode,
        related_object_type=related_type,
        related_object_id=related_id,
        # A Charge's PaymentIntent is known once fulfilment has fetched it (`stripe_event_note_payment_intent`).
        payment_intent_id=related_id if related_type == StripeObjectType.PAYMENT_INTENT else "",
        payload=payload.decode("utf-8"),
        **fields,
    )


def _count_api_version_drift(row: StripeEvent) -> None:
    # Thin events are unversioned: what fulfilment fetches is rendered at the pinned version.
    if row.kind == StripeEvent.Kind.SNAPSHOT and row.api_version != API_VERSION:
        metrics.STRIPE_EVENT_API_VERSION_DRIFT.labels(api_version=row.api_version or "none").inc()


def stripe_event_receive(*, event: dict[str, Any], payload: bytes) -> int | None:
    """The webhook's path: stores a verified event and hands it to the workers; None for a duplicate.

    Runs outside a transaction, as the view does: the row is inserted with those of this process's
    concurrent requests in one statement committed on its own (`stripe_events_group_commit`:
    `INSERT … ON CONFLICT DO NOTHING RETURNING`), and a duplicate writes nothing. Only then are the workers
    woken for it (`stripe_events_wake_workers`), unless a wake-up already waits (its worker will claim this row
    too): the row is stored as `enqueued` because a worker is on its way; rows whose wake-up the broker
    refuses go back to `received`, and a process that dies in between leaves rows the sweeper re-sends
    anyway (it looks at `received_at`/`enqueued_at`, both set by this insert).
    """
    return _receive(_new_row(event, payload, status=StripeEvent.Status.ENQUEUED))


def stripe_event_notification_receive(*, notification: EventNotification, payload: bytes) -> int | None:
    """The thin webhook's path, as `stripe_event_receive`: one inbox for both of Stripe's payloads."""
    return _receive(_new_thin_row(notification, payload, status=StripeEvent.Status.ENQUEUED))


def _receive(row: StripeEvent) -> int | None:
    stripe_event_id = stripe_events_group_commit.store(row)
    if stripe_event_id is not None:
        _count_api_version_drift(row)
    return stripe_event_id


def _wake_up_refused(stripe_event_ids: list[int]) -> None:
    StripeEvent.objects.filter(pk__in=stripe_event_ids, status=StripeEvent.Status.ENQUEUED).update(
        status=StripeEvent.Status.RECEIVED, enqueued_at=None
    )


def _wake_up_send(stripe_event_ids: list[int]) -> None:
    queue.stripe_events_process(stripe_event_ids=stripe_event_ids)
    metrics.count_hand_over_group(rows="stripe_event", size=len(stripe_event_ids))


# The workers' doorbell for the inbox: a `process_stripe_events` message when none is waiting.
_stripe_events_doorbell = queue.Doorbell(
    key="eventpay:doorbell:stripe-events", send=_wake_up_send, refused=_wake_up_refused
)


def stripe_events_wake_workers(stripe_event_ids: list[int]) -> None:
    """Wakes a worker for these committed rows, unless a wake-up already waits (whose worker claims them)."""
    metrics.count_wake_up(result=_stripe_events_doorbell.ring(stripe_event_ids))


def stripe_events_answer_wake_up() -> None:
    """A worker about to claim the waiting rows: rows committed from now on wake a worker again."""
    _stripe_events_doorbell.answer()


_INSERT_FIELDS = [f for f in StripeEvent._meta.concrete_fields if not f.primary_key]


@functools.cache
def _insert_ignoring_duplicates_sql(rows: int) -> str:
    quote = connection.ops.quote_name
    # A concrete field always has a column; the stubs type `column` for every field, where it may be None.
    table, key, pk = quote(StripeEvent._meta.db_table), quote("stripe_id"), quote(StripeEvent._meta.pk.column)  # type: ignore[arg-type]
    columns = ", ".join(quote(f.column) for f in _INSERT_FIELDS)  # type: ignore[arg-type]
    values = ", ".join(["(" + ", ".join(["%s"] * len(_INSERT_FIELDS)) + ")"] * rows)
    # Names come from the model, quoted; every value is a bound parameter.
    return (
        f"INSERT INTO {table} ({columns}) VALUES {values} "  # nosec B608
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {pk}, {key}"
    )


def _insert_ignoring_duplicates(rows: Sequence[StripeEvent]) -> list[int | None]:
    """Inserts, in one statement, the rows whose Stripe id is not stored already; for each row its new id,
    or None (stored before, or earlier in `rows`). The ORM has no insert that both ignores a conflict and
    returns the new keys, so this is SQL on Django's cursor: logged, captured by tests and seen by tracing
    like every other query."""
    received_at = timezone.now()
    firsts: dict[str, StripeEvent] = {}
    for row in rows:
        row.received_at = received_at
        if row.status == StripeEvent.Status.ENQUEUED:
            row.enqueued_at = received_at
        firsts.setdefault(row.stripe_id, row)
    params = [
        f.get_db_prep_save(getattr(row, f.attname), connection) for row in firsts.values() for f in _INSERT_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_ignoring_duplicates_sql(len(firsts)), params)
        inserted = {stripe_id: pk for pk, stripe_id in cursor.fetchall()}
    return [inserted.get(row.stripe_id) if firsts[row.stripe_id] is row else None for row in rows]


def _insert_ignoring_duplicate(row: StripeEvent) -> int | None:
    return _insert_ignoring_duplicates([row])[0]


@dataclass(eq=False)
class _Storing:
    """One request's row on its way into a group, and its outcome once the group is committed (or its turn to
    lead the next group)."""

    row: StripeEvent
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    pk: int | None = None
    error: BaseException | None = None


class GroupedInsert:
    """Stores the webhook's rows in groups, as PostgreSQL commits its WAL (a group commit with a leader): a
    request that finds no insert under way inserts its row itself, at once, on its own connection; the requests
    of this process that arrive meanwhile wait, and when the insert is done the first of them inserts all their
    rows in one statement, committed once. No thread of its own and no timer: an idle process stores each row
    as before, and a busy one in groups as large as the traffic makes them (up to WEBHOOK_INSERT_MAX_ROWS). The
    group's leader then wakes the workers for its new rows together (`stored(ids)`), once it has handed the
    lead on.

    A request answers only once its row is committed, as before. A statement that failed is tried again row by
    row on a new connection, so that a connection cut mid-statement costs no request its answer and one row's
    failure is its request's alone. A caller inside a transaction (an operator's path, a test's) stores its row
    in its own transaction instead, where it can see it.
    """

    def __init__(self, *, stored: Callable[[list[int]], object]) -> None:
        self._stored = stored
        self._waiting: list[_Storing] = []
        self._lock = threading.Lock()
        self._leading = False

    def store(self, row: StripeEvent) -> int | None:
        """The row's new id, or None for a duplicate; raises DatabaseError when PostgreSQL could not take it."""
        if connection.in_atomic_block:
            pk = _insert_ignoring_duplicate(row)
            if pk is not None:
                self._stored([pk])
            return pk
        storing = _Storing(row)
        with self._lock:
            self._waiting.append(storing)
            lead, self._leading = not self._leading, True
        if not lead:
            # No timeout, as a request blocked on its own insert has none: the insert under way always ends
            # (PostgreSQL answers, or the connection fails), and its leader wakes every row it took and the next.
            storing.woken.wait()
            lead = not storing.done  # woken to lead the next group
        if lead:
            self._lead()
        if storing.error is not None:
            raise storing.error
        return storing.pk

    def _lead(self) -> None:
        """Inserts what is waiting, then hands the lead to the first request that came meanwhile, if any."""
        with self._lock:
            group = self._waiting[: settings.WEBHOOK_INSERT_MAX_ROWS]
            del self._waiting[: len(group)]
        try:
            self._commit(group)
        finally:
            with self._lock:
                following, self._leading = (self._waiting[0] if self._waiting else None), bool(self._waiting)
            for each in group:
                each.done = True
                each.woken.set()
            if following is not None:
                following.woken.set()
        # Once the next group is under way: its insert need not wait for this one's wake-up.
        if stored := [each.pk for each in group if each.pk is not None]:
            try:
                self._stored(stored)
            except Exception:  # only the wake-up's bookkeeping: the rows are stored, and the sweeper sends them
                logger.exception(
                    "could not wake the workers for %s stored rows; the sweeper re-sends them", len(stored)
                )

    def _commit(self, group: list[_Storing]) -> None:
        # Django's health check (CONN_HEALTH_CHECKS: a `SELECT 1` before a request's first query) would put a
        # round trip in front of every group's insert. A connection that died meanwhile fails the insert, and
        # its rows are tried again on a new one below: the check guards nothing here.
        connection.health_check_done = True  # type: ignore[attr-defined]  # Django's, not in its stubs
        try:
            pks = _insert_ignoring_duplicates([each.row for each in group])
        except DatabaseError:
            connection.close()  # it may be the connection that failed (cut by a restart): each row tries a new one
            for each in group:
                self._commit_alone(each)
        except Exception as exc:  # a defect: its requests answer 500
            for each in group:
                each.error = exc
        else:
            metrics.count_webhook_insert(size=len(group))
            for each, pk in zip(group, pks, strict=True):
                each.pk = pk

    def _commit_alone(self, storing: _Storing) -> None:
        try:
            storing.pk = _insert_ignoring_duplicate(storing.row)
        except DatabaseError as exc:
            connection.close()
            storing.error = exc


# One per process: the webhook's rows, stored in groups, each group waking the workers once (the function is
# looked up at each call, so a test may record the wake-ups instead).
stripe_events_group_commit = GroupedInsert(stored=lambda stripe_event_ids: stripe_events_wake_workers(stripe_event_ids))


def stripe_event_store(*, event: dict[str, Any], payload: bytes) -> StripeEvent | None:
    """Stores a verified event; returns the new row, or None when its Stripe id is already stored."""
    row = _new_row(event, payload)
    row.pk = _insert_ignoring_duplicate(row)
    if row.pk is None:
        return None
    _count_api_version_drift(row)
    return row


def stripe_event_note_payment_intent(*, stripe_event_id: int, payment_intent_id: str) -> None:
    """Keeps the PaymentIntent a thin event's Charge belongs to, once fetched: operators find the row by it."""
    StripeEvent.objects.filter(pk=stripe_event_id, payment_intent_id="").update(
        payment_intent_id=payment_intent_id[:255]
    )


def _mark_enqueued(stripe_event_ids: Sequence[int]) -> None:
    StripeEvent.objects.filter(pk__in=stripe_event_ids, status__in=StripeEvent.UNFINISHED_STATUSES).update(
        status=StripeEvent.Status.ENQUEUED, enqueued_at=timezone.now()
    )


# One at a time, for the operator's paths and the sweeper (the webhook's rows leave in groups, above).
stripe_event_hand_over = HandOver(
    what="stripe event row",
    send=lambda pk: queue.stripe_event_process(stripe_event_id=pk),
    mark_enqueued=_mark_enqueued,
    stale=lambda older_than: selectors.stripe_events_stale(older_than=older_than),
)


def stripe_event_enqueue(*, stripe_event_id: int) -> bool:
    """Hands a stored row to the broker; a failure is logged and left to the sweeper."""
    return stripe_event_hand_over.enqueue(stripe_event_id)


def stripe_events_requeue_stale(*, older_than: timedelta) -> int:
    """Re-enqueues rows stored or handed over more than `older_than` ago and still unprocessed."""
    return stripe_event_hand_over.requeue_stale(older_than=older_than)


def stripe_event_close(*, stripe_event_id: int, outcome: Outcome, attempted: bool = True) -> bool:
    """Closes a row still open (received, enqueued or failed) with `outcome`; False if it was closed meanwhile.

    The one way a row leaves the open statuses: fulfilment, an operator's re-fetch from Stripe and the
    sweep of exhausted retries record an attempt (counted, its error kept when it failed); "Mark
    ignored" closes a row without one, keeping the error that led the operator there. One statement,
    which also returns what the metrics count (the row's type, and its arrival for the latency)."""
    now = timezone.now()
    processed_at = StripeEvent._meta.get_field("processed_at").get_db_prep_save(now, connection)
    assignments, params = ["status = %s", "processed_at = %s"], [outcome.status, processed_at]
    if attempted:
        failed = outcome.status == StripeEvent.Status.FAILED
        assignments += ["attempts = attempts + 1", "last_error = %s"]
        params.append(outcome.reason[:MAX_ERROR_LENGTH] if failed else "")
    with connection.cursor() as cursor:
        cursor.execute(_close_sql(tuple(assignments)), [*params, stripe_event_id, *StripeEvent.OPEN_STATUSES])
        closed = cursor.fetchone()
    if closed is None:
        return False
    received_at, event_type = closed
    if timezone.is_naive(received_at):  # SQLite keeps UTC without an offset
        received_at = timezone.make_aware(received_at, UTC)
    metrics.count_stripe_event_closed(
        event_type=event_type, status=outcome.status, received_at=received_at, processed_at=now
    )
    metrics.count_fulfilment_transaction(path="alone", size=1)
    return True


def stripe_events_close(*, closing: Sequence[tuple[StripeEvent, Outcome]]) -> None:
    """`stripe_event_close` of many rows, each with an attempt, in one UPDATE: for rows the caller read
    open under lock in this transaction, so their instances are the rows."""
    now = timezone.now()
    for row, outcome in closing:
        row.status, row.processed_at, row.attempts = outcome.status, now, row.attempts + 1
        row.last_error = outcome.reason[:MAX_ERROR_LENGTH] if outcome.status == StripeEvent.Status.FAILED else ""
    rows_update([row for row, _ in closing], ["status", "processed_at", "attempts", "last_error"])
    for row, outcome in closing:
        metrics.count_stripe_event_closed(
            event_type=row.type, status=outcome.status, received_at=row.received_at, processed_at=now
        )
    if closing:
        metrics.count_fulfilment_transaction(path="batch", size=len(closing))


@functools.cache
def _close_sql(assignments: tuple[str, ...]) -> str:
    table = connection.ops.quote_name(StripeEvent._meta.db_table)
    statuses = ", ".join(["%s"] * len(StripeEvent.OPEN_STATUSES))
    # Column names are the model's; every value is a bound parameter.
    return (
        f"UPDATE {table} SET {', '.join(assignments)} WHERE id = %s AND status IN ({statuses}) "  # nosec B608
        "RETURNING received_at, type"
    )


def stripe_event_record_attempt(*, stripe_event_id: int, error: str) -> None:
    """An attempt that raised and will be retried: count it and keep its error for operators."""
    StripeEvent.objects.filter(pk=stripe_event_id).exclude(status__in=StripeEvent.FINISHED_STATUSES).update(
        attempts=F("attempts") + 1, last_error=error[:MAX_ERROR_LENGTH]
    )
    metrics.count_task_retry(error=error)


def stripe_event_mark_failed(*, stripe_event_id: int, error: str) -> None:
    """Retries are used up: the row waits for an operator (unless it finished meanwhile)."""
    if stripe_event_close(stripe_event_id=stripe_event_id, outcome=Outcome.failed(error)):
        logger.error("stripe event row %s failed after its retries: %s", stripe_event_id, error)


def stripe_event_backlog_check() -> float:
    """Logs an ERROR (the alert) when the oldest unprocessed row is older than the backlog threshold;
    returns its age in seconds."""
    oldest = selectors.stripe_event_oldest_unprocessed()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    if age > settings.STRIPE_EVENT_BACKLOG_ALERT_SECONDS:
        logger.error(
            "webhook inbox backlog: the oldest unprocessed Stripe event arrived %d s ago",
            age,
            extra={"alert": "stripe_event_backlog"},
        )
    return age
