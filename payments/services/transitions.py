"""The one place a payment's status changes.

Every path (a webhook's or a thin event's fulfilment, reconciliation, cancelling an abandoned intent,
an operator's refund or review, reopening checkout, deleting a draft) calls `payment_transition`: it
locks the event then the payment (the order checkout locks them in), applies ALLOWED_TRANSITIONS,
stamps the moments, keeps `Event.is_active` and `Event.payment_status` in step, records the organiser's
email and schedules the after-commit work. The caller owns the transaction.

The rules (`transition_allowed`, `stamps_for`, `needs_charge_details`) are pure functions of the
payment's state and Stripe's facts, apart from the locking and writing, so a batched path can reuse them.

Payment states: pending → succeeded | failed | canceled; failed → pending | succeeded (a new attempt
on the same PaymentIntent); succeeded → refunded. Nothing leaves succeeded but a refund, and a late
or duplicate event never moves a payment backwards.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from events.models import Event
from payments.consts import IntentStatus
from payments.models import Payment
from payments.services import notifications, receipts
from payments.services.bulk_writes import rows_update
from payments.stripe_gateway import StripeIntent, charge_events_are_sent

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


class Change(enum.StrEnum):
    CHANGED = "changed"  # the payment moved to the target
    UNCHANGED = "unchanged"  # it already was there: a duplicate
    REFUSED = "refused"  # ALLOWED_TRANSITIONS: a late or out-of-order change
    MISMATCH = "mismatch"  # Stripe's intent does not match the payment: never activated
    UNKNOWN = "unknown"  # no such payment (not created by EventPay)


@dataclass(frozen=True)
class Transition:
    """What happened to the payment; `reason` says it in words for logs, audit rows and inbox rows."""

    change: Change
    reason: str
    payment_id: int | None = None
    status: str = ""

    @property
    def changed(self) -> bool:
        return self.change == Change.CHANGED


def payment_status_for_intent(intent: StripeIntent) -> str:
    """Our payment state for a PaymentIntent's status at Stripe (reconciliation's question)."""
    if intent.status == IntentStatus.SUCCEEDED:
        return Status.SUCCEEDED
    if intent.status == IntentStatus.CANCELED:
        return Status.CANCELED
    if intent.status == IntentStatus.REQUIRES_PAYMENT_METHOD and intent.last_error:
        return Status.FAILED  # the last attempt was declined
    return Status.PENDING


def transition_allowed(*, current: str, target: str) -> Change:
    """CHANGED when `current` may move to `target`; UNCHANGED for a duplicate; REFUSED otherwise.
    A repeated failure is a new decline (its error is new), so it changes the payment again."""
    if current == target and target != Status.FAILED:
        return Change.UNCHANGED
    if current not in ALLOWED_TRANSITIONS[target]:
        return Change.REFUSED
    return Change.CHANGED


def stamps_for(*, succeeded_at: datetime | None, target: str, now: datetime) -> dict[str, datetime]:
    """The moments `target` marks. A refund may overtake its own success event: it proves the payment was taken."""
    stamps = {}
    if target in (Status.SUCCEEDED, Status.REFUNDED) and succeeded_at is None:
        stamps["succeeded_at"] = now
    if target == Status.REFUNDED:
        stamps["refunded_at"] = now
    return stamps


def needs_charge_details(*, target: str) -> bool:
    """Whether a worker reads the card after the commit (Stripe's `charge.succeeded` brings it otherwise)."""
    return target == Status.SUCCEEDED and not charge_events_are_sent()


def intent_mismatch(*, payment: Payment, intent: StripeIntent | None) -> str:
    """Why Stripe's intent does not match the payment, or "" when it does."""
    if intent is None:
        return "No PaymentIntent data to check the payment against."
    if intent.currency != payment.currency:
        return f"Currency {intent.currency!r} does not match the payment's {payment.currency!r}."
    if intent.amount_received != payment.amount:
        return f"Amount received {intent.amount_received} does not match the payment's {payment.amount}."
    expected = {"payment_id": str(payment.pk), "event_id": str(payment.event_id)}
    if any(intent.metadata.get(key) != value for key, value in expected.items()):
        return f"Metadata {intent.metadata!r} does not name payment {payment.pk}."
    return ""


def payment_transition(
    *,
    target: str,
    payment_intent_id: str | None = None,
    payment_id: int | None = None,
    intent: StripeIntent | None = None,
    accepted_after_review: bool = False,
) -> Transition:
    """Moves one payment (named by its PaymentIntent or its id) to `target` if its state allows.

    A success is checked against Stripe's `intent` (amount, currency, metadata) unless an operator
    accepted it after review. Runs in the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_transition runs inside the caller's transaction")
    lookup = {"payment_intent_id": payment_intent_id} if payment_intent_id else {"pk": payment_id}
    # One locking read for both rows. PostgreSQL locks a joined row's tables in the order `of` names
    # them: the event first, then the payment, the order checkout locks them in. The organiser comes
    # along, unlocked, for the email.
    try:
        payment = Payment.objects.select_related("event", "user").select_for_update(of=("event", "self")).get(**lookup)
    except Payment.DoesNotExist:
        return Transition(Change.UNKNOWN, f"PaymentIntent {payment_intent_id} was not created by EventPay.")
    event = payment.event

    was_succeeded = payment.status == Status.SUCCEEDED
    result, written = _transition_in_memory(
        payment, target=target, intent=intent, accepted_after_review=accepted_after_review
    )
    if written:
        payment.save(update_fields=written)
    if not result.changed:
        return result
    # The organiser's email for this fact, once per payment and kind, in this transaction.
    notifications.notification_record(payment=payment)
    if needs_charge_details(target=target) or (accepted_after_review and target == Status.SUCCEEDED):
        receipts.charge_details_fetch_on_commit(payment=payment)
    if target == Status.SUCCEEDED:
        active = True
    elif was_succeeded:
        active = event.payments.filter(status=Status.SUCCEEDED).exists()
    else:
        active = event.is_active
    event_follow_payment(event, payment_status=target, active=active)
    return result


def _transition_in_memory(
    payment: Payment, *, target: str, intent: StripeIntent | None, accepted_after_review: bool
) -> tuple[Transition, list[str]]:
    """The guarded transition applied to the locked payment's instance, unsaved; and the fields the caller
    writes (the status, error and stamps when it CHANGED, the error alone on a MISMATCH, none otherwise)."""
    change = transition_allowed(current=payment.status, target=target)
    if change == Change.UNCHANGED:
        return Transition(change, f"Payment {payment.pk} already {target}.", payment.pk, payment.status), []
    if change == Change.REFUSED:
        reason = f"Payment {payment.pk} stays {payment.status}; {target} arrived late."
        return Transition(change, reason, payment.pk, payment.status), []
    if target == Status.SUCCEEDED and not accepted_after_review:
        mismatch = intent_mismatch(payment=payment, intent=intent)
        if mismatch:
            payment.last_error = mismatch
            logger.error("payment %s not activated: %s", payment.pk, mismatch, extra={"payment_id": payment.pk})
            return Transition(Change.MISMATCH, mismatch, payment.pk, payment.status), ["last_error", "updated_at"]

    stamps = stamps_for(succeeded_at=payment.succeeded_at, target=target, now=timezone.now())
    for field, moment in stamps.items():
        setattr(payment, field, moment)
    payment.status = target
    payment.last_error = intent.last_error if (target == Status.FAILED and intent) else ""
    changed = Transition(Change.CHANGED, f"Payment {payment.pk} is {target}.", payment.pk, target)
    return changed, ["status", "last_error", "updated_at", *stamps]


def event_follow_payment(event: Event, *, payment_status: str, active: bool) -> None:
    """Keeps the event's view of its payments in one UPDATE: `payment_status` (its latest payment's) and
    `is_active` (true exactly while one of its payments is succeeded). The caller holds the event's lock.

    The latest payment is the one that changed: an event has at most one open payment, and a closed
    one changes only from succeeded to refunded, when the event has no newer payment."""
    fields = _event_follow_in_memory(event, payment_status=payment_status, active=active)
    if fields:
        event.save(update_fields=fields)


def _event_follow_in_memory(event: Event, *, payment_status: str, active: bool) -> list[str]:
    """`event_follow_payment` on the instance, unsaved: the fields it changed."""
    fields = []
    if event.payment_status != payment_status:
        event.payment_status = payment_status
        fields.append("payment_status")
    if event.is_active != active:
        event.is_active = active
        fields.append("is_active")
        if active:
            event.activated_at = timezone.now()
            fields.append("activated_at")
    return fields


# The targets a batch may move payments to: none of them is reached from `succeeded`, so whether the
# event stays active needs no look at its other payments (a refund's does: it goes one at a time).
BULK_TARGETS = frozenset({Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.CANCELED})


@dataclass(frozen=True)
class IntentFact:
    """What one Stripe event says: the PaymentIntent as it was, and the state its payment moves to."""

    intent: StripeIntent
    target: str


def payment_transitions_bulk(*, facts: Sequence[IntentFact]) -> list[Transition | None]:
    """`payment_transition` for many facts, applied in the order given as one call after the other would,
    with a constant number of statements: one locking read of the payments with their events and
    organisers, then one write each of the payments, the emails and the events.

    Payments another transaction holds (SKIP LOCKED: the batch never waits) or that do not exist are
    left alone; their facts answer None, for the caller to apply one at a time, which waits for the lock
    or finds the payment unknown. Runs in the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_transitions_bulk runs inside the caller's transaction")
    if any(fact.target not in BULK_TARGETS for fact in facts):
        raise ValueError(f"payment_transitions_bulk moves payments to {sorted(BULK_TARGETS)} only")
    payments = {
        payment.payment_intent_id: payment
        for payment in Payment.objects.select_related("event", "user")
        .select_for_update(of=("event", "self"), skip_locked=True)
        .filter(payment_intent_id__in={fact.intent.id for fact in facts})
        .order_by()
    }
    events: dict[int, Event] = {}
    for locked in payments.values():  # payments of one event share its instance, as its row
        locked.event = events.setdefault(locked.event_id, locked.event)

    results: list[Transition | None] = []
    written_payments: dict[int, Payment] = {}
    written_events: dict[int, Event] = {}
    reached: list[tuple[Payment, str]] = []
    for fact in facts:
        payment = payments.get(fact.intent.id)
        if payment is None:
            results.append(None)
            continue
        result, written = _transition_in_memory(
            payment, target=fact.target, intent=fact.intent, accepted_after_review=False
        )
        results.append(result)
        if written:
            written_payments[payment.pk] = payment
        if not result.changed:
            continue
        reached.append((payment, fact.target))
        if needs_charge_details(target=fact.target):
            receipts.charge_details_fetch_on_commit(payment=payment)
        active = fact.target == Status.SUCCEEDED or payment.event.is_active
        if _event_follow_in_memory(payment.event, payment_status=fact.target, active=active):
            written_events[payment.event_id] = payment.event

    now = timezone.now()
    for written_payment in written_payments.values():
        written_payment.updated_at = now  # `auto_now` is save()'s
    rows_update(list(written_payments.values()), ["status", "last_error", "updated_at", "succeeded_at", "refunded_at"])
    notifications.notifications_record(reached=reached)
    rows_update(list(written_events.values()), ["payment_status", "is_active", "activated_at"])
    return results
