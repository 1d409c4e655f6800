"""Reconciliation: ask Stripe for the truth about payments whose webhook has not (yet) told us."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from payments import stripe_gateway
from payments.models import Payment
from payments.services.fulfilment import INTENT_STATUS_TO_PAYMENT_STATUS, Outcome, payment_apply_intent

logger = logging.getLogger(__name__)


def payment_reconcile(*, payment: Payment) -> Outcome:
    """Retrieves the payment's PaymentIntent and applies its state through fulfilment's own code."""
    intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
    target = INTENT_STATUS_TO_PAYMENT_STATUS.get(intent.status, Payment.Status.PENDING)
    if target == Payment.Status.PENDING and intent.status == "requires_payment_method" and intent.last_error:
        target = Payment.Status.FAILED
    with transaction.atomic():
        outcome = payment_apply_intent(payment_intent_id=intent.id, target=target, intent=intent)
    logger.info("reconciled payment %s with Stripe (%s): %s", payment.pk, intent.status, outcome.reason)
    return outcome


def payments_reconcile_stale(*, older_than: timedelta) -> int:
    """Reconciles payments still pending `older_than` after their last change; returns how many."""
    cutoff = timezone.now() - older_than
    count = 0
    for payment in Payment.objects.filter(status=Payment.Status.PENDING, updated_at__lt=cutoff).order_by("updated_at"):
        try:
            payment_reconcile(payment=payment)
            count += 1
        except stripe_gateway.StripeGatewayError:
            logger.warning("could not reconcile payment %s", payment.pk, exc_info=True)
    return count


def payments_cancel_abandoned(*, older_than: timedelta) -> int:
    """Cancels the PaymentIntents of open payments untouched for `older_than`; returns how many were canceled.

    Stripe is asked first: an intent that succeeded after all is fulfilled instead.
    """
    cutoff = timezone.now() - older_than
    count = 0
    for payment in Payment.objects.filter(status__in=Payment.OPEN_STATUSES, updated_at__lt=cutoff).order_by("updated_at"):
        try:
            intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
            if intent.status in ("succeeded", "processing", "canceled"):
                payment_reconcile(payment=payment)
                continue
            intent = stripe_gateway.cancel_payment_intent(payment.payment_intent_id)
        except stripe_gateway.StripeGatewayError:
            logger.warning("could not cancel abandoned payment %s", payment.pk, exc_info=True)
            continue
        with transaction.atomic():
            outcome = payment_apply_intent(
                payment_intent_id=intent.id, target=Payment.Status.CANCELED, intent=intent
            )
        if outcome.status == "processed":
            count += 1
    return count
