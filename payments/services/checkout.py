"""Checkout: create, or reuse, the one open PaymentIntent of an event."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from core.exceptions import Conflict, NotFound, ServiceUnavailable
from events.models import Event
from payments import stripe_gateway
from payments.consts import IntentStatus
from payments.models import Payment
from payments.services.fulfilment import event_follow_payment, payment_apply_intent


@dataclass(frozen=True)
class Checkout:
    payment: Payment
    client_secret: str
    created: bool


def payment_idempotency_key(payment: Payment) -> str:
    return f"eventpay-payment-{payment.pk}-create-intent"


@transaction.atomic
def checkout_start(*, user, event_id: int) -> Checkout:
    """Returns the event's open payment with its client secret, creating the PaymentIntent if there is none.

    The event row is locked for the whole call, so two concurrent checkouts of one event
    wait for each other and the second reuses the first's PaymentIntent: our own guard,
    since the offline stand-in ignores Stripe's idempotency keys. If Stripe fails, the
    transaction rolls back and no payment row is left behind.
    """
    event = Event.objects.select_for_update().filter(pk=event_id, owner=user).first()
    if event is None:
        raise NotFound("Event not found.")
    if event.is_active:
        raise Conflict("This event is already active.")

    payment = Payment.objects.filter(event=event, status__in=Payment.OPEN_STATUSES).first()
    if payment is not None:
        intent = _gateway(stripe_gateway.retrieve_payment_intent, payment.payment_intent_id)
        if stripe_gateway.intent_accepts_payment(intent):
            if payment.status == Payment.Status.FAILED:
                # A new attempt on the same PaymentIntent (the contract's failed → pending).
                payment.status = Payment.Status.PENDING
                payment.save(update_fields=["status", "updated_at"])
                event_follow_payment(event, payment_status=payment.status, active=event.is_active)
            return Checkout(payment=payment, client_secret=intent.client_secret, created=False)
        if intent.status in IntentStatus.IN_FLIGHT:
            # Paid or being paid: never a second PaymentIntent; the webhook brings the news.
            return Checkout(payment=payment, client_secret=intent.client_secret, created=False)
        # The intent can no longer be paid (canceled, or stuck after a decline offline): close it, open another.
        if intent.status != IntentStatus.CANCELED:
            _gateway(stripe_gateway.cancel_payment_intent, payment.payment_intent_id)
        payment_apply_intent(payment_intent_id=payment.payment_intent_id, target=Payment.Status.CANCELED)

    payment = Payment(
        user=user,
        event=event,
        amount=settings.EVENT_ACTIVATION_FEE,
        currency=settings.EVENT_ACTIVATION_CURRENCY,
        status=Payment.Status.PENDING,
    )
    # Saved first: its id goes into the idempotency key and the intent's metadata.
    payment.save()
    intent = _gateway(
        stripe_gateway.create_payment_intent,
        amount=payment.amount,
        currency=payment.currency,
        metadata={"payment_id": str(payment.pk), "event_id": str(event.pk)},
        idempotency_key=payment_idempotency_key(payment),
    )
    payment.payment_intent_id = intent.id
    payment.save(update_fields=["payment_intent_id", "updated_at"])
    event_follow_payment(event, payment_status=payment.status, active=event.is_active)
    return Checkout(payment=payment, client_secret=intent.client_secret, created=True)


def _gateway(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except stripe_gateway.TransientStripeError as exc:
        raise ServiceUnavailable(f"Stripe is unavailable, please retry: {exc}") from exc
    except stripe_gateway.StripeGatewayError as exc:
        raise ServiceUnavailable(f"Stripe refused the request: {exc}", status_code=502) from exc
