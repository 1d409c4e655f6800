"""The webhook inbox: store a verified Stripe event once, hand it to the workers, sweep what never arrived."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from payments.models import StripeEvent

logger = logging.getLogger(__name__)


def _payment_intent_id(event: dict[str, Any]) -> str:
    obj = event["data"]["object"]
    if obj.get("object") == "payment_intent":
        return str(obj.get("id") or "")
    payment_intent = obj.get("payment_intent")
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id")
    return str(payment_intent or "")


def stripe_event_store(*, event: dict[str, Any], payload: bytes) -> StripeEvent | None:
    """Stores a verified event; returns the new row, or None when its Stripe id is already stored."""
    try:
        with transaction.atomic():
            return StripeEvent.objects.create(
                stripe_id=event["id"],
                type=event["type"][:100],
                livemode=bool(event.get("livemode")),
                api_version=str(event.get("api_version") or "")[:64],
                payment_intent_id=_payment_intent_id(event)[:255],
                payload=payload.decode("utf-8"),
            )
    except IntegrityError:
        if StripeEvent.objects.filter(stripe_id=event["id"]).exists():
            return None
        raise


def stripe_event_enqueue(*, stripe_event_id: int) -> bool:
    """Hands a stored row to the broker; a failure is logged and left to the sweeper."""
    from worker.tasks import process_stripe_event

    try:
        process_stripe_event.delay(stripe_event_id)
    except Exception:  # the broker is down: the row is safe in the inbox, the sweeper re-sends it
        logger.warning("enqueue of stripe event row %s failed; the sweeper will retry it", stripe_event_id, exc_info=True)
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
