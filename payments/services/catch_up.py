"""Catching up: Stripe's events that never reached the webhook (an outage longer than a delivery's
retries, a lost delivery) are stored in the inbox as the webhook would have, and enqueued."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from payments import stripe_gateway
from payments.models import OperatorAction, StripeEvent
from payments.services import inbox
from payments.services.audit import Actor, operator_action_recorder, stripe_event_log_context
from payments.services.fulfilment import HANDLERS

logger = logging.getLogger(__name__)

# Stripe retries a delivery for up to three days: an endpoint outage shorter than that heals by itself.
CATCH_UP_WINDOW = timedelta(days=3)
_CHUNK = 500


@dataclass
class CatchUp:
    listed: int = 0
    stored: int = 0
    errors: list[str] = field(default_factory=list)


def stripe_events_missing(*, since: datetime) -> Iterator[dict[str, Any]]:
    """Stripe's events since `since`, of the types EventPay acts on, that the inbox does not hold, oldest first."""
    listed = [
        event
        for event in stripe_gateway.list_events(created_after=int(since.timestamp()) - 1, types=sorted(HANDLERS))
        # The offline stand-in cannot filter by several types: filter here too.
        if event.get("type") in HANDLERS
    ]
    listed.sort(key=lambda event: (event.get("created") or 0, event["id"]))
    for start in range(0, len(listed), _CHUNK):
        chunk = listed[start : start + _CHUNK]
        known = set(
            StripeEvent.objects.filter(stripe_id__in=[e["id"] for e in chunk]).values_list("stripe_id", flat=True)
        )
        yield from (event for event in chunk if event["id"] not in known)


def stripe_event_catch_up(*, event: dict[str, Any], actor: Actor) -> OperatorAction | None:
    """Stores one missed event in the inbox, as the webhook would have, and enqueues it; None if it is stored already."""
    payload = json.dumps(event, separators=(",", ":")).encode()
    row = inbox.stripe_event_store(event=event, payload=payload)
    if row is None:
        return None

    record = operator_action_recorder(actor=actor, action=OperatorAction.Action.CATCH_UP, stripe_event=row)

    with stripe_event_log_context(row):
        logger.warning("stored missed stripe event %s (%s) from Stripe's event list", row.stripe_id, row.type)
        if not inbox.stripe_event_enqueue(stripe_event_id=row.pk):
            return record(OperatorAction.Outcome.ERROR, "Stored; the broker is unavailable, the sweeper will send it.")
        return record(OperatorAction.Outcome.DONE, "Stored from Stripe's event list and enqueued.")


def stripe_events_catch_up(*, since: datetime, actor: Actor) -> CatchUp:
    """Lists Stripe's events since `since`, stores and enqueues the missing ones (beat runs it hourly)."""
    result = CatchUp()
    for event in stripe_events_missing(since=since):
        result.listed += 1
        record = stripe_event_catch_up(event=event, actor=actor)
        if record is None:
            continue
        result.stored += 1
        if record.outcome == OperatorAction.Outcome.ERROR:
            result.errors.append(f"{event['id']}: {record.detail}")
    if result.stored:
        logger.warning("caught up %s missed stripe events since %s", result.stored, since.isoformat())
    return result
