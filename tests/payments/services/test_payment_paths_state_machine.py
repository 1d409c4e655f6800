"""Invariants of payments over any sequence of every path that changes one.

Hypothesis interleaves what the customer does at Stripe, snapshot webhooks and thin events (stored
through the inbox, applied by fulfilment), reconciliation, cancelling abandoned intents, an operator's
refund, accept after review and reopen checkout, the organiser's checkout and the event's deletion, all
real services on PostgreSQL. Stripe is the gateway module's stand-in below, which keeps each
PaymentIntent's state as Stripe would (what it accepts, refuses and answers). Each step's commit work
runs (the emails are sent, the card is read).

Every change of `payments_payment.status` is recorded by a PostgreSQL trigger, so nothing can change a
payment unseen. After every step, for every payment of the event:
- succeeded or refunded ⇒ `succeeded_at` is set and its organiser's receipt page answers 200;
- each fact it went through (live, payment failed, refunded) has exactly one notification row, sent once;
- `Event.is_active` ⇔ the event has a succeeded payment;
- every recorded change is one ALLOWED_TRANSITIONS allows.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from core.exceptions import ApplicationError
from events.models import Event
from events.services import event_delete
from payments import queue, stripe_gateway
from payments.consts import DisputeStatus, IntentStatus, StripeEventType
from payments.models import Notification, Payment
from payments.services import checkout, fulfilment, inbox, notifications, receipts, reconciliation, refunds, review
from payments.services.audit import Actor
from payments.services.notifications import KIND_OF_STATUS
from payments.services.transitions import ALLOWED_TRANSITIONS
from tests.factories import EventFactory, PaymentFactory, UserFactory, stored_thin_event, stripe_event_body

pytestmark = pytest.mark.django_db

Status = Payment.Status
OPERATOR = Actor(name="olga")

RECORD_STATUS_CHANGES = """
CREATE TABLE test_payment_status_change (
    id serial PRIMARY KEY, payment_id bigint NOT NULL, old_status text NOT NULL, new_status text NOT NULL
);
CREATE FUNCTION test_record_payment_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_payment_status_change (payment_id, old_status, new_status)
    VALUES (NEW.id, OLD.status, NEW.status);
    RETURN NEW;
END $$;
CREATE TRIGGER test_record_payment_status_change AFTER UPDATE OF status ON payments_payment
    FOR EACH ROW EXECUTE FUNCTION test_record_payment_status_change();
"""


@dataclass
class IntentAtStripe:
    """One PaymentIntent and its charge as Stripe has them."""

    id: str
    amount: int
    currency: str
    metadata: dict[str, str]
    status: str = IntentStatus.REQUIRES_PAYMENT_METHOD
    amount_received: int = 0
    declined: bool = False
    refunded: bool = False
    dispute_status: str = ""

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_received": self.amount_received,
            "currency": self.currency,
            "status": self.status,
            "client_secret": f"{self.id}_secret_test",
            "last_payment_error": {"message": "Your card was declined."} if self.declined else None,
            "livemode": False,
            "metadata": self.metadata,
        }

    def charge_dict(self) -> dict:
        return {
            "id": f"ch_{self.id}",
            "object": "charge",
            "amount": self.amount_received,
            "amount_refunded": self.amount_received if self.refunded else 0,
            "refunded": self.refunded,
            "payment_intent": self.id,
            "currency": self.currency,
            "payment_method_details": {"card": {"brand": "visa", "last4": "4242"}},
            "dispute": {"id": f"dp_{self.id}", "status": self.dispute_status} if self.dispute_status else None,
        }

    def dispute_dict(self) -> dict:
        return {"id": f"dp_{self.id}", "object": "dispute", "payment_intent": self.id, "status": self.dispute_status}


@dataclass
class StripeStandIn:
    """The gateway's calls, answered from `intents` as Stripe would answer them."""

    intents: dict[str, IntentAtStripe] = field(default_factory=dict)

    def add(self, payment: Payment) -> None:
        self.intents[payment.recorded_intent_id] = IntentAtStripe(
            id=payment.recorded_intent_id,
            amount=payment.amount,
            currency=payment.currency,
            metadata={"payment_id": str(payment.pk), "event_id": str(payment.event_id)},
        )

    def _get(self, payment_intent_id: str) -> IntentAtStripe:
        if payment_intent_id not in self.intents:
            raise stripe_gateway.StripeGatewayError(f"No such payment_intent: {payment_intent_id}")
        return self.intents[payment_intent_id]

    def create_payment_intent(self, *, amount, currency, metadata, idempotency_key):
        intent = IntentAtStripe(id=f"pi_{uuid.uuid4().hex[:24]}", amount=amount, currency=currency, metadata=metadata)
        self.intents[intent.id] = intent
        return stripe_gateway.StripeIntent.from_dict(intent.as_dict())

    def retrieve_payment_intent(self, payment_intent_id):
        return stripe_gateway.StripeIntent.from_dict(self._get(payment_intent_id).as_dict())

    def cancel_payment_intent(self, payment_intent_id):
        intent = self._get(payment_intent_id)
        if intent.status in IntentStatus.FINAL or intent.status == IntentStatus.PROCESSING:
            raise stripe_gateway.StripeGatewayError(f"You cannot cancel this PaymentIntent: it is {intent.status}.")
        intent.status = IntentStatus.CANCELED
        return stripe_gateway.StripeIntent.from_dict(intent.as_dict())

    def create_refund(self, *, payment_intent_id, metadata, idempotency_key):
        intent = self._get(payment_intent_id)
        if intent.status != IntentStatus.SUCCEEDED or intent.dispute_status:
            raise stripe_gateway.StripeGatewayError("This PaymentIntent has no charge to refund.")
        intent.refunded = True
        return stripe_gateway.StripeRefund(id=f"re_{intent.id}", status="succeeded")

    def retrieve_latest_charge(self, payment_intent_id):
        intent = self._get(payment_intent_id)
        if intent.status != IntentStatus.SUCCEEDED:
            return None
        return stripe_gateway.StripeCharge.from_dict(intent.charge_dict())

    def retrieve_object(self, *, object_type, object_id):
        payment_intent_id = object_id.split("_", 1)[1] if object_type != "payment_intent" else object_id
        intent = self._get(payment_intent_id)
        return {"payment_intent": intent.as_dict, "charge": intent.charge_dict, "dispute": intent.dispute_dict}[
            object_type
        ]()


@dataclass
class Organiser:
    """One organiser for every example (a user's password hash is slow), with a logged-in client; each step's
    commit work runs through pytest-django's `django_capture_on_commit_callbacks`."""

    user: User
    client: Client
    capture_on_commit: Callable


STAND_IN = StripeStandIn()
ORGANISER: list[Organiser] = []


@pytest.fixture
def payment_paths(monkeypatch, django_capture_on_commit_callbacks):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    ORGANISER.append(Organiser(user=user, client=client, capture_on_commit=django_capture_on_commit_callbacks))
    with connection.cursor() as cursor:
        cursor.execute(RECORD_STATUS_CHANGES)
    for name in (
        "create_payment_intent",
        "retrieve_payment_intent",
        "cancel_payment_intent",
        "create_refund",
        "retrieve_latest_charge",
        "retrieve_object",
    ):
        monkeypatch.setattr(stripe_gateway, name, getattr(STAND_IN, name))
    # The workers' tasks run as they are handed over (after the step's commit).
    monkeypatch.setattr(
        queue,
        "notification_send",
        lambda *, notification_id: notifications.notification_send(notification_id=notification_id),
    )
    monkeypatch.setattr(
        queue,
        "charge_details_fetch",
        lambda *, payment_id: receipts.payment_charge_details_fetch(payment_id=payment_id),
    )
    yield
    ORGANISER.clear()


WEBHOOKS = [
    "payment_intent.succeeded",
    "payment_intent.succeeded.wrong_amount",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "charge.refunded",
    "charge.refunded.partial",
    "charge.dispute.closed.lost",
    "charge.dispute.closed.won",
]
UNPAID = (IntentStatus.REQUIRES_PAYMENT_METHOD, IntentStatus.PROCESSING)
THIN_EVENTS = {
    StripeEventType.PAYMENT_INTENT_SUCCEEDED: "payment_intent",
    StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED: "payment_intent",
    StripeEventType.CHARGE_REFUNDED: "charge",
    StripeEventType.CHARGE_DISPUTE_CLOSED: "dispute",
}


class PaymentPathsMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each example starts from the same database: what it wrote is rolled back in `teardown`.
        self.savepoint = transaction.savepoint()
        STAND_IN.intents.clear()
        mail.outbox.clear()
        self.organiser = ORGANISER[0]
        self.event = EventFactory(owner=self.organiser.user)
        STAND_IN.add(PaymentFactory(event=self.event))

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ---

    def _payments(self) -> list[Payment]:
        return list(Payment.objects.filter(event=self.event).order_by("pk"))

    def _with_intent(self, *intent_statuses: str, payment_statuses=None) -> list[Payment]:
        """The event's payments with a PaymentIntent (in one of `intent_statuses` at Stripe, when given; in one
        of `payment_statuses` here, when given)."""
        return [
            p
            for p in self._payments()
            if p.payment_intent_id
            and (not intent_statuses or STAND_IN.intents[p.payment_intent_id].status in intent_statuses)
            and (payment_statuses is None or p.status in payment_statuses)
        ]

    def _pick(self, pick: int, *intent_statuses: str, payment_statuses=None) -> Payment | None:
        payments = self._with_intent(*intent_statuses, payment_statuses=payment_statuses)
        return payments[pick % len(payments)] if payments else None

    def _step(self, work) -> None:
        """One step, its commit work (emails, the card) run as the workers would run it."""
        # A refusal (a conflict, a deleted event) is a 4xx to its caller: nothing changed.
        with self.organiser.capture_on_commit(execute=True), contextlib.suppress(ApplicationError):
            work()

    # --- the customer at Stripe ---

    @precondition(lambda self: self._with_intent(*UNPAID))
    @rule(pick=st.integers(0, 3), outcome=st.sampled_from(["paid", "paid_wrong_amount", "declined", "processing"]))
    def the_customer_pays_at_stripe(self, pick, outcome):
        intent = STAND_IN.intents[self._pick(pick, *UNPAID).payment_intent_id]
        intent.declined = outcome == "declined"
        intent.status = {
            "declined": IntentStatus.REQUIRES_PAYMENT_METHOD,
            "processing": IntentStatus.PROCESSING,
        }.get(outcome, IntentStatus.SUCCEEDED)
        if intent.status == IntentStatus.SUCCEEDED:
            intent.amount_received = intent.amount - (1 if outcome == "paid_wrong_amount" else 0)

    @precondition(lambda self: self._with_intent(IntentStatus.SUCCEEDED))
    @rule(pick=st.integers(0, 3), lost=st.booleans())
    def the_cardholder_disputes(self, pick, lost):
        intent = STAND_IN.intents[self._pick(pick, IntentStatus.SUCCEEDED).payment_intent_id]
        intent.dispute_status = DisputeStatus.LOST if lost else DisputeStatus.WON

    # --- Stripe tells us ---

    @rule(pick=st.integers(0, 3), kind=st.sampled_from(WEBHOOKS), deliveries=st.integers(1, 2))
    def stripe_sends_a_webhook(self, pick, kind, deliveries):
        payment = self._pick(pick)
        if payment is None:
            return
        intent = STAND_IN.intents[payment.payment_intent_id]
        event_type = kind.removesuffix(".wrong_amount").removesuffix(".partial")
        event_type = event_type.removesuffix(".lost").removesuffix(".won")
        if event_type.startswith("payment_intent."):
            status = {
                "payment_intent.succeeded": IntentStatus.SUCCEEDED,
                "payment_intent.payment_failed": IntentStatus.REQUIRES_PAYMENT_METHOD,
                "payment_intent.processing": IntentStatus.PROCESSING,
                "payment_intent.canceled": IntentStatus.CANCELED,
            }[event_type]
            received = intent.amount - (1 if kind.endswith(".wrong_amount") else 0)
            data = {
                **intent.as_dict(),
                "status": status,
                "amount_received": received if status == IntentStatus.SUCCEEDED else 0,
                "last_payment_error": {"message": "Your card was declined."}
                if status == IntentStatus.REQUIRES_PAYMENT_METHOD
                else None,
            }
        elif event_type == StripeEventType.CHARGE_REFUNDED:
            refunded = intent.amount // 2 if kind.endswith(".partial") else intent.amount
            data = {**intent.charge_dict(), "amount": intent.amount, "amount_refunded": refunded, "refunded": False}
        else:
            status = DisputeStatus.LOST if kind.endswith(".lost") else DisputeStatus.WON
            data = {**intent.dispute_dict(), "status": status}
        body = stripe_event_body(event_type, data)
        row = inbox.stripe_event_store(event=body, payload=json.dumps(body).encode())
        for _ in range(deliveries):  # a redelivered task finds the row finished
            self._step(lambda: fulfilment.process_stripe_event(stripe_event_id=row.pk))

    @rule(pick=st.integers(0, 3), event_type=st.sampled_from(sorted(THIN_EVENTS)))
    def stripe_sends_a_thin_event(self, pick, event_type):
        payment = self._pick(pick)
        if payment is None:
            return
        object_type = THIN_EVENTS[event_type]
        prefix = {"payment_intent": "", "charge": "ch_", "dispute": "dp_"}[object_type]
        row = stored_thin_event(
            StripeEventType.thin(event_type), related_object_id=f"{prefix}{payment.payment_intent_id}"
        )
        self._step(lambda: fulfilment.process_stripe_event(stripe_event_id=row.pk))

    # --- background jobs ---

    @rule(pick=st.integers(0, 3))
    def reconciliation_asks_stripe(self, pick):
        payment = self._pick(pick)
        if payment is not None:
            self._step(lambda: reconciliation.payment_reconcile_now(payment=payment, actor=OPERATOR))

    @rule()
    def abandoned_intents_are_canceled(self):
        self._step(lambda: reconciliation.payments_cancel_abandoned(older_than=timedelta(0)))

    # --- operators ---

    @precondition(lambda self: self._with_intent(payment_statuses=[Status.SUCCEEDED]))
    @rule(pick=st.integers(0, 3))
    def an_operator_refunds(self, pick):
        payment = self._pick(pick, payment_statuses=[Status.SUCCEEDED])
        self._step(lambda: refunds.payment_refund(payment=payment, actor=OPERATOR, reason="asked for it"))

    @precondition(lambda self: self._with_intent(IntentStatus.SUCCEEDED, payment_statuses=Payment.OPEN_STATUSES))
    @rule(pick=st.integers(0, 3))
    def an_operator_accepts_after_review(self, pick):
        payment = self._pick(pick, IntentStatus.SUCCEEDED, payment_statuses=Payment.OPEN_STATUSES)
        self._step(lambda: review.payment_accept_reviewed(payment=payment, actor=OPERATOR, reason="harmless"))

    @precondition(lambda self: self._with_intent(payment_statuses=Payment.OPEN_STATUSES))
    @rule(pick=st.integers(0, 3))
    def an_operator_reopens_checkout(self, pick):
        payment = self._pick(pick, payment_statuses=Payment.OPEN_STATUSES)
        self._step(lambda: review.payment_reopen_checkout(payment=payment, actor=OPERATOR, reason="mismatch"))

    # --- the organiser ---

    @precondition(lambda self: len(STAND_IN.intents) < 4)
    @rule()
    def the_organiser_checks_out(self):
        self._step(lambda: checkout.checkout_start(user=self.organiser.user, event_id=self.event.pk))

    @rule()
    def the_organiser_deletes_the_event(self):
        self._step(lambda: event_delete(event_id=self.event.pk, owner=self.organiser.user))

    # --- invariants ---

    def _changes(self) -> list[tuple[int, str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT payment_id, old_status, new_status FROM test_payment_status_change"
                " WHERE payment_id = ANY(%s) ORDER BY id",
                [[p.pk for p in self._payments()]],
            )
            return list(cursor.fetchall())

    @invariant()
    def every_change_is_an_allowed_transition(self):
        for payment_id, old, new in self._changes():
            assert old in ALLOWED_TRANSITIONS[new], (payment_id, old, new, self._changes())

    @invariant()
    def a_payment_that_went_through_has_its_moment_and_its_receipt(self):
        for payment in self._payments():
            if payment.status in (Status.SUCCEEDED, Status.REFUNDED):
                assert payment.succeeded_at is not None, payment
                response = self.organiser.client.get(reverse("payment-receipt", args=[payment.pk]))
                assert response.status_code == 200, (payment, payment.status, self._changes())

    @invariant()
    def each_fact_has_one_notification_sent_once(self):
        facts = {(payment_id, KIND_OF_STATUS[new]) for payment_id, _, new in self._changes() if new in KIND_OF_STATUS}
        rows = list(Notification.objects.filter(payment__event=self.event))
        assert Counter((n.payment_id, n.kind) for n in rows) == Counter(facts), (rows, self._changes())
        assert all(n.status == Notification.Status.SENT for n in rows), rows
        assert len(mail.outbox) == len(rows), [m.subject for m in mail.outbox]

    @invariant()
    def the_event_is_live_exactly_while_it_has_a_succeeded_payment(self):
        event = Event.objects.get(pk=self.event.pk)
        succeeded = any(p.status == Status.SUCCEEDED for p in self._payments())
        assert event.is_active == succeeded, ([p.status for p in self._payments()], self._changes())


@pytest.mark.usefixtures("payment_paths")
def test_payment_invariants_hold_over_any_sequence_of_every_path():
    run_state_machine_as_test(
        PaymentPathsMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
