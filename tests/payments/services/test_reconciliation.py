"""Reconciliation against localstripe: Stripe's state is applied through fulfilment's own code."""

from datetime import timedelta

import pytest
import redis
from django.core.cache import caches
from django.utils import timezone
from freezegun import freeze_time

from core.exceptions import ServiceUnavailable
from offline.net import free_port
from payments import stripe_gateway
from payments.models import OperatorAction, Payment
from payments.services import reconciliation
from payments.services.audit import Actor
from payments.services.checkout import checkout_start
from tests.conftest import paid_payment, pay_at_localstripe
from tests.factories import EventFactory, PaymentFactory

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
    assert counts == {"reconciled": 1, "changed": 1, "errors": 0, "rate_limited": False}
    assert checkout.payment.status == Payment.Status.SUCCEEDED
    assert event.is_active is True


def test_recent_pending_payments_are_left_to_their_webhook(user, event):
    checkout = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(checkout.client_secret, "4242424242424242")

    counts = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))

    checkout.payment.refresh_from_db()
    assert counts == {"reconciled": 0, "changed": 0, "errors": 0, "rate_limited": False}
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
    assert counts == {"canceled": 1, "reconciled": 0, "errors": 0, "rate_limited": False}
    assert checkout.payment.status == Payment.Status.CANCELED
    assert stripe_gateway.retrieve_payment_intent(checkout.payment.payment_intent_id).status == "canceled"


def test_an_abandoned_looking_payment_that_was_paid_is_fulfilled_not_canceled(user, event):
    checkout = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(checkout.client_secret, "4242424242424242")

    with freeze_time(timezone.now() + timedelta(hours=25), tick=True):
        counts = reconciliation.payments_cancel_abandoned(older_than=timedelta(hours=24))

    checkout.payment.refresh_from_db()
    assert counts == {"canceled": 0, "reconciled": 1, "errors": 0, "rate_limited": False}
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


# Bounded background work


def _stale_checkouts(count: int) -> list[Payment]:
    payments = []
    for _ in range(count):
        event = EventFactory()
        payments.append(checkout_start(user=event.owner, event_id=event.pk).payment)
    return payments


def test_a_run_takes_at_most_a_batch_least_recently_asked_first(settings):
    # given: three stale checkouts, two asked per run
    settings.PAYMENT_RECONCILE_BATCH_SIZE = 2
    payments = _stale_checkouts(3)

    with freeze_time(timezone.now() + timedelta(minutes=11), tick=True):
        # when
        first = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))
        asked_first = set(Payment.objects.filter(reconciled_at__isnull=False).values_list("pk", flat=True))
        second = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))

    # then: the second run starts with the one the first left out
    assert first["reconciled"] == 2 and len(asked_first) == 2
    assert second["reconciled"] == 1
    assert set(Payment.objects.filter(reconciled_at__isnull=False).values_list("pk", flat=True)) == {
        p.pk for p in payments
    }


def test_an_unchanged_checkout_is_asked_about_ever_less_often(user, event):
    # given: a checkout nobody pays, opened at `start`
    payment = checkout_start(user=user, event_id=event.pk).payment
    start = timezone.now()
    Payment.objects.filter(pk=payment.pk).update(created_at=start, updated_at=start)

    def run_at(minutes: int) -> int:
        with freeze_time(start + timedelta(minutes=minutes)):
            return reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))["reconciled"]

    # when: beat runs every five minutes for an hour and a half
    asked_at = [m for m in range(5, 95, 5) if run_at(m)]

    # then: asked after 10 minutes, then again only once it has waited as long as it had existed
    assert asked_at == [15, 30, 60]


def test_a_429_stops_the_run_and_pauses_every_job(monkeypatch, settings):
    # given: Stripe answers 429 from the second call on
    payments = _stale_checkouts(3)
    calls = []
    real_retrieve = stripe_gateway.retrieve_payment_intent

    def rate_limited_after_one(payment_intent_id):
        calls.append(payment_intent_id)
        if len(calls) > 1:
            raise stripe_gateway.StripeRateLimited("Too many requests")
        return real_retrieve(payment_intent_id)

    monkeypatch.setattr(stripe_gateway, "retrieve_payment_intent", rate_limited_after_one)

    with freeze_time(timezone.now() + timedelta(hours=25), tick=True):
        # when
        counts = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))
        canceled = reconciliation.payments_cancel_abandoned(older_than=timedelta(hours=24))
        rechecked = reconciliation.payments_recheck_charges()

    # then: the run stopped at the 429, and the other jobs did not ask Stripe at all
    assert counts == {"reconciled": 1, "changed": 0, "errors": 0, "rate_limited": True}
    assert len(calls) == 2
    assert canceled["rate_limited"] is True and canceled["canceled"] == 0
    assert rechecked["rate_limited"] is True
    assert all(Payment.objects.get(pk=p.pk).status == Payment.Status.PENDING for p in payments)


def test_the_pause_is_kept_in_the_shared_cache_for_the_back_off(settings):
    # when
    reconciliation._back_off("test")

    # then: every worker process sees it, and Redis forgets it after the back-off
    cache = settings.CACHES["default"]
    client = redis.Redis.from_url(cache["LOCATION"])
    ttl = client.ttl(caches["default"].make_key(reconciliation._BACKOFF_KEY))
    client.close()
    assert reconciliation.STRIPE_BACKOFF.total_seconds() - 5 < ttl <= reconciliation.STRIPE_BACKOFF.total_seconds()


# Automatic changes are audited


def test_beats_changes_are_audited_as_automatic_and_unchanged_payments_are_not(user, event):
    # given: one paid checkout (its webhook lost) and one nobody paid
    paid = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(paid.client_secret, "4242424242424242")
    unpaid = _stale_checkouts(1)[0]

    # when
    with freeze_time(timezone.now() + timedelta(minutes=11), tick=True):
        counts = reconciliation.payments_reconcile_stale(older_than=timedelta(minutes=10))

    # then
    assert counts["reconciled"] == 2 and counts["changed"] == 1
    record = OperatorAction.objects.get()
    assert (record.payment_id, record.action, record.automatic) == (paid.payment.pk, "reconcile", True)
    assert record.actor == "beat: reconcile pending payments" and record.operator is None
    assert record.detail.startswith("pending → succeeded")
    assert not OperatorAction.objects.filter(payment=unpaid).exists()


def test_beats_cancellations_are_audited_as_automatic(user, event):
    checkout = checkout_start(user=user, event_id=event.pk)

    with freeze_time(timezone.now() + timedelta(hours=25), tick=True):
        reconciliation.payments_cancel_abandoned(older_than=timedelta(hours=24))

    record = OperatorAction.objects.get(payment=checkout.payment)
    assert (record.action, record.automatic, record.outcome) == ("cancel", True, "done")
    assert record.detail.startswith("pending → canceled")


def test_a_payment_whose_intent_was_never_recorded_is_closed_without_asking_stripe(user, event, settings):
    # given: checkout's create failed (Stripe unreachable) and nobody came back
    reachable = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceUnavailable):
        checkout_start(user=user, event_id=event.pk)
    settings.STRIPE_API_BASE = reachable

    # when
    with freeze_time(timezone.now() + timedelta(hours=25), tick=True):
        counts = reconciliation.payments_cancel_abandoned(older_than=timedelta(hours=24))

    # then: it no longer counts as an open checkout
    assert counts["canceled"] == 1
    assert Payment.objects.get(event=event).status == Payment.Status.CANCELED
    assert OperatorAction.objects.get().automatic is True


# Refunds and lost disputes that never reached us


def _succeeded(user, event) -> Payment:
    checkout = checkout_start(user=user, event_id=event.pk)
    pay_at_localstripe(checkout.client_secret, "4242424242424242")
    reconciliation.payment_reconcile(payment=checkout.payment)
    checkout.payment.refresh_from_db()
    event.refresh_from_db()
    assert checkout.payment.status == Payment.Status.SUCCEEDED and event.is_active
    Payment.objects.filter(pk=checkout.payment.pk).update(reconciled_at=None)
    return checkout.payment


def test_a_refund_whose_webhook_never_came_is_found_by_the_recheck(user, event):
    # given: a live event, refunded at Stripe (Dashboard), the webhook lost
    payment = _succeeded(user, event)
    stripe_gateway.create_refund(
        payment_intent_id=payment.payment_intent_id, metadata={}, idempotency_key=f"test-refund-{payment.pk}"
    )

    # when
    counts = reconciliation.payments_recheck_charges()

    # then
    payment.refresh_from_db()
    event.refresh_from_db()
    assert counts == {"checked": 1, "refunded": 1, "errors": 0, "rate_limited": False}
    assert payment.status == Payment.Status.REFUNDED and event.is_active is False
    record = OperatorAction.objects.get(payment=payment)
    assert record.automatic and "refunded at Stripe" in record.detail


def test_a_lost_dispute_whose_webhook_never_came_deactivates_the_event(user, event, monkeypatch):
    # given: Stripe reports the charge's dispute lost (the offline stand-in has no disputes)
    payment = _succeeded(user, event)
    charge = stripe_gateway.StripeCharge(
        id="ch_1", payment_intent_id=payment.payment_intent_id, amount=1500, amount_refunded=0, refunded=False,
        dispute_status="lost",
    )  # fmt: skip
    monkeypatch.setattr(stripe_gateway, "retrieve_latest_charge", lambda _: charge)

    # when
    reconciliation.payments_recheck_charges()

    # then
    payment.refresh_from_db()
    event.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED and event.is_active is False
    assert "lost in a dispute" in OperatorAction.objects.get(payment=payment).detail


def test_the_recheck_asks_about_a_few_payments_per_run_and_each_at_most_daily(user, settings):
    # given
    settings.PAYMENT_RECHECK_BATCH_SIZE = 1
    for _ in range(2):
        _succeeded(user, EventFactory(owner=user))

    # when
    runs = [reconciliation.payments_recheck_charges()["checked"] for _ in range(3)]
    with freeze_time(timezone.now() + timedelta(days=1, minutes=1), tick=True):
        next_day = reconciliation.payments_recheck_charges()["checked"]

    # then
    assert runs == [1, 1, 0] and next_day == 1


def test_a_charge_reads_refunds_and_disputes():
    read = stripe_gateway.StripeCharge.from_dict
    assert read({"amount": 1500, "amount_refunded": 1500, "refunded": False}).refunded is True
    assert read({"amount": 1500, "amount_refunded": 500, "refunded": False}).refunded is False
    assert read({"amount": 1500, "dispute": {"id": "dp_1", "status": "lost"}}).dispute_lost is True
    assert read({"amount": 1500, "dispute": {"id": "dp_1", "status": "won"}}).dispute_lost is False
    assert read({"amount": 1500, "dispute": "dp_1"}).dispute_status == ""


def test_a_dispute_names_its_payment_intent_and_whether_it_was_lost():
    read = stripe_gateway.StripeDispute.from_dict
    lost = read({"id": "dp_1", "object": "dispute", "payment_intent": {"id": "pi_1"}, "status": "lost"})
    won = read({"id": "dp_2", "object": "dispute", "payment_intent": "pi_2", "status": "won"})
    assert (lost.payment_intent_id, lost.lost) == ("pi_1", True)
    assert (won.payment_intent_id, won.lost) == ("pi_2", False)
