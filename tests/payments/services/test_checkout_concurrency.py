"""Checkout under concurrency and a slow Stripe, against localstripe and real PostgreSQL connections:
no lock or transaction is held while Stripe is called, and a double-click still makes one PaymentIntent."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.exceptions import ServiceUnavailable
from payments import stripe_gateway
from payments.models import Payment
from payments.services import checkout
from tests.db import other_connection
from tests.factories import EventFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("localstripe")]


def _intents_for(event_id: int, *, before: set[str]) -> list[str]:
    """PaymentIntents at localstripe naming the event, made since `before` was taken."""
    page = stripe_gateway.client().v1.payment_intents.list({"limit": 100})
    intents = (intent.to_dict() for intent in page.auto_paging_iter())
    return [
        i["id"] for i in intents if i["id"] not in before and (i.get("metadata") or {}).get("event_id") == str(event_id)
    ]


def _all_intents() -> set[str]:
    return {intent.id for intent in stripe_gateway.client().v1.payment_intents.list({"limit": 100}).auto_paging_iter()}


def test_no_row_lock_or_transaction_is_held_while_stripe_is_called(monkeypatch):
    # given: a look, from another connection, at the moment checkout is at Stripe
    event = EventFactory()
    seen: dict[str, object] = {}
    real_create = stripe_gateway.create_payment_intent

    def create_and_look(**kwargs):
        with other_connection() as other:
            # The event row can be locked at once by someone else (fulfilment, another checkout)...
            other.execute("SET lock_timeout = '200ms'")
            with other.transaction():
                seen["event_lockable"] = bool(
                    other.execute("SELECT id FROM events_event WHERE id = %s FOR UPDATE", [event.pk]).fetchone()
                )
            # ...and the pending payment, with its key and lease, is already committed.
            seen["payment"] = other.execute(
                "SELECT status, idempotency_key, intent_requested_at IS NOT NULL FROM payments_payment "
                "WHERE event_id = %s",
                [event.pk],
            ).fetchone()
        seen["in_transaction"] = connection.in_atomic_block
        return real_create(**kwargs)

    monkeypatch.setattr(stripe_gateway, "create_payment_intent", create_and_look)

    # when
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)

    # then
    assert seen["event_lockable"] is True
    assert seen["in_transaction"] is False
    status, key, leased = seen["payment"]
    assert (status, key, leased) == ("pending", started.payment.idempotency_key, True)
    assert Payment.objects.get(pk=started.payment.pk).payment_intent_id == started.payment.payment_intent_id


def test_double_clicks_at_once_make_one_payment_intent(monkeypatch):
    # given: eight checkouts of one event at the same moment, each on its own database connection;
    # Stripe takes a moment to answer, so the others arrive while the first is at Stripe
    event = EventFactory()
    before = _all_intents()
    real_create = stripe_gateway.create_payment_intent

    def slow_create(**kwargs):
        time.sleep(0.5)
        return real_create(**kwargs)

    monkeypatch.setattr(stripe_gateway, "create_payment_intent", slow_create)
    start = threading.Barrier(8)

    def click(_):
        try:
            start.wait()
            return checkout.checkout_start(user=event.owner, event_id=event.pk)
        finally:
            connections.close_all()

    # when
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(click, range(8)))

    # then: one payment, one intent at Stripe, and every click got its client secret
    assert len({r.payment.pk for r in results}) == 1
    assert len({r.client_secret for r in results}) == 1
    assert sum(r.created for r in results) == 1
    payment = Payment.objects.get(event=event)
    assert _intents_for(event.pk, before=before) == [payment.payment_intent_id]
    event.refresh_from_db()
    assert event.payment_status == Payment.Status.PENDING


def test_a_lease_left_by_a_creator_that_died_is_taken_over_with_its_idempotency_key(monkeypatch):
    # given: a pending payment whose creator died at Stripe long ago (no intent recorded, lease stale)
    user = UserFactory()
    event = EventFactory(owner=user)
    stale = timezone.now() - timedelta(seconds=stripe_gateway.longest_call_seconds() + 60)
    Payment.objects.create(
        user=user, event=event, amount=1500, currency="usd", idempotency_key="key-of-the-dead-creator",
        intent_requested_at=stale,
    )  # fmt: skip
    sent_keys = []
    real_create = stripe_gateway.create_payment_intent
    monkeypatch.setattr(
        stripe_gateway,
        "create_payment_intent",
        lambda **kwargs: sent_keys.append(kwargs["idempotency_key"]) or real_create(**kwargs),
    )

    # when
    started = checkout.checkout_start(user=user, event_id=event.pk)

    # then: the same payment, created with the same key (Stripe would answer with the first intent)
    assert sent_keys == ["key-of-the-dead-creator"]
    assert Payment.objects.get(event=event).payment_intent_id == started.payment.payment_intent_id


def test_a_fresh_lease_is_waited_for_not_taken(settings, monkeypatch):
    # given: another checkout is at Stripe right now (a fresh lease), and stays there
    user = UserFactory()
    event = EventFactory(owner=user)
    Payment.objects.create(
        user=user, event=event, amount=1500, currency="usd", idempotency_key="key-of-the-live-creator",
        intent_requested_at=timezone.now(),
    )  # fmt: skip
    monkeypatch.setattr(checkout, "WAIT_FOR_INTENT_SECONDS", 0.5)
    created = []
    monkeypatch.setattr(stripe_gateway, "create_payment_intent", lambda **kwargs: created.append(kwargs))

    # when / then: a retry later, and no second intent
    with pytest.raises(ServiceUnavailable, match="being prepared"):
        checkout.checkout_start(user=user, event_id=event.pk)
    assert created == []


@pytest.fixture
def silent_stripe():
    """An address that accepts connections and never answers, like a Stripe that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.mark.timeout(30)
def test_a_stripe_that_never_answers_is_given_up_on_within_the_timeouts(settings, silent_stripe):
    # given: short timeouts (the defaults are 3 s to connect, 10 s to read)
    settings.STRIPE_API_BASE = silent_stripe
    settings.STRIPE_READ_TIMEOUT_SECONDS = 0.5
    event = EventFactory()

    # when
    began = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        checkout.checkout_start(user=event.owner, event_id=event.pk)
    took = time.monotonic() - began

    # then: three attempts of half a second and the SDK's short back-off, not 80 s per attempt
    assert took < 8, took
    assert Payment.objects.get(event=event).intent_requested_at is None
