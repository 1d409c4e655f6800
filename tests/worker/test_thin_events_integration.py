"""Both of Stripe's destinations at once, as during a migration to thin events: localstripe's signed snapshot
webhooks and thin notifications signed as Stripe signs them, into the live server, processed by a real Celery
worker process that fetches each thin event's PaymentIntent or Charge from localstripe."""

import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db.models import Min

from events.models import Event
from payments import stripe_gateway
from payments.models import Payment, StripeEvent
from payments.services import checkout
from tests.conftest import paid_payment, pay_at_localstripe, wait_until
from tests.factories import EventFactory, thin_event_body

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

THIN_SECRET = "whsec_thin_integration"
Status = Payment.Status


@pytest.fixture
def thin_destination(settings, stack):
    """The event destination's secret, as the live server (a thread of this process) reads it."""
    settings.STRIPE_THIN_WEBHOOK_SECRETS = [THIN_SECRET]
    return stack


def _declined_payment() -> Payment:
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    status, _error = pay_at_localstripe(started.client_secret, "4000000000000341")
    assert status == 402
    return started.payment


def _charge_of(payment_intent_id: str) -> str:
    latest = stripe_gateway.retrieve_object(object_type="payment_intent", object_id=payment_intent_id)["latest_charge"]
    return latest["id"] if isinstance(latest, dict) else latest  # localstripe expands it


def _deliver_thin(url: str, body: dict) -> requests.Response:
    payload = json.dumps(body)
    headers = {
        "Stripe-Signature": stripe_gateway.sign_payload(payload, THIN_SECRET),
        "Content-Type": "application/json",
    }
    return requests.post(f"{url}/api/payments/webhook/thin/", data=payload, headers=headers, timeout=15)


def test_a_mixed_burst_of_snapshot_and_thin_events_ends_in_the_expected_states_without_double_effects(
    thin_destination,
):
    # given: payments that succeed, are declined, and succeed then are refunded, at localstripe; each
    # change reaches us as localstripe's snapshot event (charges have none there) and as a thin event
    declined = [_declined_payment() for _ in range(2)]
    refunded = [paid_payment()[0] for _ in range(2)]
    for payment in refunded:
        stripe_gateway.client().v1.refunds.create({"payment_intent": payment.payment_intent_id})
    # Paid last: their snapshot events (about 1 s after the payment) race the burst of thin events.
    succeeded = [paid_payment()[0] for _ in range(4)]
    notifications = [
        *(thin_event_body("v1.payment_intent.succeeded", related_object_id=p.payment_intent_id) for p in succeeded),
        *(thin_event_body("v1.payment_intent.payment_failed", related_object_id=p.payment_intent_id) for p in declined),
        *(thin_event_body("v1.payment_intent.succeeded", related_object_id=p.payment_intent_id) for p in refunded),
        *(thin_event_body("v1.charge.refunded", related_object_id=_charge_of(p.payment_intent_id)) for p in refunded),
        thin_event_body("v2.core.event_destination.ping"),
    ]
    deliveries = [*notifications, *notifications[::3]]  # Stripe delivers some twice
    random.shuffle(deliveries)

    # when: all at once, while localstripe's snapshot deliveries arrive
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda body: _deliver_thin(thin_destination.url, body), deliveries))

    # then: every delivery answered, each notification stored once
    assert [r.status_code for r in responses] == [200] * len(deliveries)
    assert sum(r.json()["duplicate"] for r in responses) == len(deliveries) - len(notifications)
    thin_ids = [body["id"] for body in notifications]
    assert StripeEvent.objects.filter(stripe_id__in=thin_ids, kind=StripeEvent.Kind.THIN).count() == len(thin_ids)

    # then: the worker applied both destinations' events, each payment in its expected state
    payments = [*succeeded, *declined, *refunded]
    intents = [p.payment_intent_id for p in payments]
    rows = StripeEvent.objects.filter(payment_intent_id__in=intents)

    def settled() -> bool:
        snapshots = rows.filter(kind=StripeEvent.Kind.SNAPSHOT).count()  # localstripe: one per payment
        unfinished = StripeEvent.objects.filter(stripe_id__in=thin_ids).exclude(
            status__in=StripeEvent.FINISHED_STATUSES
        )
        return (
            snapshots == len(payments)
            and not rows.exclude(status__in=StripeEvent.FINISHED_STATUSES).exists()
            and not unfinished.exists()
        )

    wait_until(settled, timeout=90, message="both destinations' events to be processed")
    expected = {
        **{p.pk: (Status.SUCCEEDED, True) for p in succeeded},
        **{p.pk: (Status.FAILED, False) for p in declined},
        **{p.pk: (Status.REFUNDED, False) for p in refunded},
    }
    actual = {
        p.pk: (p.status, p.event.is_active) for p in Payment.objects.filter(pk__in=expected).select_related("event")
    }
    assert actual == expected
    assert {p.last_error for p in Payment.objects.filter(pk__in=[d.pk for d in declined])} == {
        "Your card was declined."
    }
    assert not StripeEvent.objects.filter(stripe_id__in=thin_ids, status=StripeEvent.Status.FAILED).exists()
    assert not rows.filter(status=StripeEvent.Status.FAILED).exists()
    ping = StripeEvent.objects.get(stripe_id=notifications[-1]["id"])
    assert ping.status == StripeEvent.Status.IGNORED

    # then, no double effect: a payment last changed (and an event was activated) by the first of the rows
    # that carry its change, never again by its twin from the other destination
    for payment in Payment.objects.filter(pk__in=[p.pk for p in [*succeeded, *refunded]]).select_related("event"):
        final_type = "refunded" if payment.status == Status.REFUNDED else "succeeded"
        first_applied = rows.filter(payment_intent_id=payment.payment_intent_id, type__endswith=final_type).aggregate(
            t=Min("processed_at")
        )["t"]
        assert payment.updated_at <= first_applied, payment.payment_intent_id
    for event in Event.objects.filter(payments__in=succeeded):
        first_success = rows.filter(
            payment_intent_id=event.payments.get().payment_intent_id, type__endswith="succeeded"
        ).aggregate(t=Min("processed_at"))["t"]
        assert event.activated_at <= first_success
    assert rows.filter(kind=StripeEvent.Kind.THIN, type="v1.charge.refunded").count() == len(refunded)
