"""Payments' part in deleting a draft event (events' deletion guard, registered in payments/apps.py).

Payments are a ledger and are never deleted: the event's row stays too, marked deleted. Before that, a
draft that was ever paid is refused, and an open PaymentIntent is cancelled at Stripe so that nobody can
pay for an event that no longer exists; one that is being paid right now refuses the deletion instead.
Stripe is called with no transaction open and no row locked (the deletion holds a lease on the event
instead), so the event's webhooks and checkout never wait for it.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from core.exceptions import Conflict, ServiceUnavailable
from events.models import Event
from events.services import DeletionGuard
from payments import stripe_gateway
from payments.consts import IntentStatus
from payments.models import Payment
from payments.services.transitions import payment_transition

PAID_STATUSES = (Payment.Status.SUCCEEDED, Payment.Status.REFUNDED)


def event_payments_release(event: Event) -> None:
    """Refuses (409) the deletion of a paid event or one whose payment is in flight; cancels its open
    PaymentIntent otherwise. Runs outside any transaction."""
    if event.payments.filter(status__in=PAID_STATUSES).exists():
        raise Conflict("This event has been paid: it can be cancelled, not deleted.")
    payment = event.payments.filter(status__in=Payment.OPEN_STATUSES).first()
    if payment is None:
        return
    if payment.payment_intent_id is None:
        # A checkout holds the lease and is creating the intent at Stripe right now (or abandoned it, until
        # reconciliation closes the payment): nothing to cancel yet, and deleting would orphan the new intent.
        raise Conflict("A checkout for this event is being prepared; it cannot be deleted now.")
    try:
        intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
        if intent.status in IntentStatus.IN_FLIGHT:
            raise Conflict("A payment for this event is in progress; it cannot be deleted now.")
        if intent.status != IntentStatus.CANCELED:
            intent = stripe_gateway.cancel_payment_intent(payment.payment_intent_id)
    except stripe_gateway.TransientStripeError as exc:
        raise ServiceUnavailable(f"Stripe is unavailable, please retry: {exc}") from exc
    except stripe_gateway.StripeGatewayError as exc:
        # Stripe refuses to cancel an intent that was paid a moment ago.
        raise Conflict(f"The payment for this event could not be cancelled: {exc}") from exc
    with transaction.atomic():
        payment_transition(payment_intent_id=payment.payment_intent_id, target=Payment.Status.CANCELED, intent=intent)


def event_payments_check(event: Event) -> None:
    """Under the event's lock, as the deletion is recorded: refuses it if a checkout opened a payment, or a
    payment went through, since the release."""
    if event.payments.filter(status__in=PAID_STATUSES).exists():
        raise Conflict("This event has been paid: it can be cancelled, not deleted.")
    if event.payments.filter(status__in=Payment.OPEN_STATUSES).exists():
        raise Conflict("A checkout for this event began meanwhile; it cannot be deleted now.")


def event_payments_deletion_guard() -> DeletionGuard:
    # A retrieve and a cancel at Stripe, each as long as the longest call.
    lease = timedelta(seconds=2 * stripe_gateway.longest_call_seconds())
    return DeletionGuard(release=event_payments_release, check=event_payments_check, lease=lease)
