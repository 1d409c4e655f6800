"""An operator's refund and an organiser's deletion of a draft call Stripe with no transaction open and no
row locked, against localstripe and real PostgreSQL connections: while Stripe hangs, the event's webhooks
are applied and its checkout answers, from other connections (another web thread, a worker)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.exceptions import Conflict
from events.models import Event
from payments import stripe_gateway
from payments.models import Payment, RefundRequest
from payments.services import checkout, fulfilment, refunds
from payments.services.audit import Actor
from tests.conftest import live_payment
from tests.factories import EventFactory, declined_intent_object, refunded_charge_object, stored_stripe_event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("webhooks_off")]

# Longer than any of the work done meanwhile takes, short enough that a test against a lock fails fast.
LOCK_TIMEOUT = "3s"


def _elsewhere(work: Callable[[], object]) -> object:
    """Runs `work` as another web thread or worker would: in a thread, on a connection of its own, giving up
    on a row lock after LOCK_TIMEOUT; returns what it returned or raised."""

    def run() -> object:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            return work()
        except Exception as exc:  # what the caller would see, to assert on
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _webhook(event_type: str, data_object: dict) -> str:
    """Stripe's event, stored in the inbox (by the webhook's web thread) and applied (by a worker)."""
    return fulfilment.process_stripe_event(stripe_event_id=stored_stripe_event(event_type, data_object).pk)


def _hang(monkeypatch, call: str, meanwhile: Callable[[], None]) -> dict[str, object]:
    """The gateway's `call` hangs, the first time, while `meanwhile` runs, then answers as Stripe would; what
    the caller held then (an open transaction) is recorded."""
    seen: dict[str, object] = {}
    real = getattr(stripe_gateway, call)

    def hanging(*args, **kwargs):
        if "in_transaction" not in seen:
            seen["in_transaction"] = connection.in_atomic_block
            meanwhile()
        return real(*args, **kwargs)

    monkeypatch.setattr(stripe_gateway, call, hanging)
    return seen


def test_a_refund_waiting_for_stripe_blocks_neither_the_refund_webhook_nor_checkout(monkeypatch):
    # given: a live event, and Stripe hanging on the refund while its webhook and a checkout arrive
    payment = live_payment()
    meanwhile: dict[str, object] = {}

    def arrive() -> None:
        meanwhile["request"] = RefundRequest.objects.get(payment=payment).status
        meanwhile["checkout"] = _elsewhere(
            lambda: checkout.checkout_start(user=payment.user, event_id=payment.event_id)
        )
        meanwhile["webhook"] = _elsewhere(lambda: _webhook("charge.refunded", refunded_charge_object(payment)))

    seen = _hang(monkeypatch, "create_refund", arrive)

    # when
    action = refunds.payment_refund(payment=payment, actor=Actor(name="olga"), reason="Duplicate")

    # then: the webhook was applied and checkout answered while Stripe hung, the refund recorded after
    assert meanwhile["webhook"] == "processed"
    assert meanwhile["request"] == RefundRequest.Status.SUBMITTING
    assert seen["in_transaction"] is False
    assert isinstance(meanwhile["checkout"], Conflict)
    assert str(meanwhile["checkout"]) == "This event is already active."
    assert action.outcome == "done"
    assert RefundRequest.objects.get(payment=payment).status == RefundRequest.Status.SUBMITTED
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED


def test_a_refund_being_submitted_is_not_submitted_again_until_its_lease_runs_out(monkeypatch):
    # given: a submitter that took the lease a moment ago (and may still be waiting for Stripe)
    payment = live_payment()
    request = RefundRequest.objects.create(
        payment=payment, idempotency_key="k-lease", actor="ada", reason="Duplicate", status="submitting"
    )
    asked: list[str] = []
    real = stripe_gateway.create_refund
    monkeypatch.setattr(
        stripe_gateway, "create_refund", lambda **kwargs: asked.append(kwargs["idempotency_key"]) or real(**kwargs)
    )

    # when: a second operator clicks, then again after the lease
    second = refunds.payment_refund(payment=payment, actor=Actor(name="olga"), reason="Duplicate")
    RefundRequest.objects.filter(pk=request.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    after_lease = refunds.payment_refund(payment=payment, actor=Actor(name="olga"), reason="Duplicate")

    # then: Stripe was asked once, after the lease, with the stored key
    assert (second.outcome, second.detail) == ("skipped", "A refund is being submitted to Stripe (requested by ada).")
    assert asked == ["k-lease"]
    assert after_lease.outcome == "done"
    assert RefundRequest.objects.get(pk=request.pk).status == RefundRequest.Status.SUBMITTED


def test_deleting_a_draft_while_stripe_hangs_blocks_neither_its_webhooks_nor_checkout(monkeypatch):
    # given: a draft with an open PaymentIntent, and Stripe hanging on its cancellation
    event = EventFactory()
    payment = checkout.checkout_start(user=event.owner, event_id=event.pk).payment
    meanwhile: dict[str, object] = {}

    def arrive() -> None:
        meanwhile["lease"] = Event.objects.get(pk=event.pk).deletion_started_at
        meanwhile["webhook"] = _elsewhere(
            lambda: _webhook("payment_intent.payment_failed", declined_intent_object(payment))
        )
        meanwhile["checkout"] = _elsewhere(lambda: checkout.checkout_start(user=event.owner, event_id=event.pk))
        meanwhile["second delete"] = _elsewhere(lambda: _delete(event))

    seen = _hang(monkeypatch, "cancel_payment_intent", arrive)

    # when
    response = _delete(event)

    # then: the webhook was applied and checkout answered (the open intent) while Stripe hung
    assert meanwhile["webhook"] == "processed"
    assert isinstance(meanwhile["checkout"], checkout.Checkout) and meanwhile["checkout"].payment.pk == payment.pk
    assert meanwhile["lease"] is not None
    assert seen["in_transaction"] is False
    assert meanwhile["second delete"].status_code == 409
    assert meanwhile["second delete"].json() == {"detail": "This event is being deleted."}
    assert response.status_code == 204
    event.refresh_from_db()
    payment.refresh_from_db()
    assert event.deleted_at is not None and payment.status == Payment.Status.CANCELED


def test_a_checkout_opened_while_the_deletion_waited_for_stripe_refuses_it(monkeypatch):
    # given: a draft whose only intent is cancelled, and a new checkout started while Stripe answered
    event = EventFactory()
    payment = checkout.checkout_start(user=event.owner, event_id=event.pk).payment
    stripe_gateway.cancel_payment_intent(payment.payment_intent_id)
    opened: list[checkout.Checkout] = []
    _hang(
        monkeypatch,
        "retrieve_payment_intent",
        lambda: opened.append(_elsewhere(lambda: checkout.checkout_start(user=event.owner, event_id=event.pk))),
    )

    # when
    response = _delete(event)

    # then: the new payment is kept open; the draft is not deleted and can be deleted again at once
    assert response.status_code == 409
    assert response.json() == {"detail": "A checkout for this event began meanwhile; it cannot be deleted now."}
    event.refresh_from_db()
    assert event.deleted_at is None and event.deletion_started_at is None
    assert Payment.objects.get(event=event, status=Payment.Status.PENDING).pk != payment.pk


def test_a_deletion_lease_left_by_a_deletion_that_died_is_taken_over():
    event = EventFactory(deletion_started_at=timezone.now() - timedelta(hours=1))

    response = _delete(event)

    assert response.status_code == 204


def _delete(event: Event):
    client = APIClient()
    client.force_authenticate(event.owner)
    return client.delete(reverse("event-detail", args=[event.pk]))
