"""Fulfilment: apply a stored Stripe event to our ledger, exactly once in effect.

Every change runs in one transaction that locks the event row, then the payment row
(checkout locks in the same order), and is guarded by the payment's current state:
a duplicate, a late or an out-of-order event, a redelivered task or an operator's
retry changes nothing the second time. Payment states follow ../shared/CONTRACT.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from events.models import Event
from payments.consts import StripeEventType
from payments.models import Payment, StripeEvent
from payments.stripe_gateway import StripeIntent

logger = logging.getLogger(__name__)

Status = Payment.Status

# Which states each target may be reached from; anything else is a late or duplicate event.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.PENDING, Status.FAILED}),
    Status.SUCCEEDED: frozenset({Status.PENDING, Status.FAILED}),
    Status.FAILED: frozenset({Status.PENDING, Status.FAILED}),
    Status.CANCELED: frozenset({Status.PENDING, Status.FAILED}),
    # A full refund proves the payment was taken; it may overtake its own `succeeded` event.
    Status.REFUNDED: frozenset({Status.PENDING, Status.FAILED, Status.SUCCEEDED}),
}

# A PaymentIntent's status (from Stripe's API, for reconciliation) as our payment state.
INTENT_STATUS_TO_PAYMENT_STATUS: dict[str, str] = {
    "succeeded": Status.SUCCEEDED,
    "processing": Status.PENDING,
    "canceled": Status.CANCELED,
    "requires_payment_method": Status.PENDING,
    "requires_confirmation": Status.PENDING,
    "requires_action": Status.PENDING,
    "requires_capture": Status.PENDING,
}


@dataclass(frozen=True)
class Outcome:
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


class PaymentMismatch(Exception):
    """Stripe's intent does not match our payment: never activate, let an operator look."""


def process_stripe_event(*, stripe_event_id: int) -> str:
    """Applies one inbox row through the handler table; returns the row's resulting status.

    An attempt that raises rolls back whole; the task records it (`stripe_event_record_attempt`)."""
    with transaction.atomic():
        row = StripeEvent.objects.select_for_update().filter(pk=stripe_event_id).first()
        if row is None:
            logger.warning("stripe event row %s does not exist", stripe_event_id)
            return ""
        if row.status in StripeEvent.FINISHED_STATUSES:
            return row.status
        handler = HANDLERS.get(row.type)
        if handler is None:
            outcome = Outcome.ignored(f"EventPay does not act on {row.type}.")
        else:
            outcome = handler(json.loads(row.payload)["data"]["object"])
        row.status = outcome.status
        row.attempts += 1
        row.last_error = outcome.reason if outcome.status == StripeEvent.Status.FAILED else ""
        row.processed_at = timezone.now()
        row.save(update_fields=["status", "attempts", "last_error", "processed_at"])
    log = logger.error if outcome.status == StripeEvent.Status.FAILED else logger.info
    log(
        "stripe event %s %s: %s",
        row.stripe_id,
        outcome.status,
        outcome.reason or row.type,
        extra={"stripe_event_id": row.stripe_id, "payment_intent_id": row.payment_intent_id},
    )
    return outcome.status


def stripe_event_record_attempt(*, stripe_event_id: int, error: str) -> None:
    """An attempt that raised (and will be retried): count it and keep its error for operators."""
    StripeEvent.objects.filter(pk=stripe_event_id).exclude(status__in=StripeEvent.FINISHED_STATUSES).update(
        attempts=F("attempts") + 1, last_error=error[:2000]
    )


def stripe_event_mark_failed(*, stripe_event_id: int, error: str) -> None:
    """Retries are used up: leave the row for an operator (unless it finished meanwhile)."""
    updated = (
        StripeEvent.objects.filter(pk=stripe_event_id)
        .exclude(status__in=StripeEvent.FINISHED_STATUSES)
        .update(
            status=StripeEvent.Status.FAILED,
            attempts=F("attempts") + 1,
            last_error=error[:2000],
            processed_at=timezone.now(),
        )
    )
    if updated:
        logger.error("stripe event row %s failed after its retries: %s", stripe_event_id, error)


def payment_apply_intent(*, payment_intent_id: str, target: str, intent: StripeIntent | None = None) -> Outcome:
    """Moves the payment of a PaymentIntent to `target` if its state allows; activates or deactivates its event."""
    # Event first, then payment: the order checkout locks them in.
    event = Event.objects.select_for_update(of=("self",)).filter(payments__payment_intent_id=payment_intent_id).first()
    if event is None:
        return Outcome.ignored(f"PaymentIntent {payment_intent_id} was not created by EventPay.")
    payment = Payment.objects.select_for_update().get(payment_intent_id=payment_intent_id)

    if payment.status == target and target != Status.FAILED:
        return Outcome.processed(f"Payment {payment.pk} already {target}.")
    if payment.status not in ALLOWED_TRANSITIONS[target]:
        return Outcome.processed(f"Payment {payment.pk} stays {payment.status}; {target} arrived late.")

    if target == Status.SUCCEEDED:
        try:
            _check_intent_matches(payment=payment, intent=intent)
        except PaymentMismatch as exc:
            payment.last_error = str(exc)
            payment.save(update_fields=["last_error", "updated_at"])
            logger.error("payment %s not activated: %s", payment.pk, exc, extra={"payment_id": payment.pk})
            return Outcome.failed(str(exc))

    was_succeeded = payment.status == Status.SUCCEEDED
    payment.status = target
    payment.last_error = intent.last_error if (target == Status.FAILED and intent) else ""
    payment.save(update_fields=["status", "last_error", "updated_at"])
    if target == Status.SUCCEEDED:
        _event_set_active(event, True)
    elif was_succeeded:
        _event_set_active(event, event.payments.filter(status=Status.SUCCEEDED).exists())
    return Outcome.processed(f"Payment {payment.pk} is {target}.")


def _check_intent_matches(*, payment: Payment, intent: StripeIntent | None) -> None:
    if intent is None:
        raise PaymentMismatch("No PaymentIntent data to check the payment against.")
    if intent.currency != payment.currency:
        raise PaymentMismatch(f"Currency {intent.currency!r} does not match the payment's {payment.currency!r}.")
    if intent.amount_received != payment.amount:
        raise PaymentMismatch(
            f"Amount received {intent.amount_received} does not match the payment's {payment.amount}."
        )
    expected = {"payment_id": str(payment.pk), "event_id": str(payment.event_id)}
    if any(intent.metadata.get(key) != value for key, value in expected.items()):
        raise PaymentMismatch(f"Metadata {intent.metadata!r} does not name payment {payment.pk}.")


def _event_set_active(event: Event, active: bool) -> None:
    """`Event.is_active` is true exactly while one of its payments is succeeded."""
    if event.is_active == active:
        return
    event.is_active = active
    if active:
        event.activated_at = timezone.now()
    event.save(update_fields=["is_active", "activated_at"])


# Handlers: one per event type, each takes the event's `data.object`.


def _intent_handler(target: str) -> Callable[[dict[str, Any]], Outcome]:
    def handle(obj: dict[str, Any]) -> Outcome:
        intent = StripeIntent.from_dict(obj)
        return payment_apply_intent(payment_intent_id=intent.id, target=target, intent=intent)

    return handle


def handle_charge_refunded(charge: dict[str, Any]) -> Outcome:
    payment_intent_id = charge.get("payment_intent")
    if isinstance(payment_intent_id, dict):
        payment_intent_id = payment_intent_id.get("id")
    if not payment_intent_id:
        return Outcome.ignored("Charge has no PaymentIntent.")
    amount = int(charge.get("amount") or 0)
    refunded = int(charge.get("amount_refunded") or 0)
    if not (charge.get("refunded") or (amount and refunded >= amount)):
        return Outcome.processed(f"Partial refund of {refunded} of {amount}; payment unchanged.")
    return payment_apply_intent(payment_intent_id=payment_intent_id, target=Status.REFUNDED)


HANDLERS: dict[str, Callable[[dict[str, Any]], Outcome]] = {
    StripeEventType.PAYMENT_INTENT_SUCCEEDED: _intent_handler(Status.SUCCEEDED),
    StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED: _intent_handler(Status.FAILED),
    StripeEventType.PAYMENT_INTENT_PROCESSING: _intent_handler(Status.PENDING),
    StripeEventType.PAYMENT_INTENT_CANCELED: _intent_handler(Status.CANCELED),
    StripeEventType.CHARGE_REFUNDED: handle_charge_refunded,
}
