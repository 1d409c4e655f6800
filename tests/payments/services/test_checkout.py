"""Checkout, called directly against localstripe: one open payment and one PaymentIntent per event."""

import pytest

from core.exceptions import Conflict, NotFound, ServiceUnavailable
from offline.net import free_port
from payments import stripe_gateway
from payments.models import Payment
from payments.services.checkout import checkout_start
from tests.factories import EventFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("localstripe")]


def test_a_first_checkout_opens_a_payment_for_the_fee_and_names_it_in_the_intent(user, event, settings):
    # when
    checkout = checkout_start(user=user, event_id=event.pk)

    # then
    payment = checkout.payment
    intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
    event.refresh_from_db()
    assert checkout.created and checkout.client_secret == intent.client_secret
    assert (payment.amount, payment.currency, payment.status) == (
        settings.EVENT_ACTIVATION_FEE, settings.EVENT_ACTIVATION_CURRENCY, Payment.Status.PENDING,
    )  # fmt: skip
    assert intent.metadata == {"payment_id": str(payment.pk), "event_id": str(event.pk)}
    assert event.payment_status == Payment.Status.PENDING and not event.is_active


def test_a_second_checkout_reuses_the_open_payment_and_its_intent(user, event):
    first = checkout_start(user=user, event_id=event.pk)

    again = checkout_start(user=user, event_id=event.pk)

    assert not again.created
    assert (again.payment.pk, again.client_secret) == (first.payment.pk, first.client_secret)
    assert Payment.objects.filter(event=event).count() == 1


def test_another_users_event_is_not_found(user, other_user):
    with pytest.raises(NotFound):
        checkout_start(user=user, event_id=EventFactory(owner=other_user).pk)


def test_an_active_event_is_a_conflict(user):
    with pytest.raises(Conflict):
        checkout_start(
            user=user, event_id=EventFactory(owner=user, is_active=True, activated_at="2031-01-01T00:00Z").pk
        )


def test_stripe_unreachable_leaves_no_payment_behind(user, event, settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ServiceUnavailable):
        checkout_start(user=user, event_id=event.pk)

    event.refresh_from_db()
    assert not Payment.objects.filter(event=event).exists() and event.payment_status is None
