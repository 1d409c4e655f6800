"""Fulfilment of thin events: the related PaymentIntent or Charge is fetched from Stripe (localstripe here),
outside any transaction, then applied through the same handlers and state guards as a snapshot event."""

import threading

import pytest
from django.db import connection, transaction

from events.models import Event
from offline.net import free_port
from payments import stripe_gateway
from payments.consts import StripeEventType
from payments.models import Payment, StripeEvent
from payments.services import checkout, fulfilment
from tests.conftest import paid_payment, pay_at_localstripe
from tests.factories import (
    EventFactory,
    PaymentFactory,
    payment_intent_object,
    stored_stripe_event,
    stored_thin_event,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhooks_off")]


@pytest.fixture
def fetches(monkeypatch) -> list[tuple[str, str]]:
    """Records each object fulfilment fetches from Stripe; the real gateway still answers."""
    calls: list[tuple[str, str]] = []
    retrieve = stripe_gateway.retrieve_object

    def recording(*, object_type: str, object_id: str) -> dict:
        calls.append((object_type, object_id))
        return retrieve(object_type=object_type, object_id=object_id)

    monkeypatch.setattr(stripe_gateway, "retrieve_object", recording)
    return calls


def _process(row: StripeEvent) -> StripeEvent:
    fulfilment.process_stripe_event(stripe_event_id=row.pk)
    row.refresh_from_db()
    return row


def _charge_of(payment_intent_id: str) -> str:
    latest = stripe_gateway.retrieve_object(object_type="payment_intent", object_id=payment_intent_id)["latest_charge"]
    return latest["id"] if isinstance(latest, dict) else latest  # localstripe expands it


def test_a_thin_succeeded_fetches_the_intent_and_activates_the_event(fetches):
    # given: an intent paid at localstripe; the notification names it, nothing more
    payment, intent = paid_payment()
    row = stored_thin_event("v1.payment_intent.succeeded", related_object_id=intent["id"])

    # when
    row = _process(row)

    # then
    payment.refresh_from_db()
    assert fetches == [("payment_intent", intent["id"])]
    assert row.status == StripeEvent.Status.PROCESSED and row.attempts == 1
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.event.is_active is True and payment.event.activated_at is not None


def test_a_thin_payment_failed_keeps_the_decline_stripe_reports_now():
    # given: a declined card at localstripe
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    status, _error = pay_at_localstripe(started.client_secret, "4000000000000341")
    assert status == 402
    row = stored_thin_event("v1.payment_intent.payment_failed", related_object_id=started.payment.payment_intent_id)

    # when
    row = _process(row)

    # then
    payment = Payment.objects.get(pk=started.payment.pk)
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.FAILED
    assert payment.last_error == "Your card was declined."
    assert payment.event.is_active is False


def test_a_thin_refund_fetches_the_charge_refunds_the_payment_and_names_its_intent(fetches):
    # given: a payment that succeeded, then was refunded at Stripe
    payment, intent = paid_payment()
    _process(stored_thin_event("v1.payment_intent.succeeded", related_object_id=intent["id"]))
    charge_id = _charge_of(intent["id"])
    stripe_gateway.client().v1.refunds.create({"payment_intent": intent["id"]})
    row = stored_thin_event("v1.charge.refunded", related_object_id=charge_id)
    assert row.payment_intent_id == ""

    # when
    row = _process(row)

    # then
    payment.refresh_from_db()
    assert fetches[-1] == ("charge", charge_id)
    assert row.status == StripeEvent.Status.PROCESSED
    assert row.payment_intent_id == intent["id"]  # the admin's pi_ search finds the row now
    assert payment.status == Payment.Status.REFUNDED
    assert payment.event.is_active is False


@pytest.mark.parametrize("first", ["snapshot", "thin"])
def test_the_same_change_as_a_snapshot_and_a_thin_event_changes_the_payment_once(first):
    # given: one payment at Stripe, its success told both ways (both destinations during a migration)
    payment, intent = paid_payment()
    snapshot = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment, id=intent["id"])
    )
    thin = stored_thin_event("v1.payment_intent.succeeded", related_object_id=intent["id"])
    rows = [snapshot, thin] if first == "snapshot" else [thin, snapshot]

    # when
    _process(rows[0])
    payment.refresh_from_db()
    changed_at, activated_at = payment.updated_at, payment.event.activated_at
    _process(rows[1])

    # then: the second one finds the payment already succeeded and changes nothing
    payment.refresh_from_db()
    assert [row.status for row in rows] == [StripeEvent.Status.PROCESSED] * 2
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active
    assert payment.updated_at == changed_at
    assert payment.event.activated_at == activated_at


def test_an_intent_eventpay_did_not_create_is_ignored_without_asking_stripe(fetches):
    row = stored_thin_event("v1.payment_intent.succeeded", related_object_id="pi_3MtwBwLkdIwHu7ix28a3tqPa")

    row = _process(row)

    assert row.status == StripeEvent.Status.IGNORED
    assert fetches == []


def test_a_type_without_a_handler_is_ignored_without_asking_stripe(fetches):
    row = stored_thin_event("v1.billing.meter.error_report_triggered", related_object_id="mtr_1")

    row = _process(row)

    assert row.status == StripeEvent.Status.IGNORED
    assert fetches == []


def test_a_processed_row_is_not_fetched_again(fetches):
    # given
    _payment, intent = paid_payment()
    row = _process(stored_thin_event("v1.payment_intent.succeeded", related_object_id=intent["id"]))

    # when: a redelivered task, an operator's retry
    status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then
    assert status == StripeEvent.Status.PROCESSED
    assert len(fetches) == 1


def test_stripe_unreachable_leaves_the_row_open_for_the_tasks_retry(settings):
    # given
    payment, intent = paid_payment()
    row = stored_thin_event(
        "v1.payment_intent.succeeded", related_object_id=intent["id"], status=StripeEvent.Status.ENQUEUED
    )
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    # when
    with pytest.raises(stripe_gateway.TransientStripeError):
        fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then: nothing changed; the task's autoretry comes back to it
    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.ENQUEUED
    assert payment.status == Payment.Status.PENDING


def test_an_object_stripe_refuses_to_return_fails_the_row_for_an_operator():
    row = stored_thin_event("v1.charge.refunded", related_object_id="ch_nobody_made")

    row = _process(row)

    assert row.status == StripeEvent.Status.FAILED
    assert row.last_error.startswith("Stripe did not return charge ch_nobody_made:")


@pytest.mark.django_db(transaction=True)
def test_the_object_is_fetched_outside_any_transaction_and_lock(monkeypatch):
    # given: a spy that, while Stripe is being asked, checks this connection holds no transaction and
    # another connection can lock the inbox row and the payment at once (NOWAIT)
    payment, intent = paid_payment()
    row = stored_thin_event("v1.payment_intent.succeeded", related_object_id=intent["id"])
    seen: dict[str, object] = {}
    retrieve = stripe_gateway.retrieve_object

    def lock_elsewhere() -> None:
        try:
            with transaction.atomic():
                StripeEvent.objects.select_for_update(nowait=True).get(pk=row.pk)
                Payment.objects.select_for_update(nowait=True).get(pk=payment.pk)
                Event.objects.select_for_update(nowait=True).get(pk=payment.event_id)
            seen["locked_elsewhere"] = True
        finally:
            connection.close()

    def spying(**kwargs) -> dict:
        seen["in_transaction"] = connection.in_atomic_block
        other = threading.Thread(target=lock_elsewhere)
        other.start()
        other.join(timeout=10)
        return retrieve(**kwargs)

    monkeypatch.setattr(stripe_gateway, "retrieve_object", spying)

    # when
    fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then
    assert seen == {"in_transaction": False, "locked_elsewhere": True}
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED


def test_a_snapshot_event_is_never_fetched(fetches):
    payment = PaymentFactory()

    row = _process(stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment)))

    assert row.status == StripeEvent.Status.PROCESSED
    assert fetches == []
