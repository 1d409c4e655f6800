"""Reconciliation: ask Stripe for the truth about payments whose webhook has not (yet) told us, and
apply it through fulfilment's own rules."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction

from core.logging import log_context
from payments import selectors, stripe_gateway
from payments.consts import IntentStatus
from payments.models import OperatorAction, Payment, StripeEvent
from payments.services.audit import Actor, operator_action_record
from payments.services.fulfilment import payment_apply_intent, payment_status_for_intent
from payments.services.inbox import Outcome

logger = logging.getLogger(__name__)


def payment_reconcile(*, payment: Payment) -> Outcome:
    """Retrieves the payment's PaymentIntent and applies its state through fulfilment's own code."""
    intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
    with transaction.atomic():
        outcome = payment_apply_intent(
            payment_intent_id=intent.id, target=payment_status_for_intent(intent), intent=intent
        )
    logger.info("reconciled payment %s with Stripe (%s): %s", payment.pk, intent.status, outcome.reason)
    return outcome


def payments_reconcile_stale(*, older_than: timedelta) -> dict[str, int]:
    """Reconciles payments still pending `older_than` after their last change (beat, every few minutes)."""
    counts = {"reconciled": 0, "errors": 0}
    for payment in selectors.payments_for_reconcile(older_than=older_than):
        try:
            payment_reconcile(payment=payment)
            counts["reconciled"] += 1
        except stripe_gateway.StripeGatewayError:
            counts["errors"] += 1
            logger.warning("could not reconcile payment %s", payment.pk, exc_info=True)
    return counts


def payments_cancel_abandoned(*, older_than: timedelta) -> dict[str, int]:
    """Cancels the PaymentIntents of open payments untouched for `older_than` (beat, hourly).

    Stripe is asked first: an intent that succeeded after all, or is being paid, is fulfilled instead.
    """
    counts = {"canceled": 0, "reconciled": 0, "errors": 0}
    for payment in selectors.payments_abandoned(older_than=older_than):
        try:
            intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
            if intent.status in IntentStatus.IN_FLIGHT or intent.status == IntentStatus.CANCELED:
                payment_reconcile(payment=payment)
                counts["reconciled"] += 1
                continue
            intent = stripe_gateway.cancel_payment_intent(payment.payment_intent_id)
        except stripe_gateway.StripeGatewayError:
            counts["errors"] += 1
            logger.warning("could not cancel abandoned payment %s", payment.pk, exc_info=True)
            continue
        with transaction.atomic():
            outcome = payment_apply_intent(payment_intent_id=intent.id, target=Payment.Status.CANCELED, intent=intent)
        if outcome.status == StripeEvent.Status.PROCESSED:
            counts["canceled"] += 1
    return counts


def payment_reconcile_now(*, payment: Payment, actor: Actor) -> OperatorAction:
    """An operator's "Reconcile with Stripe now": `payment_reconcile`, recorded in the audit trail."""

    def record(outcome: str, detail: str) -> OperatorAction:
        return operator_action_record(
            actor=actor, action=OperatorAction.Action.RECONCILE, payment=payment, outcome=outcome, detail=detail
        )

    with log_context(payment_id=payment.pk, payment_intent_id=payment.payment_intent_id):
        if not payment.payment_intent_id:
            return record(OperatorAction.Outcome.SKIPPED, "The payment has no PaymentIntent.")
        try:
            outcome = payment_reconcile(payment=payment)
        except stripe_gateway.StripeGatewayError as exc:
            return record(OperatorAction.Outcome.ERROR, f"Stripe could not be asked: {exc}")
        payment.refresh_from_db(fields=["status"])
        if outcome.status == StripeEvent.Status.FAILED:
            return record(OperatorAction.Outcome.ERROR, outcome.reason)
        return record(OperatorAction.Outcome.DONE, f"{outcome.reason} Status: {payment.status}.")
