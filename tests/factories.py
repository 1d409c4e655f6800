import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import VerifiedEmail
from events.models import Event
from payments.models import Payment, StripeEvent

FIXTURES = Path(__file__).resolve().parent / "fixtures"
THIN_EVENTS = FIXTURES / "thin_events"
RECORDED_EVENTS = FIXTURES / "events"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"organiser{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    # Organisers have verified their address unless a test says otherwise (email_verified=False).
    @factory.post_generation
    def email_verified(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            VerifiedEmail.objects.create(user=obj, email=obj.email)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    owner = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Meetup #{n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    event = factory.SubFactory(EventFactory)
    user = factory.LazyAttribute(lambda p: p.event.owner)
    payment_intent_id = factory.LazyFunction(lambda: f"pi_{uuid.uuid4().hex[:24]}")
    amount = 1500
    currency = "usd"
    status = Payment.Status.PENDING


def payment_intent_object(payment: Payment, **overrides) -> dict:
    """A PaymentIntent as Stripe puts it in an event's data.object (pinned API version shape)."""
    obj = {
        "id": payment.payment_intent_id,
        "object": "payment_intent",
        "amount": payment.amount,
        "amount_received": payment.amount,
        "currency": payment.currency,
        "status": "succeeded",
        "client_secret": f"{payment.payment_intent_id}_secret_test",
        "latest_charge": f"ch_{uuid.uuid4().hex[:24]}",
        "last_payment_error": None,
        "livemode": False,
        "metadata": {"payment_id": str(payment.pk), "event_id": str(payment.event_id)},
    }
    obj.update(overrides)
    return obj


def declined_intent_object(payment: Payment, **overrides) -> dict:
    """The PaymentIntent after a declined attempt: back to `requires_payment_method`, with Stripe's error."""
    declined = {
        "status": "requires_payment_method",
        "amount_received": 0,
        "last_payment_error": {"code": "card_declined", "message": "Your card was declined."},
    }
    return payment_intent_object(payment, **{**declined, **overrides})


def refunded_charge_object(payment: Payment, *, amount_refunded: int | None = None) -> dict:
    """The payment's Charge as `charge.refunded` carries it: refunded in full unless `amount_refunded` says less."""
    refunded = payment.amount if amount_refunded is None else amount_refunded
    return {
        "id": f"ch_{payment.pk}",
        "object": "charge",
        "amount": payment.amount,
        "amount_refunded": refunded,
        "refunded": refunded >= payment.amount,
        "payment_intent": payment.payment_intent_id,
        "currency": payment.currency,
    }


def stripe_event_body(
    event_type: str, data_object: dict, *, event_id: str | None = None, created: int | None = None
) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def recorded_event_body(event_type: str, **values) -> dict:
    """A snapshot event recorded from Stripe's API reference (tests/fixtures/events/), with a fresh id and time
    and its object's `values` replaced (the recorded object keeps its shape: only its own keys are set)."""
    body = json.loads((RECORDED_EVENTS / f"{event_type}.json").read_text())
    obj = body["data"]["object"]
    unknown = set(values) - set(obj)
    if unknown:
        raise ValueError(f"A recorded {obj['object']} has no {sorted(unknown)}.")
    obj.update(values)
    body["id"] = f"evt_{uuid.uuid4().hex[:24]}"
    body["created"] = int(time.time())
    return body


def stored_stripe_event(event_type: str, data_object: dict, **fields) -> StripeEvent:
    body = stripe_event_body(event_type, data_object)
    payment_intent_id = (
        data_object.get("id")
        if data_object.get("object") == "payment_intent"
        else data_object.get("payment_intent", "")
    )
    return StripeEvent.objects.create(
        **{
            "stripe_id": body["id"],
            "type": event_type,
            "api_version": body["api_version"],
            "payment_intent_id": payment_intent_id or "",
            "payload": json.dumps(body),
            **fields,
        }
    )


def thin_event_body(event_type: str, *, related_object_id: str | None = None, event_id: str | None = None) -> dict:
    """A thin event notification recorded from Stripe's API reference (tests/fixtures/thin_events/), with a
    fresh id and, when given, the id (and the v1 URL) of its related object."""
    body = json.loads((THIN_EVENTS / f"{event_type}.json").read_text())
    body["id"] = event_id or f"evt_test_{uuid.uuid4().hex}"
    if related_object_id is not None:
        related = body["related_object"]
        related["url"] = related["url"].replace(related["id"], related_object_id)
        related["id"] = related_object_id
    return body


def stored_thin_event(event_type: str, *, related_object_id: str, event_id: str | None = None, **fields) -> StripeEvent:
    """A thin event in the inbox, as the thin webhook stores it."""
    body = thin_event_body(event_type, related_object_id=related_object_id, event_id=event_id)
    related_type = body["related_object"]["type"]
    return StripeEvent.objects.create(
        stripe_id=body["id"],
        kind=StripeEvent.Kind.THIN,
        type=event_type,
        related_object_type=related_type,
        related_object_id=related_object_id,
        payment_intent_id=related_object_id if related_type == "payment_intent" else "",
        payload=json.dumps(body),
        **fields,
    )
