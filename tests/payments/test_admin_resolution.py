"""The operators' console: a mismatched payment resolved (reopen checkout or accept after review), audited;
payloads shown with client secrets and billing details redacted."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from payments import stripe_gateway
from payments.consts import StripeEventType
from payments.models import Notification, OperatorAction, Payment
from payments.services import checkout, reconciliation
from tests.conftest import pay_at_localstripe
from tests.factories import (
    EventFactory,
    PaymentFactory,
    payment_intent_object,
    recorded_event_body,
    stored_stripe_event,
)

pytestmark = pytest.mark.django_db

PAYMENTS = reverse("admin:payments_payment_changelist")


@pytest.fixture
def operator(operator_client):
    """The admin's session (password and a verified second factor) of a superuser, olga."""
    return operator_client


@pytest.fixture
def mismatched(webhooks_off) -> Payment:
    """Paid at Stripe, but for another amount than ours: fulfilment refuses to activate; it stays pending."""
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    status, _ = pay_at_localstripe(started.client_secret, "4242424242424242")
    assert status == 200
    Payment.objects.filter(pk=started.payment.pk).update(amount=2500)
    reconciliation.payment_reconcile(payment=started.payment)
    payment = Payment.objects.get(pk=started.payment.pk)
    assert payment.status == Payment.Status.PENDING and "Amount received" in payment.last_error
    return payment


def _act(client, action: str, payment: Payment, reason: str = "checked with the organiser (INC-7)"):
    return client.post(PAYMENTS, {"action": action, "_selected_action": [payment.pk], "reason": reason}, follow=True)


def test_reopening_checkout_refunds_at_stripe_closes_the_payment_and_unblocks_the_organiser(operator, mismatched):
    # when
    response = _act(operator, "reopen_checkout", mismatched)

    # then
    mismatched.refresh_from_db()
    assert response.status_code == 200
    assert mismatched.status == Payment.Status.REFUNDED and mismatched.event.is_active is False
    assert stripe_gateway.retrieve_latest_charge(mismatched.payment_intent_id).refunded is True
    record = OperatorAction.objects.get(payment=mismatched)
    assert (record.action, record.outcome, record.actor, record.reason) == (
        "reopen", "done", "olga", "checked with the organiser (INC-7)",
    )  # fmt: skip
    # The organiser can check out again: a new payment and PaymentIntent.
    again = checkout.checkout_start(user=mismatched.user, event_id=mismatched.event_id)
    assert again.created and again.payment.pk != mismatched.pk


def test_reopening_an_unpaid_intent_cancels_it(operator, webhooks_off):
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)

    _act(operator, "reopen_checkout", started.payment)

    payment = Payment.objects.get(pk=started.payment.pk)
    assert payment.status == Payment.Status.CANCELED
    assert stripe_gateway.retrieve_payment_intent(payment.payment_intent_id).status == "canceled"


@pytest.fixture
def stripe_still_processing(settings):
    """A Stripe whose every PaymentIntent is still being paid (a bank debit, say): each GET answers the
    recorded `processing` intent (tests/fixtures/events/) under the id asked for; localstripe never has one.
    Yields the requests it received, as (method, path)."""
    intent = recorded_event_body("payment_intent.processing")["data"]["object"]
    received: list[tuple[str, str]] = []

    class Processing(BaseHTTPRequestHandler):
        def do_GET(self):
            received.append(("GET", self.path))
            body = json.dumps(intent | {"id": self.path.split("?")[0].rsplit("/", 1)[-1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            received.append(("POST", self.path))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Processing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield received
    server.shutdown()
    server.server_close()


def test_reopening_waits_while_stripe_is_still_taking_the_payment(operator, stripe_still_processing):
    # given: a payment fulfilment refused, whose PaymentIntent Stripe is still processing
    payment = PaymentFactory(payment_intent_id="pi_still_processing", last_error="Amount received 0 does not match")

    # when
    _act(operator, "reopen_checkout", payment)

    # then: nothing refunded or canceled at Stripe, the payment as it was, and the operator told to come back
    assert stripe_still_processing == [("GET", "/v1/payment_intents/pi_still_processing")]
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    record = OperatorAction.objects.get(payment=payment)
    assert (record.action, record.outcome) == ("reopen", "skipped")
    assert record.detail == "Stripe is still taking the payment (processing); try again later."


def test_accepting_after_review_activates_the_event_and_keeps_what_was_wrong(operator, mismatched):
    # when
    _act(operator, "accept_reviewed", mismatched, reason="price changed mid-checkout; accepted")

    # then
    mismatched.refresh_from_db()
    mismatched.event.refresh_from_db()
    assert mismatched.status == Payment.Status.SUCCEEDED and mismatched.last_error == ""
    assert mismatched.event.is_active is True and mismatched.event.payment_status == "succeeded"
    record = OperatorAction.objects.get(payment=mismatched)
    assert (record.action, record.outcome) == ("accept", "done")
    assert "Amount received 1500 does not match" in record.detail


def test_accepting_after_review_gives_what_a_webhook_gives(
    operator, mismatched, payment_tasks_in_process, monkeypatch, django_capture_on_commit_callbacks
):
    # given: the workers' tasks run as they are handed over (`payment_tasks_in_process`)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        _act(operator, "accept_reviewed", mismatched, reason="price changed mid-checkout; accepted")

    # then: the receipt, one "your event is live" email, the card on the payment list, the audit row
    mismatched.refresh_from_db()
    assert mismatched.succeeded_at is not None
    owner = Client()
    owner.force_login(mismatched.user)
    assert owner.get(reverse("payment-receipt", args=[mismatched.pk])).status_code == 200
    assert list(Notification.objects.filter(payment=mismatched).values_list("kind", "status")) == [("live", "sent")]
    assert [message.to for message in mail.outbox] == [[mismatched.user.email]]
    listed = owner.get(reverse("payment-list"), {"event": mismatched.event_id}).json()["results"]
    assert [(p["card_brand"], p["card_last4"]) for p in listed] == [("visa", "4242")]
    record = OperatorAction.objects.get(payment=mismatched)
    assert (record.action, record.outcome, record.actor) == ("accept", "done", "olga")


def test_accepting_what_stripe_has_not_been_paid_is_refused(operator, webhooks_off):
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)

    _act(operator, "accept_reviewed", started.payment)

    assert Payment.objects.get(pk=started.payment.pk).status == Payment.Status.PENDING
    record = OperatorAction.objects.get()
    assert record.outcome == "skipped" and "no payment to accept" in record.detail


@pytest.mark.parametrize("action", ["reopen_checkout", "accept_reviewed"])
def test_resolving_needs_a_reason(operator, mismatched, action):
    response = _act(operator, action, mismatched, reason="  ")

    assert "A reason is required" in " ".join(str(m) for m in response.context["messages"])
    assert Payment.objects.get(pk=mismatched.pk).status == Payment.Status.PENDING
    assert not OperatorAction.objects.exists()


def test_the_payload_is_shown_without_client_secrets_or_billing_details(operator):
    # given: a stored event carrying a client secret and the payer's billing details
    payment = PaymentFactory()
    billing = {"name": "Jane Payer", "email": "jane.payer@example.com", "phone": "+15550001111", "address": None}
    intent = payment_intent_object(
        payment, latest_charge={"id": "ch_1", "object": "charge", "billing_details": billing, "amount": 1500}
    )
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, intent)

    # when
    page = operator.get(reverse("admin:payments_stripeevent_change", args=[row.pk])).content.decode()

    # then: redacted on the page, kept as signed in the row
    for secret in (intent["client_secret"], "Jane Payer", "jane.payer@example.com", "+15550001111"):
        assert secret not in page
    assert "[redacted]" in page and payment.payment_intent_id in page
    stored = json.loads(type(row).objects.get(pk=row.pk).payload)
    assert stored["data"]["object"]["client_secret"] == intent["client_secret"]
