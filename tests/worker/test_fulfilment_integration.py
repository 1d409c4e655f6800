"""Through the queue: a real Celery worker process on Redis and PostgreSQL."""

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from payments import stripe_gateway
from payments.models import Payment, StripeEvent
from tests.conftest import wait_until
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event, stripe_event_body
from worker import tasks

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_same_event_delivered_ten_times_at_once_is_stored_once_and_activates_once(stack, webhook_secret):
    # given
    payment = PaymentFactory()
    payload = json.dumps(stripe_event_body("payment_intent.succeeded", payment_intent_object(payment)))
    headers = {
        "Stripe-Signature": stripe_gateway.sign_payload(payload, webhook_secret),
        "Content-Type": "application/json",
    }

    # when
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(
                lambda _: requests.post(
                    f"{stack.url}/api/payments/webhook/", data=payload, headers=headers, timeout=15
                ),
                range(10),
            )
        )

    # then
    assert [r.status_code for r in responses] == [200] * 10
    assert sum(r.json()["duplicate"] is False for r in responses) == 1
    rows = StripeEvent.objects.filter(stripe_id=json.loads(payload)["id"])
    row = wait_until(lambda: rows.filter(status=StripeEvent.Status.PROCESSED).first(), message="processing")
    assert rows.count() == 1
    assert row.attempts == 1
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.event.is_active is True


def test_a_stored_event_whose_enqueue_was_lost_is_processed_by_the_sweeper(worker_process):
    # given: stored three minutes ago, never handed to the broker
    payment = PaymentFactory()
    row = stored_stripe_event("payment_intent.succeeded", payment_intent_object(payment))
    StripeEvent.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(minutes=3))
    fresh = stored_stripe_event("payment_intent.succeeded", payment_intent_object(PaymentFactory()))

    # when: beat's sweep runs (through the broker, as beat sends it)
    tasks.requeue_stale_stripe_events.delay()

    # then
    wait_until(lambda: StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.PROCESSED, message="the sweep")
    payment.refresh_from_db()
    assert payment.event.is_active is True
    # A row younger than the sweep's threshold is not touched: its own enqueue may still be on the way.
    assert StripeEvent.objects.get(pk=fresh.pk).status == StripeEvent.Status.RECEIVED


def test_the_worker_records_a_mismatch_for_an_operator(worker_process):
    payment = PaymentFactory()
    row = stored_stripe_event("payment_intent.succeeded", payment_intent_object(payment, amount_received=1, amount=1))

    tasks.process_stripe_event.delay(row.pk)

    row = wait_until(lambda: StripeEvent.objects.filter(pk=row.pk, status=StripeEvent.Status.FAILED).first())
    assert "Amount received 1" in row.last_error
    payment.refresh_from_db()
    assert payment.event.is_active is False
