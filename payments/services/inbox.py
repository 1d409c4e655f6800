"""The webhook inbox: store a verified Stripe event once, hand it to the workers, sweep what never arrived."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from payments.models import StripeEvent

logger = logging.getLogger(__name__)


def payment_intent_id(event: dict[str, Any]) -> str:
    obj = event["data"]["object"]
    if obj.get("object") == "payment_intent":
        return str(obj.get("id") or "")
    payment_intent = obj.get("payment_intent")
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id")
    return str(payment_intent or "")


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


def stripe_event_receive(*, event: dict[str, Any], payload: bytes) -> int | None:
    """The webhook's path: stores a verified event and hands it to the workers; None for a duplicate.

    Runs outside a transaction, as the view does: one statement committed on its own
    (`INSERT … ON CONFLICT DO NOTHING RETURNING id`), one round trip and one WAL flush per
    event, and a duplicate writes nothing. The row is stored
    as `enqueued` because the publish follows at once; if it fails the row goes back to
    `received`, and a process that dies in between leaves a row the sweeper re-sends anyway
    (it looks at `received_at`/`enqueued_at`, both set by this insert).
    """
    row = _new_row(event, payload, status=StripeEvent.Status.ENQUEUED)
    try:
        inserted = _insert(row)
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block or connection.is_usable():
            raise
        # The connection died since this thread last used it (a database restart, a network cut):
        # one more try on a new one, so that only a database that is still down answers 503.
        connection.close()
        inserted = _insert(row)
    if inserted is None:
        return None
    stripe_event_id = inserted[0]
    if not _publish(stripe_event_id):
        StripeEvent.objects.filter(pk=stripe_event_id, status=StripeEvent.Status.ENQUEUED).update(
            status=StripeEvent.Status.RECEIVED, enqueued_at=None
        )
    return stripe_event_id


def _insert(row: StripeEvent) -> tuple | None:
    # Straight to the driver: a Django cursor would first run the per-request health check, a
    # round trip as long as the insert. A dead connection fails the insert instead (see above).
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection.connection.execute(_insert_ignoring_duplicates_sql(), _insert_params(row)).fetchone()


_INSERT_FIELDS = [f for f in StripeEvent._meta.concrete_fields if not f.primary_key]


@functools.cache
def _insert_ignoring_duplicates_sql() -> str:
    quote = connection.ops.quote_name
    table, key, pk = quote(StripeEvent._meta.db_table), quote("stripe_id"), quote(StripeEvent._meta.pk.column)
    columns = ", ".join(quote(f.column) for f in _INSERT_FIELDS)
    # The driver's own placeholder: this statement bypasses Django's cursor (sqlite3 takes `?`).
    placeholder = "?" if connection.vendor == "sqlite" else "%s"
    values = ", ".join([placeholder] * len(_INSERT_FIELDS))
    # Names come from the model, quoted; every value is a bound parameter.
    sql = f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT ({key}) DO NOTHING RETURNING {pk}"  # nosec B608
    return sql


def _insert_params(row: StripeEvent) -> list[Any]:
    now = timezone.now()
    row.received_at = row.enqueued_at = now
    return [f.get_db_prep_save(getattr(row, f.attname), connection) for f in _INSERT_FIELDS]


def _publish(stripe_event_id: int) -> bool:
    from worker.tasks import process_stripe_event

    try:
        process_stripe_event.delay(stripe_event_id)
    except Exception:  # the broker is down: the row is safe in the inbox, the sweeper re-sends it
        logger.warning("enqueue of stripe event row %s failed; the sweeper will retry it", stripe_event_id, exc_info=True)
        return False
    return True


def stripe_event_store(*, event: dict[str, Any], payload: bytes) -> StripeEvent | None:
    """Stores a verified event; returns the new row, or None when its Stripe id is already stored."""
    try:
        with transaction.atomic():
            row = _new_row(event, payload)
            row.save(force_insert=True)
            return row
    except IntegrityError:
        if StripeEvent.objects.filter(stripe_id=event["id"]).exists():
            return None
        raise


def stripe_event_enqueue(*, stripe_event_id: int) -> bool:
    """Hands a stored row to the broker; a failure is logged and left to the sweeper."""
    if not _publish(stripe_event_id):
        return False
    try:
        StripeEvent.objects.filter(pk=stripe_event_id, status__in=StripeEvent.UNFINISHED_STATUSES).update(
            status=StripeEvent.Status.ENQUEUED, enqueued_at=timezone.now()
        )
    except DatabaseError:  # only bookkeeping: the task is on its way
        logger.warning("could not mark stripe event row %s enqueued", stripe_event_id, exc_info=True)
    return True


def stripe_events_requeue_stale(*, older_than: timedelta) -> int:
    """Re-enqueues rows stored or handed over more than `older_than` ago and still unprocessed."""
    cutoff = timezone.now() - older_than
    stale = StripeEvent.objects.filter(status__in=StripeEvent.UNFINISHED_STATUSES, received_at__lt=cutoff).exclude(
        enqueued_at__gte=cutoff
    )
    count = 0
    for stripe_event_id in stale.values_list("pk", flat=True).order_by("received_at")[:5000]:
        if not stripe_event_enqueue(stripe_event_id=stripe_event_id):
            break  # the broker is still down; the next sweep tries again
        count += 1
    if count:
        logger.warning("re-enqueued %s stripe events that never reached a worker", count)
    return count
