"""Deleting a draft with a payment started, against localstripe: the open PaymentIntent is cancelled at
Stripe first; a payment that went through at Stripe refuses the deletion. The ledger keeps every row."""

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import EventAction
from payments import stripe_gateway
from payments.models import Payment
from payments.services.checkout import checkout_start
from tests.conftest import pay_at_localstripe
from tests.factories import PaymentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("webhooks_off")]

DECLINED_CARD = "4000000000000341"


def test_deleting_a_draft_cancels_its_open_intent_at_stripe_and_keeps_the_payment(auth_client, user, event):
    # given: a checkout started, never paid
    payment = checkout_start(user=user, event_id=event.pk).payment

    # when
    response = auth_client.delete(reverse("event-detail", args=[event.pk]))

    # then
    assert response.status_code == 204
    assert stripe_gateway.retrieve_payment_intent(payment.payment_intent_id).status == "canceled"
    payment.refresh_from_db()
    event.refresh_from_db()
    assert payment.status == Payment.Status.CANCELED
    assert event.deleted_at is not None and event.payment_status == Payment.Status.CANCELED
    listed = auth_client.get(reverse("payment-list"), {"event": event.pk}).json()["results"]
    assert [(p["id"], p["status"]) for p in listed] == [(payment.pk, "canceled")]


def test_a_draft_whose_card_was_declined_can_be_deleted(auth_client, user, event):
    checkout = checkout_start(user=user, event_id=event.pk)
    status, _ = pay_at_localstripe(checkout.client_secret, DECLINED_CARD)
    assert status == 402

    response = auth_client.delete(reverse("event-detail", args=[event.pk]))

    assert response.status_code == 204
    assert stripe_gateway.retrieve_payment_intent(checkout.payment.payment_intent_id).status == "canceled"


def test_a_draft_paid_at_stripe_whose_webhook_has_not_arrived_is_not_deleted(auth_client, user, event):
    # given: Stripe took the money; our ledger does not know yet
    checkout = checkout_start(user=user, event_id=event.pk)
    status, _ = pay_at_localstripe(checkout.client_secret, "4242424242424242")
    assert status == 200

    # when
    response = auth_client.delete(reverse("event-detail", args=[event.pk]))

    # then
    assert response.status_code == 409
    assert response.json() == {"detail": "A payment for this event is in progress; it cannot be deleted now."}
    event.refresh_from_db()
    assert event.deleted_at is None
    assert not EventAction.objects.filter(event=event).exists()
    assert stripe_gateway.retrieve_payment_intent(checkout.payment.payment_intent_id).status == "succeeded"


def test_stripe_unreachable_answers_503_and_deletes_nothing(auth_client, user, event, settings):
    checkout_start(user=user, event_id=event.pk)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens

    response = auth_client.delete(reverse("event-detail", args=[event.pk]))

    assert response.status_code == 503
    assert response.json()["detail"].startswith("Stripe is unavailable")
    event.refresh_from_db()
    assert event.deleted_at is None


def test_a_draft_whose_checkout_is_still_creating_its_intent_is_not_deleted(auth_client, user, event):
    # given: a checkout holds the lease; its PaymentIntent is not recorded yet
    payment = PaymentFactory(event=event, payment_intent_id=None, intent_requested_at=timezone.now())

    # when
    response = auth_client.delete(reverse("event-detail", args=[event.pk]))

    # then: nothing was asked of Stripe about a missing id, and nothing was deleted
    assert response.status_code == 409
    assert response.json() == {"detail": "A checkout for this event is being prepared; it cannot be deleted now."}
    event.refresh_from_db()
    payment.refresh_from_db()
    assert event.deleted_at is None
    assert payment.status == Payment.Status.PENDING
