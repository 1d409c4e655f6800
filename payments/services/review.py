"""An operator's way out for a payment fulfilment refused to activate (its PaymentIntent's amount,
currency or metadata do not match ours): it stays open and blocks its organiser until someone decides.

Two decisions, each recorded in the audit trail with the operator's reason:
- close it at Stripe and reopen checkout: the money is refunded (or the unpaid intent canceled), the
  payment closes as refunded (or canceled) and the organiser's next checkout starts a new one;
- accept it after review: Stripe did take the payment and the operator judges the difference
  harmless, so the payment succeeds and the event goes live.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from core.exceptions import ApplicationError
from core.logging import log_context
from payments import stripe_gateway
from payments.consts import IntentStatus
from payments.models import OperatorAction, Payment
from payments.services.audit import Actor, operator_action_recorder
from payments.services.transitions import payment_transition
from payments.stripe_gateway import StripeIntent

Action = OperatorAction.Action
Result = OperatorAction.Outcome


Record = Callable[[str, str], OperatorAction]


def _decide(
    *,
    payment: Payment,
    actor: Actor,
    reason: str,
    action: str,
    verb: str,
    decision: Callable[[Record, StripeIntent], OperatorAction],
) -> OperatorAction:
    """What both decisions open with: a reason, the audit recorder, an open payment, and what Stripe says
    of its PaymentIntent; then `decision(record, intent)`."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError("A reason is required to resolve a payment.")
    record = operator_action_recorder(actor=actor, action=action, payment=payment, reason=reason)
    with log_context(payment_id=payment.pk, payment_intent_id=payment.payment_intent_id):
        if payment.status not in Payment.OPEN_STATUSES or not payment.payment_intent_id:
            return record(Result.SKIPPED, f"The payment is {payment.status}; only an open payment can be {verb}.")
        try:
            intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
        except stripe_gateway.StripeGatewayError as exc:
            return record(Result.ERROR, f"Stripe could not be asked: {exc}")
        return decision(record, intent)


def payment_reopen_checkout(*, payment: Payment, actor: Actor, reason: str) -> OperatorAction:
    """Refunds (if paid) or cancels the payment's PaymentIntent at Stripe and closes the payment."""

    def reopen(record: Record, intent: StripeIntent) -> OperatorAction:
        try:
            if intent.status == IntentStatus.SUCCEEDED:
                stripe_gateway.create_refund(
                    payment_intent_id=intent.id,
                    metadata={"payment_id": str(payment.pk), "reason": "reopened after review"},
                    idempotency_key=f"eventpay-reopen-refund-{payment.pk}",
                )
                target, done = Payment.Status.REFUNDED, "Refunded at Stripe"
            elif intent.status in IntentStatus.IN_FLIGHT:
                return record(Result.SKIPPED, f"Stripe is still taking the payment ({intent.status}); try again later.")
            else:
                if intent.status != IntentStatus.CANCELED:
                    stripe_gateway.cancel_payment_intent(intent.id)
                target, done = Payment.Status.CANCELED, "Canceled at Stripe"
        except stripe_gateway.StripeGatewayError as exc:
            return record(Result.ERROR, f"Stripe could not be asked: {exc}")
        with transaction.atomic():
            transition = payment_transition(payment_intent_id=payment.payment_intent_id, target=target)
        payment.refresh_from_db(fields=["status"])
        return record(
            Result.DONE, f"{done}; the payment is {payment.status} and checkout is open again. {transition.reason}"
        )

    return _decide(payment=payment, actor=actor, reason=reason, action=Action.REOPEN, verb="reopened", decision=reopen)


def payment_accept_reviewed(*, payment: Payment, actor: Actor, reason: str) -> OperatorAction:
    """Marks a mismatched payment reviewed and accepted: succeeded, its event live (Stripe must say it is paid)."""

    def accept(record: Record, intent: StripeIntent) -> OperatorAction:
        if intent.status != IntentStatus.SUCCEEDED:
            return record(Result.SKIPPED, f"Stripe says {intent.status}: there is no payment to accept.")
        mismatch = payment.last_error or "no recorded mismatch"
        with transaction.atomic():
            transition = payment_transition(
                payment_intent_id=payment.payment_intent_id,
                target=Payment.Status.SUCCEEDED,
                intent=intent,
                accepted_after_review=True,
            )
        if not transition.changed:
            payment.refresh_from_db(fields=["status"])
            return record(Result.SKIPPED, f"The payment became {payment.status} meanwhile.")
        return record(Result.DONE, f"Accepted as paid ({intent.amount_received} {intent.currency}); was: {mismatch}")

    return _decide(payment=payment, actor=actor, reason=reason, action=Action.ACCEPT, verb="accepted", decision=accept)
