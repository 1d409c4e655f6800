"""What a receipt shows beyond our ledger: the card (brand, last four) and Stripe's own receipt link.

With Stripe they arrive by webhook: `charge.succeeded` carries both (fulfilment's handler table), and no
API call is spent on them (`payment_intent.succeeded` names its charge by id only). localstripe sends no
`charge.*` events, so offline a worker reads the charge through the gateway once fulfilment committed the
payment's success, outside its locks, retried when the stand-in is briefly away. An operator's refund
reads the charge back anyway, and records them too.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction

from payments import queue, stripe_gateway
from payments.models import Payment

logger = logging.getLogger(__name__)


def charge_details_fetch_on_commit(*, payment: Payment) -> None:
    """Asks a worker for the card details once the caller's transaction commits (fulfilment calls this)."""
    transaction.on_commit(partial(_enqueue, payment_id=payment.pk), robust=True)


def _enqueue(*, payment_id: int) -> None:
    try:
        queue.charge_details_fetch(payment_id=payment_id)
    except Exception:  # the receipt shows no card until an operator reconciles or refunds; nothing is lost
        logger.warning("could not ask for the card details of payment %s", payment_id, exc_info=True)


def payment_charge_details_fetch(*, payment_id: int) -> bool:
    """Copies the card and Stripe's receipt link from the payment's latest charge; False if there is none."""
    payment = Payment.objects.filter(pk=payment_id).only("pk", "payment_intent_id").first()
    if payment is None or not payment.payment_intent_id:
        return False
    try:
        charge = stripe_gateway.retrieve_latest_charge(payment.payment_intent_id)
    except stripe_gateway.TransientStripeError:
        raise  # the task retries it
    except stripe_gateway.StripeGatewayError as exc:
        logger.warning("no card details for payment %s: %s", payment_id, exc)
        return False
    if charge is None:
        return False
    payment_record_charge(payment_id=payment.pk, charge=charge)
    return True


def payment_record_charge(*, payment_id: int, charge: stripe_gateway.StripeCharge) -> None:
    # Only what Stripe gave: a charge read without card details does not erase those already known.
    fields = {
        name: value
        for name, value in (
            ("card_brand", charge.card_brand),
            ("card_last4", charge.card_last4),
            ("receipt_url", charge.receipt_url),
        )
        if value
    }
    if fields:
        Payment.objects.filter(pk=payment_id).update(**fields)
