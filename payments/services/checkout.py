"""Checkout: create, or reuse, the one open PaymentIntent of an event.

No transaction and no row lock is held while Stripe is called: a slow Stripe would otherwise stall
every web thread checking out that event, and its webhook's fulfilment, which locks the same row.
Instead, one PaymentIntent per event holds through a lease on the payment row:

1. under the event's row lock, briefly: find the event's open payment (one at most, a database
   constraint), or insert a pending one with a random idempotency key and the lease
   (`intent_requested_at`) naming this checkout as the one creating its PaymentIntent; commit;
2. outside any transaction: ask Stripe for the PaymentIntent, with that idempotency key;
3. under the event's lock again: record the intent's id, unless the lease was taken over meanwhile.

A concurrent checkout of the event (a double-click) finds the open payment without an intent and
waits for the creator's; it never creates one of its own (the offline stand-in ignores idempotency
keys, so only this guard keeps one intent per event there). A lease released by a failed create, or
older than the longest Stripe call (a creator that died), is taken over by the next checkout, with
the same idempotency key: Stripe answers with the intent it may have made already.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import ParamSpec, TypeVar, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.exceptions import ApplicationError, Conflict, NotFound, ServiceUnavailable
from events.models import Event
from payments import stripe_gateway
from payments.consts import IntentStatus
from payments.models import Payment
from payments.services.transitions import event_follow_payment, payment_transition

P = ParamSpec("P")
R = TypeVar("R")

# How long a checkout waits for a concurrent one's PaymentIntent before asking the caller to retry.
WAIT_FOR_INTENT_SECONDS = 8.0
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Checkout:
    payment: Payment
    client_secret: str
    created: bool


def checkout_start(*, user: User, event_id: int) -> Checkout:
    """Returns the event's open payment with its client secret, creating the PaymentIntent if there is none."""
    deadline = time.monotonic() + WAIT_FOR_INTENT_SECONDS
    while True:
        payment, creating = _open_payment(user=user, event_id=event_id)
        if creating:
            checkout = _create_intent(payment=payment)
        elif payment.payment_intent_id:
            checkout = _reuse(payment=payment)
        else:
            checkout = None
            if time.monotonic() > deadline:
                raise ServiceUnavailable("Checkout is being prepared, please retry in a moment.")
            time.sleep(_POLL_SECONDS)  # a concurrent checkout is creating the intent
        if checkout is not None:
            return checkout


def _lease_expired(payment: Payment) -> bool:
    lease = timedelta(seconds=stripe_gateway.longest_call_seconds() + 5)
    return payment.intent_requested_at is None or payment.intent_requested_at < timezone.now() - lease


@transaction.atomic
def _open_payment(*, user: User, event_id: int) -> tuple[Payment, bool]:
    """The event's open payment, and whether this checkout holds its lease (and so creates its intent)."""
    event = Event.objects.select_for_update().filter(pk=event_id, owner=user, deleted_at__isnull=True).first()
    if event is None:
        raise NotFound("Event not found.")
    if event.is_active:
        raise Conflict("This event is already active.")
    if event.cancelled_at is not None:
        raise Conflict("This event is cancelled.")

    payment = Payment.objects.filter(event=event, status__in=Payment.OPEN_STATUSES).first()
    if payment is None:
        _check_open_payments_limit(user=user)
        payment = Payment.objects.create(
            user=user,
            event=event,
            amount=settings.EVENT_ACTIVATION_FEE,
            currency=settings.EVENT_ACTIVATION_CURRENCY,
            status=Payment.Status.PENDING,
            idempotency_key=secrets.token_urlsafe(32),
            intent_requested_at=timezone.now(),
        )
        return payment, True
    if payment.payment_intent_id is None and _lease_expired(payment):
        # Under the event's lock: no other checkout can take the same lease.
        payment.intent_requested_at = timezone.now()
        payment.idempotency_key = payment.idempotency_key or secrets.token_urlsafe(32)
        payment.save(update_fields=["intent_requested_at", "idempotency_key", "updated_at"])
        return payment, True
    return payment, False


def _check_open_payments_limit(*, user: User) -> None:
    # Each open payment is a PaymentIntent at Stripe that reconciliation keeps asking about.
    limit = settings.CHECKOUT_OPEN_PAYMENTS_LIMIT
    if Payment.objects.filter(user=user, status__in=Payment.OPEN_STATUSES).count() >= limit:
        raise Conflict(
            f"You have {limit} unpaid checkouts open: pay one of them, or wait for them to expire, "
            "before starting another."
        )


def _create_intent(*, payment: Payment) -> Checkout | None:
    """Asks Stripe for the payment's PaymentIntent (no transaction open) and records it."""
    try:
        intent = _gateway(
            stripe_gateway.create_payment_intent,
            amount=payment.amount,
            currency=payment.currency,
            metadata={"payment_id": str(payment.pk), "event_id": str(payment.event_id)},
            idempotency_key=cast(str, payment.idempotency_key),  # set with the lease (`_open_payment`)
        )
    except ApplicationError:
        # The next checkout takes over at once, with the same idempotency key.
        Payment.objects.filter(pk=payment.pk, payment_intent_id__isnull=True).update(intent_requested_at=None)
        raise
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=payment.event_id)
        recorded = Payment.objects.filter(
            pk=payment.pk, payment_intent_id__isnull=True, status=Payment.Status.PENDING
        ).update(payment_intent_id=intent.id, intent_requested_at=None, updated_at=timezone.now())
        payment.refresh_from_db()
        if recorded:
            event_follow_payment(event, payment_status=payment.status, active=event.is_active)
    if recorded or payment.payment_intent_id == intent.id:
        return Checkout(payment=payment, client_secret=intent.client_secret, created=bool(recorded))
    # Our lease was taken over and another intent recorded (only the stand-in makes a second one): drop ours.
    _gateway(stripe_gateway.cancel_payment_intent, intent.id)
    return None


def _reuse(*, payment: Payment) -> Checkout | None:
    """The payment's intent if it can still be paid (or is being paid); None once it is closed here."""
    intent = _gateway(stripe_gateway.retrieve_payment_intent, payment.recorded_intent_id)
    if stripe_gateway.intent_accepts_payment(intent):
        if payment.status == Payment.Status.FAILED:
            # A new attempt on the same PaymentIntent (the contract's failed → pending).
            with transaction.atomic():
                payment_transition(payment_id=payment.pk, target=Payment.Status.PENDING)
            payment.refresh_from_db()
        return Checkout(payment=payment, client_secret=intent.client_secret, created=False)
    if intent.status in IntentStatus.IN_FLIGHT:
        # Paid or being paid: never a second PaymentIntent; the webhook brings the news.
        return Checkout(payment=payment, client_secret=intent.client_secret, created=False)
    # The intent can no longer be paid (canceled, or stuck after a decline offline): close it, open another.
    if intent.status != IntentStatus.CANCELED:
        _gateway(stripe_gateway.cancel_payment_intent, payment.recorded_intent_id)
    with transaction.atomic():
        payment_transition(payment_intent_id=payment.recorded_intent_id, target=Payment.Status.CANCELED)
    return None


def _gateway(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return fn(*args, **kwargs)
    except stripe_gateway.TransientStripeError as exc:
        raise ServiceUnavailable(f"Stripe is unavailable, please retry: {exc}") from exc
    except stripe_gateway.StripeGatewayError as exc:
        raise ServiceUnavailable(f"Stripe refused the request: {exc}", status_code=502) from exc
