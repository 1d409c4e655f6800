"""Operator actions on the webhook inbox and on payments, each recorded in the audit trail.

The admin console, the management commands and beat call these; they reuse the inbox
(store, enqueue), fulfilment (the worker's processing) and reconciliation (Stripe's
truth about a PaymentIntent), whose state guards make every action safe to repeat.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Min, QuerySet
from django.utils import timezone

from core.exceptions import ApplicationError
from core.logging import log_context
from payments import stripe_gateway
from payments.models import OperatorAction, Payment, StripeEvent
from payments.services import inbox, reconciliation
from payments.services.fulfilment import HANDLERS, Outcome

logger = logging.getLogger(__name__)

Action = OperatorAction.Action
Result = OperatorAction.Outcome

# Rows an operator may retry, re-fetch or ignore: not yet processed or ignored.
OPEN_STATUSES = (StripeEvent.Status.FAILED, *StripeEvent.UNFINISHED_STATUSES)
# An unprocessed row older than this is an alert (an ERROR record and the `eventpay_alert` metric).
BACKLOG_ALERT_AFTER = timedelta(minutes=5)
CATCH_UP_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class Actor:
    """Who acted: a staff user in the admin, or a command or beat run on the servers."""

    name: str
    user: Any = None

    @classmethod
    def from_user(cls, user) -> Actor:
        return cls(name=user.get_username(), user=user)

    @classmethod
    def process(cls, name: str) -> Actor:
        try:
            account = getpass.getuser()
        except Exception:  # no login name in some containers
            account = "unknown"
        return cls(name=f"{name} ({account})"[:150])


def _record(
    *,
    actor: Actor,
    action: str,
    outcome: str,
    detail: str,
    stripe_event: StripeEvent | None = None,
    payment: Payment | None = None,
    reason: str = "",
) -> OperatorAction:
    record = OperatorAction.objects.create(
        operator=actor.user,
        actor=actor.name,
        action=action,
        stripe_event=stripe_event,
        payment=payment,
        reason=reason,
        outcome=outcome,
        detail=detail[:2000],
    )
    log = logger.warning if outcome == Result.ERROR else logger.info
    log("operator action %s by %s: %s (%s)", action, actor.name, outcome, detail)
    return record


def _event_log_context(stripe_event: StripeEvent):
    return log_context(stripe_event_id=stripe_event.stripe_id, payment_intent_id=stripe_event.payment_intent_id)


# --- the webhook inbox -------------------------------------------------------------------------


def stripe_events_for_retry(
    *,
    failed_only: bool = False,
    ids: Iterable[str] = (),
    types: Iterable[str] = (),
    since: datetime | None = None,
) -> QuerySet[StripeEvent]:
    """Rows a retry applies to, oldest first: failed ones, and with `failed_only` off also stuck ones.

    `ids` are Stripe event ids (`evt_…`) or inbox row numbers; rows named by id are returned
    whatever their status, so the caller can report those that had nothing to retry.
    """
    ids = list(ids)
    if ids:
        numbers = [int(i) for i in ids if i.isdigit()]
        rows = StripeEvent.objects.filter(stripe_id__in=[i for i in ids if not i.isdigit()]) | StripeEvent.objects.filter(
            pk__in=numbers
        )
    else:
        rows = StripeEvent.objects.filter(status__in=(StripeEvent.Status.FAILED,) if failed_only else OPEN_STATUSES)
    if ids and failed_only:
        rows = rows.filter(status=StripeEvent.Status.FAILED)
    types = list(types)
    if types:
        rows = rows.filter(type__in=types)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    return rows.order_by("received_at", "id")


def stripe_event_retry(*, stripe_event: StripeEvent, actor: Actor) -> OperatorAction:
    """Hands a failed or stuck row back to the workers; its attempt count is kept."""
    with _event_log_context(stripe_event):
        reopened = StripeEvent.objects.filter(pk=stripe_event.pk, status__in=OPEN_STATUSES).update(
            status=StripeEvent.Status.RECEIVED
        )
        if not reopened:
            stripe_event.refresh_from_db(fields=["status"])
            return _record(
                actor=actor, action=Action.RETRY, stripe_event=stripe_event, outcome=Result.SKIPPED,
                detail=f"The row is {stripe_event.status}; there is nothing to retry.",
            )  # fmt: skip
        if not inbox.stripe_event_enqueue(stripe_event_id=stripe_event.pk):
            return _record(
                actor=actor, action=Action.RETRY, stripe_event=stripe_event, outcome=Result.ERROR,
                detail="The broker is unavailable; the row is back in the inbox and the sweeper will send it.",
            )  # fmt: skip
        return _record(
            actor=actor, action=Action.RETRY, stripe_event=stripe_event, outcome=Result.DONE,
            detail=f"Enqueued for processing after {stripe_event.attempts} attempt(s).",
        )  # fmt: skip


def stripe_event_refetch(*, stripe_event: StripeEvent, actor: Actor) -> OperatorAction:
    """Applies the PaymentIntent's current state at Stripe, instead of the stored event, and closes the row."""

    def record(outcome: str, detail: str) -> OperatorAction:
        return _record(actor=actor, action=Action.REFETCH, stripe_event=stripe_event, outcome=outcome, detail=detail)

    with _event_log_context(stripe_event):
        if not (stripe_event.type.startswith("payment_intent.") and stripe_event.payment_intent_id):
            return record(Result.SKIPPED, "Only PaymentIntent events can be re-fetched from Stripe.")
        if stripe_event.status not in OPEN_STATUSES:
            return record(Result.SKIPPED, f"The row is {stripe_event.status}; there is nothing to rerun.")
        payment = Payment.objects.filter(payment_intent_id=stripe_event.payment_intent_id).first()
        if payment is None:
            outcome = Outcome.ignored(f"PaymentIntent {stripe_event.payment_intent_id} was not created by EventPay.")
        else:
            try:
                with log_context(payment_id=payment.pk):
                    outcome = reconciliation.payment_reconcile(payment=payment)
            except stripe_gateway.StripeGatewayError as exc:
                return record(Result.ERROR, f"Stripe could not be asked: {exc}")
        closed = StripeEvent.objects.filter(pk=stripe_event.pk, status__in=OPEN_STATUSES).update(
            status=outcome.status,
            last_error=outcome.reason if outcome.status == StripeEvent.Status.FAILED else "",
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
        )
        if outcome.status == StripeEvent.Status.FAILED:
            logger.error("stripe event %s failed on re-fetch: %s", stripe_event.stripe_id, outcome.reason)
            return record(Result.ERROR, outcome.reason)
        if not closed:
            return record(Result.DONE, f"{outcome.reason} The row had been processed meanwhile.")
        return record(Result.DONE, outcome.reason or f"The row is {outcome.status}.")


def stripe_event_ignore(*, stripe_event: StripeEvent, actor: Actor, reason: str) -> OperatorAction:
    """Closes a row without processing it; the operator's reason is kept in the audit trail."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A reason is required to mark an event ignored.")
    with _event_log_context(stripe_event):
        ignored = StripeEvent.objects.filter(pk=stripe_event.pk, status__in=OPEN_STATUSES).update(
            status=StripeEvent.Status.IGNORED, processed_at=timezone.now()
        )
        if not ignored:
            stripe_event.refresh_from_db(fields=["status"])
            return _record(
                actor=actor, action=Action.IGNORE, stripe_event=stripe_event, outcome=Result.SKIPPED, reason=reason,
                detail=f"The row is {stripe_event.status}; it was left as it is.",
            )  # fmt: skip
        return _record(
            actor=actor, action=Action.IGNORE, stripe_event=stripe_event, outcome=Result.DONE, reason=reason,
            detail="Marked ignored.",
        )  # fmt: skip


def stripe_event_oldest_unprocessed() -> datetime | None:
    return StripeEvent.objects.filter(status__in=StripeEvent.UNFINISHED_STATUSES).aggregate(t=Min("received_at"))["t"]


def stripe_event_backlog_check() -> float:
    """Logs an ERROR (the alert) when the oldest unprocessed row is older than BACKLOG_ALERT_AFTER; returns its age."""
    oldest = stripe_event_oldest_unprocessed()
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    if age > BACKLOG_ALERT_AFTER.total_seconds():
        logger.error(
            "webhook inbox backlog: the oldest unprocessed Stripe event arrived %d s ago",
            age,
            extra={"alert": "stripe_event_backlog"},
        )
    return age


# --- catching up missed events ----------------------------------------------------------------


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
    for start in range(0, len(listed), 500):
        chunk = listed[start : start + 500]
        known = set(StripeEvent.objects.filter(stripe_id__in=[e["id"] for e in chunk]).values_list("stripe_id", flat=True))
        yield from (event for event in chunk if event["id"] not in known)


def stripe_event_catch_up(*, event: dict[str, Any], actor: Actor) -> OperatorAction | None:
    """Stores one missed event in the inbox, as the webhook would have, and enqueues it; None if it is stored already."""
    payload = json.dumps(event, separators=(",", ":")).encode()
    row = inbox.stripe_event_store(event=event, payload=payload)
    if row is None:
        return None
    record_kwargs = {"actor": actor, "action": Action.CATCH_UP, "stripe_event": row}
    with _event_log_context(row):
        logger.warning("stored missed stripe event %s (%s) from Stripe's event list", row.stripe_id, row.type)
        if not inbox.stripe_event_enqueue(stripe_event_id=row.pk):
            return _record(
                **record_kwargs, outcome=Result.ERROR,
                detail="Stored; the broker is unavailable, the sweeper will send it.",
            )  # fmt: skip
        return _record(**record_kwargs, outcome=Result.DONE, detail="Stored from Stripe's event list and enqueued.")


def stripe_events_catch_up(*, since: datetime, actor: Actor) -> CatchUp:
    """Lists Stripe's events since `since`, stores and enqueues the missing ones (beat runs it hourly)."""
    result = CatchUp()
    for event in stripe_events_missing(since=since):
        result.listed += 1
        record = stripe_event_catch_up(event=event, actor=actor)
        if record is None:
            continue
        result.stored += 1
        if record.outcome == Result.ERROR:
            result.errors.append(f"{event['id']}: {record.detail}")
    if result.stored:
        logger.warning("caught up %s missed stripe events since %s", result.stored, since.isoformat())
    return result


# --- payments ---------------------------------------------------------------------------------


def payments_for_reconcile(*, older_than: timedelta) -> QuerySet[Payment]:
    """Pending payments unchanged for `older_than`, oldest first."""
    cutoff = timezone.now() - older_than
    return Payment.objects.filter(
        status=Payment.Status.PENDING, updated_at__lt=cutoff, payment_intent_id__isnull=False
    ).order_by("updated_at", "id")


def payment_reconcile_now(*, payment: Payment, actor: Actor) -> OperatorAction:
    """Asks Stripe for the payment's PaymentIntent and applies it through fulfilment's own rules."""

    def record(outcome: str, detail: str) -> OperatorAction:
        return _record(actor=actor, action=Action.RECONCILE, payment=payment, outcome=outcome, detail=detail)

    with log_context(payment_id=payment.pk, payment_intent_id=payment.payment_intent_id):
        if not payment.payment_intent_id:
            return record(Result.SKIPPED, "The payment has no PaymentIntent.")
        try:
            outcome = reconciliation.payment_reconcile(payment=payment)
        except stripe_gateway.StripeGatewayError as exc:
            return record(Result.ERROR, f"Stripe could not be asked: {exc}")
        payment.refresh_from_db(fields=["status"])
        if outcome.status == StripeEvent.Status.FAILED:
            return record(Result.ERROR, outcome.reason)
        return record(Result.DONE, f"{outcome.reason} Status: {payment.status}.")
