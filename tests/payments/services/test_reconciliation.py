"""Reconciliation against localstripe: Stripe's state is applied through fulfilment's own code."""

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from payments import stripe_gateway
from payments.models import OperatorAction, Payment
from payments.services import reconciliation
from payments.services.audit import Actor
from payments.services.checkout import checkout_start
from tests.conftest import paid_payment, pay_at_localstripe
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

ADA = Actor(name="ada")


@pytest.fixture(autouse=True)
def _no_webhooks(webhooks_off):
    """Webhooks reach nobody here: reconciliation is the only way the news arrives."""


def test_a_payment_whose_webhook_never_came_is_activated_by_reconciliation(user, event):
    # given: paid at Stripe, but no webhook reached us
    checkout = checkout_start(user=user, event_id=event.pk)
    status, _ = pay_at_localstripe(checkout.client_secret, "4242424242424242")
    assert status == 200

    # when: ten minutes on, a reconcile pass runs
    with freeze_time(timezone.now() + timedelta(minutes=11), tick=True):
        counts = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))

    # then
    checkout.payment.refresh_from_db()
    event.refresh_from_db()
    assert counts == {"reconciled": 1, "errors": 0}
    assert checkout.payment.status == Payment.Status.SUCCEEDED
    assert event.is_active is True


def test_recent_pending_payments_are_left_to_their_webhook(user, event):
    checkout = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(checkout.client_secret, "4242424242424242")

    counts = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))

    checkout.payment.refresh_from_db()
    assert counts == {"reconciled": 0, "errors": 0}
    assert checkout.payment.status == Payment.Status.PENDING


def test_reconciling_a_declined_payment_records_the_decline(user, event):
    checkout = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(checkout.client_secret, "4000000000000341")

    reconciliation.payment_reconcile(payment=checkout.payment)

    checkout.payment.refresh_from_db()
    assert checkout.payment.status == Payment.Status.FAILED
    assert checkout.payment.last_error == "Your card was declined."


def test_abandoned_payments_are_canceled_at_stripe_and_here(user, event):
    # given
    checkout = checkout_start(user=user, event_id=event.pk)

    # when: a day later
    with freeze_time(timezone.now() + timedelta(hours=25), tick=True):
        counts = reconciliation.payments_cancel_abandoned(older_than=timedelta(hours=24))

    # then
    checkout.payment.refresh_from_db()
    assert counts == {"canceled": 1, "reconciled": 0, "errors": 0}
    assert checkout.payment.status == Payment.Status.CANCELED
    assert stripe_gateway.retrieve_payment_intent(checkout.payment.payment_intent_id).status == "canceled"


def test_an_abandoned_looking_payment_that_was_paid_is_fulfilled_not_canceled(user, event):
    checkout = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(checkout.client_secret, "4242424242424242")

    with freeze_time(timezone.now() + timedelta(hours=25), tick=True):
        counts = reconciliation.payments_cancel_abandoned(older_than=timedelta(hours=24))

    checkout.payment.refresh_from_db()
    assert counts == {"canceled": 0, "reconciled": 1, "errors": 0}
    assert checkout.payment.status == Payment.Status.SUCCEEDED
    assert stripe_gateway.retrieve_payment_intent(checkout.payment.payment_intent_id).status == "succeeded"


def test_reconcile_now_records_the_outcome():
    # given
    payment, _ = paid_payment()

    # when
    record = reconciliation.payment_reconcile_now(payment=payment, actor=ADA)

    # then
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert (record.action, record.outcome, record.payment) == ("reconcile", "done", payment)


def test_reconcile_now_reports_stripe_refusing():
    # given: a PaymentIntent Stripe has never heard of
    payment = PaymentFactory(payment_intent_id="pi_unknown_to_stripe")

    # when
    record = reconciliation.payment_reconcile_now(payment=payment, actor=ADA)

    # then
    assert record.outcome == OperatorAction.Outcome.ERROR and "Stripe" in record.detail
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
