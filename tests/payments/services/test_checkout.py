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


def test_stripe_unreachable_keeps_the_payment_for_a_retry_with_the_same_idempotency_key(user, event, settings):
    # given: Stripe cannot be reached
    reachable = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    # when
    with pytest.raises(ServiceUnavailable):
        checkout_start(user=user, event_id=event.pk)

    # then: the pending payment waits, its lease released, the event untouched
    waiting = Payment.objects.get(event=event)
    event.refresh_from_db()
    assert (waiting.status, waiting.payment_intent_id, waiting.intent_requested_at) == ("pending", None, None)
    assert waiting.idempotency_key and event.payment_status is None

    # when: Stripe is back and the organiser clicks again
    settings.STRIPE_API_BASE = reachable
    again = checkout_start(user=user, event_id=event.pk)

    # then: the same payment gets its intent
    event.refresh_from_db()
    assert again.payment.pk == waiting.pk and again.payment.payment_intent_id
    assert event.payment_status == Payment.Status.PENDING


def test_each_payment_has_a_random_idempotency_key_of_its_own(user):
    # when
    keys = [checkout_start(user=user, event_id=EventFactory(owner=user).pk).payment.idempotency_key for _ in range(3)]

    # then: random, not derived from the row id (a database that reuses rolled-back ids would repeat it)
    assert len(set(keys)) == 3 and all(len(key) >= 40 for key in keys)


def test_an_organiser_with_too_many_unpaid_checkouts_is_told_so(user, settings):
    # given
    settings.CHECKOUT_OPEN_PAYMENTS_LIMIT = 2
    for _ in range(2):
        checkout_start(user=user, event_id=EventFactory(owner=user).pk)

    # when / then: a third event cannot open a checkout
    with pytest.raises(Conflict, match="2 unpaid checkouts open") as refused:
        checkout_start(user=user, event_id=EventFactory(owner=user).pk)
    assert refused.value.status_code == 409
    assert Payment.objects.filter(user=user).count() == 2


def test_the_limit_never_blocks_resuming_an_open_checkout(user, event, settings):
    # given
    settings.CHECKOUT_OPEN_PAYMENTS_LIMIT = 1
    first = checkout_start(user=user, event_id=event.pk)

    # when
    again = checkout_start(user=user, event_id=event.pk)

    # then
    assert again.payment.pk == first.payment.pk
