"""Fulfilment: apply a stored Stripe event to our ledger, exactly once in effect.

Every change runs in one transaction that locks the event row, then the payment row
(checkout locks in the same order), and is guarded by the payment's current state:
a duplicate, a late or an out-of-order event, a redelivered task or an operator's
retry changes nothing the second time. A snapshot event carries its object; a thin event names it, and
the object is fetched from Stripe before the transaction (a Stripe call never holds a lock), then goes
through the same handlers and guards: the same change arriving both ways changes the payment once.

Each handler reads the gateway's typed object and changes the payment through the transition service
(`transitions.payment_transition`, the one place a payment's status changes); this layer maps what
happened to the payment to the inbox row's outcome.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from django.db import transaction

from payments import stripe_gateway
from payments.consts import StripeEventType, StripeObjectType
from payments.models import Payment, StripeEvent
from payments.services import inbox, receipts
from payments.services.inbox import Outcome
from payments.services.transitions import Change, Transition, payment_transition
from payments.stripe_gateway import StripeCharge, StripeDispute, StripeIntent, livemode

logger = logging.getLogger(__name__)

Status = Payment.Status


def process_stripe_event(*, stripe_event_id: int) -> str:
    """Applies one inbox row through the handler table; returns the row's resulting status.

    Two steps: a thin event's object is fetched from Stripe first, outside any transaction (a Stripe call
    never holds a lock), then the row is locked, checked again (a duplicate may have finished it
    meanwhile) and applied. An attempt that raises rolls back whole; the task records it
    (`inbox.stripe_event_record_attempt`), and a transient error fetching the object is retried the same way."""
    row = StripeEvent.objects.filter(pk=stripe_event_id).first()
    if row is None:
        logger.warning("stripe event row %s does not exist", stripe_event_id)
        return ""
    if row.status in StripeEvent.FINISHED_STATUSES:
        return row.status
    fetched = _thin_event_object(row) if _wants_object(row) else None
    return _apply_locked(stripe_event_id, fetched=fetched)


def _apply_locked(stripe_event_id: int, *, fetched: dict[str, Any] | Outcome | None) -> str:
    """Locks the row and, if it is still open, applies it and closes it; returns its resulting status.
    `fetched` is a thin event's object (or the outcome when there is none to apply); None for a snapshot."""
    with transaction.atomic():
        row = StripeEvent.objects.select_for_update().filter(pk=stripe_event_id).first()
        if row is None or row.status in StripeEvent.FINISHED_STATUSES:  # pruned, or finished by a duplicate
            return row.status if row else ""
        outcome = _apply(row, fetched)
        inbox.stripe_event_close(stripe_event_id=row.pk, outcome=outcome)
    outcome_log(row, outcome)
    return outcome.status


def outcome_log(row: StripeEvent, outcome: Outcome) -> None:
    """One log line per closed inbox row, an error when it failed (both fulfilment paths)."""
    log = logger.error if outcome.status == StripeEvent.Status.FAILED else logger.info
    log(
        "stripe event %s %s: %s",
        row.stripe_id,
        outcome.status,
        outcome.reason or row.type,
        extra={"stripe_event_id": row.stripe_id, "payment_intent_id": row.payment_intent_id},
    )


def _mode(live: bool) -> str:
    return "live-mode" if live else "test-mode"


def _handlers(row: StripeEvent) -> dict[str, Handler[Any]]:
    return THIN_HANDLERS if row.kind == StripeEvent.Kind.THIN else HANDLERS


def applies(row: StripeEvent) -> bool:
    """Whether fulfilment acts on the row: a type it has a handler for, in EventPay's own Stripe mode.
    Any other row is closed `ignored` with the reason `skipped` gives, and changes nothing else."""
    return row.type in _handlers(row) and row.livemode == livemode()


def skipped(row: StripeEvent) -> Outcome:
    """The outcome of a row fulfilment does not act on (`applies` is False): why it was ignored."""
    if row.livemode != livemode():
        # A test-mode event on a live endpoint (or the reverse): signed, stored, but not ours to apply.
        return Outcome.ignored(f"A {_mode(row.livemode)} event; EventPay runs with a {_mode(livemode())} key.")
    if row.type == StripeEventType.EVENT_DESTINATION_PING:
        return Outcome.ignored("An event destination's ping: answered and recorded, nothing to apply.")
    return Outcome.ignored(f"EventPay does not act on {row.type}.")


def _wants_object(row: StripeEvent) -> bool:
    """A thin event EventPay acts on, in its own Stripe mode: its object is fetched before it is applied."""
    return row.kind == StripeEvent.Kind.THIN and applies(row)


def _thin_event_object(row: StripeEvent) -> dict[str, Any] | Outcome:
    """A thin event's related object as Stripe has it now, or the outcome when there is none to apply.
    Called outside any transaction: it waits on Stripe."""
    object_type, object_id = row.related_object_type, row.related_object_id
    if (
        object_type == StripeObjectType.PAYMENT_INTENT
        and not Payment.objects.filter(payment_intent_id=object_id).exists()
    ):
        return Outcome.ignored(f"PaymentIntent {object_id} was not created by EventPay.")
    try:
        return stripe_gateway.retrieve_object(object_type=object_type, object_id=object_id)
    except stripe_gateway.TransientStripeError:
        raise  # the task retries with backoff
    except stripe_gateway.StripeGatewayError as exc:
        return Outcome.failed(f"Stripe did not return {object_type} {object_id}: {exc}")


def _apply(row: StripeEvent, fetched: dict[str, Any] | Outcome | None) -> Outcome:
    """The outcome of a locked, open row: its handler applied to its object (the payload's, or the fetched one)."""
    if not applies(row):
        return skipped(row)
    handler = _handlers(row)[row.type]
    if row.kind == StripeEvent.Kind.SNAPSHOT:
        return handler.apply(handler.read(json.loads(row.payload)["data"]["object"]))
    if isinstance(fetched, Outcome):
        return fetched
    if fetched is None:  # `process_stripe_event` fetches every thin event that has a handler
        raise ValueError(f"Thin event {row.stripe_id} reached its handler without its object.")
    obj = handler.read(fetched)
    if obj.payment_intent_id and not row.payment_intent_id:
        inbox.stripe_event_note_payment_intent(stripe_event_id=row.pk, payment_intent_id=obj.payment_intent_id)
        row.payment_intent_id = obj.payment_intent_id
    return handler.apply(obj)


def outcome_of(transition: Transition) -> Outcome:
    """The inbox row's outcome for what happened to its payment: a mismatch waits for an operator."""
    if transition.change == Change.UNKNOWN:
        return Outcome.ignored(transition.reason)
    if transition.change == Change.MISMATCH:
        return Outcome.failed(transition.reason)
    return Outcome.processed(transition.reason)


# Handlers: one per event type, each reads the event's `data.object` as the gateway's typed object.


class _AboutAPayment(Protocol):
    @property
    def payment_intent_id(self) -> str: ...


T = TypeVar("T", bound=_AboutAPayment)


@dataclass(frozen=True)
class Handler(Generic[T]):
    """How one event type is applied: `read` types its object (`StripeIntent.from_dict`, …), `apply` acts on it."""

    read: Callable[[dict[str, Any]], T]
    apply: Callable[[T], Outcome]


def _intent_handler(target: str) -> Handler[StripeIntent]:
    def handle(intent: StripeIntent) -> Outcome:
        return outcome_of(payment_transition(payment_intent_id=intent.id, target=target, intent=intent))

    return Handler(StripeIntent.from_dict, handle)


def handle_charge_refunded(charge: StripeCharge) -> Outcome:
    if not charge.payment_intent_id:
        return Outcome.ignored("Charge has no PaymentIntent.")
    if not charge.refunded:
        return Outcome.processed(f"Partial refund of {charge.amount_refunded} of {charge.amount}; payment unchanged.")
    return outcome_of(payment_transition(payment_intent_id=charge.payment_intent_id, target=Status.REFUNDED))


def handle_charge_dispute_closed(dispute: StripeDispute) -> Outcome:
    """A lost dispute took the money back, as a refund does: the payment becomes `refunded` (the
    contract's states are kept; the inbox row's outcome says why) and the event stops being live."""
    if not dispute.payment_intent_id:
        return Outcome.ignored("Dispute has no PaymentIntent.")
    if not dispute.lost:
        return Outcome.processed(f"Dispute {dispute.id} closed as {dispute.status}; payment unchanged.")
    outcome = outcome_of(payment_transition(payment_intent_id=dispute.payment_intent_id, target=Status.REFUNDED))
    return Outcome(outcome.status, f"Dispute {dispute.id} lost. {outcome.reason}")


def handle_charge_succeeded(charge: StripeCharge) -> Outcome:
    """The card and Stripe's receipt link, for the receipt; the payment's state comes from its intent's events."""
    payment = charge.payment_intent_id and Payment.objects.filter(payment_intent_id=charge.payment_intent_id).first()
    if not payment:
        return Outcome.ignored("Charge of a PaymentIntent not created by EventPay.")
    receipts.payment_record_charge(payment_id=payment.pk, charge=charge)
    return Outcome.processed(f"Card details of payment {payment.pk} recorded.")


# The PaymentIntent events, each with the state it moves the intent's payment to.
INTENT_TARGETS: dict[str, str] = {
    StripeEventType.PAYMENT_INTENT_SUCCEEDED: Status.SUCCEEDED,
    StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED: Status.FAILED,
    StripeEventType.PAYMENT_INTENT_PROCESSING: Status.PENDING,
    StripeEventType.PAYMENT_INTENT_CANCELED: Status.CANCELED,
}

HANDLERS: dict[str, Handler[Any]] = {
    **{event_type: _intent_handler(target) for event_type, target in INTENT_TARGETS.items()},
    StripeEventType.CHARGE_REFUNDED: Handler(StripeCharge.from_dict, handle_charge_refunded),
    StripeEventType.CHARGE_DISPUTE_CLOSED: Handler(StripeDispute.from_dict, handle_charge_dispute_closed),
    StripeEventType.CHARGE_SUCCEEDED: Handler(StripeCharge.from_dict, handle_charge_succeeded),
}

# Each snapshot type's thin twin (`v1.charge.refunded`), applied by the same handler to the fetched object.
THIN_HANDLERS = {StripeEventType.thin(event_type): handler for event_type, handler in HANDLERS.items()}
