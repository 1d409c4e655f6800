"""Payment history and receipts: the card and Stripe's receipt link read from the charge (localstripe),
our own receipt for a payment that went through, and 404 for any other."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from freezegun import freeze_time

from payments import queue, stripe_gateway
from payments.models import Payment
from payments.services import fulfilment, receipts, reconciliation
from tests.conftest import paid_payment
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event

pytestmark = pytest.mark.django_db


def _receipt(client, payment):
    return client.get(reverse("payment-receipt", args=[payment.pk]))


@pytest.mark.usefixtures("webhooks_off")
def test_a_paid_payment_gets_the_card_of_its_charge_and_a_receipt(api_client):
    # given: paid at localstripe with a Visa card, applied through fulfilment (reconciliation here)
    payment, _ = paid_payment("4242424242424242")
    with freeze_time("2031-03-04T05:06:07Z", tick=True):
        reconciliation.payment_reconcile(payment=payment)

    # when: the worker's task after the commit
    fetched = receipts.payment_charge_details_fetch(payment_id=payment.pk)

    # then
    assert fetched is True
    payment.refresh_from_db()
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    api_client.force_authenticate(payment.user)
    listed = api_client.get(reverse("payment-list"), {"event": payment.event_id}).json()["results"]
    assert [(p["card_brand"], p["card_last4"], p["receipt_url"]) for p in listed] == [("visa", "4242", "")]
    receipt = _receipt(api_client, payment).json()
    assert receipt == {
        "receipt_number": f"EP-2031-{payment.pk:06d}",
        "payment_id": payment.pk,
        "event": {
            "id": payment.event_id,
            "title": payment.event.title,
            "starts_at": payment.event.starts_at.isoformat().replace("+00:00", "Z"),
        },
        "organiser": {"username": payment.user.username, "email": payment.user.email},
        "amount": 1500,
        "currency": "usd",
        "paid_at": receipt["paid_at"],
        "card_brand": "visa",
        "card_last4": "4242",
        "status": "succeeded",
        "stripe_receipt_url": "",
    }
    assert receipt["paid_at"].startswith("2031-03-04T05:06:")


def test_stripes_charge_gives_the_card_and_its_receipt_link():
    # given: a charge as Stripe sends it for the pinned API version
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 1500,
        "amount_refunded": 0,
        "refunded": False,
        "payment_intent": "pi_1",
        "payment_method_details": {"type": "card", "card": {"brand": "mastercard", "last4": "4444"}},
        "receipt_url": "https://pay.stripe.com/receipts/acct_1/ch_1/rcpt_1",
    }

    parsed = stripe_gateway.StripeCharge.from_dict(charge)

    assert (parsed.card_brand, parsed.card_last4, parsed.receipt_url) == (
        "mastercard", "4444", "https://pay.stripe.com/receipts/acct_1/ch_1/rcpt_1",
    )  # fmt: skip
    assert (parsed.payment_intent_id, parsed.refunded) == ("pi_1", False)


def test_a_refunded_payment_keeps_its_receipt_with_its_new_status(auth_client, user):
    payment = PaymentFactory(
        user=user, event__owner=user, status=Payment.Status.REFUNDED, succeeded_at=datetime(2031, 1, 2, tzinfo=UTC)
    )

    response = _receipt(auth_client, payment)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["paid_at"]) == ("refunded", "2031-01-02T00:00:00Z")


@pytest.mark.parametrize("status", [Payment.Status.PENDING, Payment.Status.FAILED, Payment.Status.CANCELED])
def test_a_payment_that_did_not_go_through_has_no_receipt(auth_client, user, status):
    payment = PaymentFactory(user=user, event__owner=user, status=status)

    response = _receipt(auth_client, payment)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_another_users_receipt_is_404_and_a_visitors_is_refused(auth_client, api_client, other_user):
    payment = PaymentFactory(
        user=other_user, event__owner=other_user, status=Payment.Status.SUCCEEDED, succeeded_at=datetime.now(UTC)
    )

    assert _receipt(auth_client, payment).status_code == 404
    assert _receipt(api_client, payment).status_code in (401, 403)


def test_stripes_charge_succeeded_event_records_the_card_and_the_receipt_link():
    # given
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED)
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 1500,
        "payment_intent": payment.payment_intent_id,
        "payment_method_details": {"type": "card", "card": {"brand": "amex", "last4": "0005"}},
        "receipt_url": "https://pay.stripe.com/receipts/acct_1/ch_1/rcpt_1",
    }
    row = stored_stripe_event("charge.succeeded", charge)

    # when
    status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then
    payment.refresh_from_db()
    assert status == "processed"
    assert (payment.card_brand, payment.card_last4, payment.status) == ("amex", "0005", "succeeded")
    assert payment.receipt_url == "https://pay.stripe.com/receipts/acct_1/ch_1/rcpt_1"


@pytest.mark.parametrize(("offline", "fetched"), [(True, True), (False, False)])
def test_the_card_is_read_from_the_charge_only_where_no_charge_event_brings_it(
    settings, monkeypatch, django_capture_on_commit_callbacks, offline, fetched
):
    # given: localstripe sends no charge.* events; Stripe sends charge.succeeded
    settings.STRIPE_OFFLINE = offline
    asked: list[int] = []
    monkeypatch.setattr(queue, "charge_details_fetch", lambda *, payment_id: asked.append(payment_id))
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    payment = PaymentFactory()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment.process_stripe_event(
            stripe_event_id=stored_stripe_event("payment_intent.succeeded", payment_intent_object(payment)).pk
        )

    # then
    assert asked == ([payment.pk] if fetched else [])


@pytest.mark.usefixtures("webhooks_off")
def test_a_payment_stripe_does_not_know_gets_no_card_and_no_error():
    payment = PaymentFactory(status=Payment.Status.SUCCEEDED, payment_intent_id="pi_unknown_to_stripe")

    assert receipts.payment_charge_details_fetch(payment_id=payment.pk) is False

    payment.refresh_from_db()
    assert (payment.card_brand, payment.card_last4) == ("", "")
