"""Reconciliation: ask Stripe for the truth about payments whose webhook has not (yet) told us, and
apply it through fulfilment's own rules.

Beat's jobs are bounded so they cannot hammer Stripe: each run takes at most a batch, least recently
asked first (`Payment.reconciled_at`), an unchanged payment is asked ever less often, and a 429 from
Stripe stops the run and pauses every job for STRIPE_BACKOFF (a mark in the shared cache). Each
change a job makes to a payment is a row in the audit trail, marked automatic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core.logging import log_context
from payments import selectors, stripe_gateway
from payments.consts import IntentStatus
from payments.models import OperatorAction, Payment
from payments.services.audit import Actor, operator_action_record, operator_action_recorder
from payments.services.transitions import Change, Transition, payment_status_for_intent, payment_transition
from payments.stripe_gateway import StripeCharge, StripeIntent

logger = logging.getLogger(__name__)

# After a 429 no job asks Stripe for this long (the next runs start with nothing to do).
STRIPE_BACKOFF = timedelta(minutes=10)
_BACKOFF_KEY = "stripe-rate-limited"
# Succeeded payments are re-checked (refunds, disputes) once a day, for as long as a dispute can come.
CHARGE_RECHECK_EVERY = timedelta(days=1)
CHARGE_RECHECK_WITHIN = timedelta(days=120)

T = TypeVar("T")


class JobCounts(dict[str, int]):
    """A job's counts, and whether a 429 from Stripe stopped it; `as_result()` is its task result."""

    def __init__(self, *names: str, rate_limited: bool = False) -> None:
        super().__init__(dict.fromkeys(names, 0))
        self.rate_limited = rate_limited

    def as_result(self) -> dict[str, object]:
        return {**self, "rate_limited": self.rate_limited}


def stripe_backing_off() -> bool:
    return cache.get(_BACKOFF_KEY) is not None


def _back_off(job: str) -> None:
    cache.set(_BACKOFF_KEY, timezone.now().isoformat(), timeout=int(STRIPE_BACKOFF.total_seconds()))
    logger.warning("%s: Stripe answered 429; background jobs pause for %s", job, STRIPE_BACKOFF)


def _ask_stripe_about_each(
    payments: Iterable[Payment], *, job: str, counts: JobCounts, ask: Callable[[Payment], T]
) -> Iterator[tuple[Payment, T]]:
    """Yields `(payment, ask(payment))` for each payment Stripe answered about. A refusal is counted and
    logged; a 429 stops the run and pauses every job (`stripe_backing_off`) for STRIPE_BACKOFF."""
    for payment in payments:
        try:
            answer = ask(payment)
        except stripe_gateway.StripeRateLimited:
            _back_off(job)
            counts.rate_limited = True
            return
        except stripe_gateway.StripeGatewayError:
            counts["errors"] += 1
            logger.warning("%s: Stripe refused for payment %s", job, payment.pk, exc_info=True)
            continue
        yield payment, answer


def payment_reconcile(*, payment: Payment) -> Transition:
    """Retrieves the payment's PaymentIntent and applies its state through the transition service."""
    # Stamped before asking: a payment Stripe fails on goes to the back of the queue too.
    Payment.objects.filter(pk=payment.pk).update(reconciled_at=timezone.now())
    intent = stripe_gateway.retrieve_payment_intent(payment.recorded_intent_id)
    with transaction.atomic():
        transition = payment_transition(
            payment_intent_id=intent.id, target=payment_status_for_intent(intent), intent=intent
        )
    logger.info("reconciled payment %s with Stripe (%s): %s", payment.pk, intent.status, transition.reason)
    return transition


def _record_change(*, actor: Actor, action: str, payment: Payment, before: str, detail: str) -> bool:
    """An automatic audit row when the job changed the payment's state; False when nothing changed."""
    payment.refresh_from_db(fields=["status"])
    if payment.status == before:
        return False
    operator_action_record(
        actor=actor,
        action=action,
        payment=payment,
        outcome=OperatorAction.Outcome.DONE,
        detail=f"{before} → {payment.status}: {detail}",
    )
    return True


def payments_reconcile_stale(*, older_than: timedelta) -> dict[str, object]:
    """Reconciles payments still pending `older_than` after their last change (beat, every few minutes)."""
    actor = Actor.job("beat: reconcile pending payments")
    counts = JobCounts("reconciled", "changed", "errors", rate_limited=stripe_backing_off())
    if counts.rate_limited:
        return counts.as_result()
    payments = selectors.payments_for_reconcile(older_than=older_than)[: settings.PAYMENT_RECONCILE_BATCH_SIZE]
    # Each payment's status before it was asked about, to audit what changed.
    before = {payment.pk: payment.status for payment in payments}
    answered = _ask_stripe_about_each(
        payments, job="reconcile", counts=counts, ask=lambda payment: payment_reconcile(payment=payment)
    )
    for payment, outcome in answered:
        counts["reconciled"] += 1
        if _record_change(
            actor=actor,
            action=OperatorAction.Action.RECONCILE,
            payment=payment,
            before=before[payment.pk],
            detail=outcome.reason,
        ):
            counts["changed"] += 1
    return counts.as_result()


def _cancel_without_intent(*, payment: Payment) -> Transition:
    """Closes an open payment whose PaymentIntent was never recorded; one recorded meanwhile keeps it open."""
    with transaction.atomic():
        # Event first, then payment, in one locking read: the order checkout locks them in.
        locked = (
            Payment.objects.select_for_update(of=("event", "self"))
            .select_related("event")
            .filter(pk=payment.pk, payment_intent_id__isnull=True)
            .first()
        )
        if locked is None:
            return Transition(Change.UNCHANGED, "Its PaymentIntent was recorded meanwhile.", payment.pk)
        Payment.objects.filter(pk=payment.pk).update(intent_requested_at=None)
        return payment_transition(payment_id=payment.pk, target=Payment.Status.CANCELED)


def payments_cancel_abandoned(*, older_than: timedelta) -> dict[str, object]:
    """Cancels the PaymentIntents of open payments untouched for `older_than` (beat, hourly).

    Stripe is asked first: an intent that succeeded after all, or is being paid, is fulfilled instead.
    A payment whose intent was never recorded is closed here without asking Stripe."""
    actor = Actor.job("beat: cancel abandoned payments")
    counts = JobCounts("canceled", "reconciled", "errors")
    for payment in selectors.payments_abandoned_without_intent(older_than=older_than):
        if _cancel_without_intent(payment=payment).changed:
            counts["canceled"] += 1
            _record_change(
                actor=actor,
                action=OperatorAction.Action.CANCEL,
                payment=payment,
                before=payment.status,
                detail="its PaymentIntent was never recorded.",
            )
    if stripe_backing_off():
        counts.rate_limited = True
        return counts.as_result()

    def reconcile_or_cancel(payment: Payment) -> Transition | StripeIntent:
        intent = stripe_gateway.retrieve_payment_intent(payment.recorded_intent_id)
        if intent.status in IntentStatus.IN_FLIGHT or intent.status == IntentStatus.CANCELED:
            return payment_reconcile(payment=payment)  # paid after all, being paid, or closed at Stripe
        return stripe_gateway.cancel_payment_intent(payment.recorded_intent_id)

    payments = selectors.payments_abandoned(older_than=older_than)[: settings.PAYMENT_RECONCILE_BATCH_SIZE]
    before = {payment.pk: payment.status for payment in payments}
    answered = _ask_stripe_about_each(payments, job="cancel abandoned", counts=counts, ask=reconcile_or_cancel)
    for payment, answer in answered:
        if isinstance(answer, Transition):
            counts["reconciled"] += 1
            _record_change(
                actor=actor,
                action=OperatorAction.Action.RECONCILE,
                payment=payment,
                before=before[payment.pk],
                detail=answer.reason,
            )
            continue
        intent = answer
        with transaction.atomic():
            transition = payment_transition(payment_intent_id=intent.id, target=Payment.Status.CANCELED, intent=intent)
        if transition.changed:
            counts["canceled"] += 1
            _record_change(
                actor=actor,
                action=OperatorAction.Action.CANCEL,
                payment=payment,
                before=before[payment.pk],
                detail=f"abandoned for over {older_than}; its PaymentIntent is canceled at Stripe.",
            )
    return counts.as_result()


def payments_recheck_charges() -> dict[str, object]:
    """Re-checks a few succeeded payments' charges at Stripe (beat, hourly): a refund or a lost dispute
    whose webhook never reached us deactivates the event as the webhook would have."""
    actor = Actor.job("beat: re-check succeeded payments")
    counts = JobCounts("checked", "refunded", "errors", rate_limited=stripe_backing_off())
    if counts.rate_limited:
        return counts.as_result()

    def latest_charge(payment: Payment) -> StripeCharge | None:
        # Stamped before asking: a payment Stripe fails on waits its turn again too.
        Payment.objects.filter(pk=payment.pk).update(reconciled_at=timezone.now())
        return stripe_gateway.retrieve_latest_charge(payment.recorded_intent_id)

    payments = selectors.payments_for_charge_recheck(within=CHARGE_RECHECK_WITHIN, every=CHARGE_RECHECK_EVERY)
    answered = _ask_stripe_about_each(
        payments[: settings.PAYMENT_RECHECK_BATCH_SIZE], job="re-check charges", counts=counts, ask=latest_charge
    )
    for payment, charge in answered:
        counts["checked"] += 1
        if charge is None:
            continue
        # A lost dispute took the money back like a refund: the payment's state for it is `refunded`.
        reason = "refunded" if charge.refunded else "lost in a dispute" if charge.dispute_lost else ""
        if not reason:
            continue
        with transaction.atomic():
            payment_transition(payment_intent_id=payment.recorded_intent_id, target=Payment.Status.REFUNDED)
        if _record_change(
            actor=actor,
            action=OperatorAction.Action.RECONCILE,
            payment=payment,
            before=Payment.Status.SUCCEEDED,
            detail=f"its charge was {reason} at Stripe.",
        ):
            counts["refunded"] += 1
    return counts.as_result()


def payment_reconcile_now(*, payment: Payment, actor: Actor) -> OperatorAction:
    """An operator's "Reconcile with Stripe now": `payment_reconcile`, recorded in the audit trail."""

    record = operator_action_recorder(actor=actor, action=OperatorAction.Action.RECONCILE, payment=payment)

    with log_context(payment_id=payment.pk, payment_intent_id=payment.payment_intent_id):
        if not payment.payment_intent_id:
            return record(OperatorAction.Outcome.SKIPPED, "The payment has no PaymentIntent.")
        try:
            transition = payment_reconcile(payment=payment)
        except stripe_gateway.StripeGatewayError as exc:
            return record(OperatorAction.Outcome.ERROR, f"Stripe could not be asked: {exc}")
        payment.refresh_from_db(fields=["status"])
        if transition.change == Change.MISMATCH:
            return record(OperatorAction.Outcome.ERROR, transition.reason)
        return record(OperatorAction.Outcome.DONE, f"{transition.reason} Status: {payment.status}.")
