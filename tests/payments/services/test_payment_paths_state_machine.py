"""Invariants of payments over any sequence of every path that changes one.

Hypothesis interleaves what happens at Stripe (the customer pays or is declined, a charge is refunded in part
from the Dashboard, the cardholder disputes), snapshot webhooks and thin events (stored through the inbox,
applied by fulfilment), reconciliation, cancelling abandoned intents, an operator's refund, accept after
review and reopen checkout, the organiser's checkout and the event's deletion, all real services on
PostgreSQL. Each step's commit work runs (the emails are sent, the card is read).

Stripe is localstripe (the session's; its own webhook deliveries go nowhere), through the real gateway:
checkout creates the PaymentIntents there; the customer pays there as Stripe.js does, with the test cards
it takes (4242… succeeds, 4000 0000 0000 0341 is declined); a payment of another amount is an intent whose
amount was changed there before it was paid; the operators' refunds, the cancellations and every read go
there. After each step the machine reads the event's PaymentIntents back from localstripe. Stripe tells of
each change once, and a step delivers any of those events, in any order, again and again:
- a success or a decline: localstripe's own event, from its event list;
- a cancellation, a refund: localstripe makes them but sends no event for them, so the event is its
  PaymentIntent or Charge as read back after the change, in Stripe's envelope (`stripe_event_body`);
- a thin event names the object of one of these, which fulfilment fetches from localstripe as it is then.

Recorded Stripe shapes (tests/fixtures/events/), filled with localstripe's values, stand for what localstripe
cannot do:
- `payment_intent.processing`: localstripe charges a card at once, so no attempt is ever processing there;
  an attempt that went through processing at Stripe is told by the recorded event, then by localstripe's own.
  No step ever finds an intent being paid (reopening checkout's "Stripe is still taking the payment" is not
  reached here);
- `charge.dispute.closed`: localstripe has no Disputes, so a dispute exists only in what Stripe tells: its
  webhook is the recorded event for localstripe's charge, reconciliation and refunds do not see it, and its
  thin event's fetch fails (localstripe answers the route with a plain 404, which the gateway reads as a
  transient error: the worker's task records the attempt and retries, as here).
localstripe's own limits shape the runs too: a declined PaymentIntent cannot be confirmed again (offline,
checkout cancels it and starts another), and a charge can be refunded past its amount.

Every change of `payments_payment.status` is recorded by a PostgreSQL trigger, so nothing can change a
payment unseen. After every step, for every payment of the event:
- succeeded or refunded ⇒ `succeeded_at` is set and its organiser's receipt page answers 200;
- each fact it went through (live, payment failed, refunded) has exactly one notification row, sent once;
- `Event.is_active` ⇔ the event has a succeeded payment;
- every recorded change is one ALLOWED_TRANSITIONS allows.

Each step tallies what it did and how it ended (hypothesis' `event`). `--hypothesis-show-statistics` shows
only `@given` tests; with HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER=1 set, hypothesis writes each
example's steps and tallies to .hypothesis/observed/.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import connection, transaction
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, Phase, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from core.exceptions import ApplicationError
from events.models import Event
from events.services import event_delete
from payments import stripe_gateway
from payments.consts import DisputeStatus, IntentStatus, StripeEventType, StripeObjectType
from payments.models import Notification, OperatorAction, Payment, StripeEvent
from payments.services import checkout, fulfilment, inbox, reconciliation, refunds, review
from payments.services.audit import Actor
from payments.services.notifications import KIND_OF_STATUS
from payments.services.transitions import ALLOWED_TRANSITIONS
from tests.conftest import pay_at_localstripe
from tests.factories import EventFactory, UserFactory, recorded_event_body, stored_thin_event, stripe_event_body

pytestmark = pytest.mark.django_db

Status = Payment.Status
OPERATOR = Actor(name="olga")
CARD_PAID = "4242424242424242"
CARD_DECLINED = "4000000000000341"  # localstripe declines it when charging (its 0002 only when attaching)

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

# The changes an event destination tells of too, as thin events (tests/fixtures/thin_events/).
THIN_EVENTS = {
    StripeEventType.PAYMENT_INTENT_SUCCEEDED,
    StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED,
    StripeEventType.CHARGE_REFUNDED,
    StripeEventType.CHARGE_DISPUTE_CLOSED,
}


@dataclass(frozen=True)
class Told:
    """One change at Stripe as Stripe tells of it: the snapshot event a webhook endpoint gets, and the id of the
    thin event an event destination gets. `what` names the change for hypothesis' statistics."""

    body: dict[str, Any]
    what: str
    thin_id: str = field(default_factory=lambda: f"evt_test_{uuid.uuid4().hex}")

    @property
    def type(self) -> str:
        return str(self.body["type"])

    @property
    def object_id(self) -> str:
        return str(self.body["data"]["object"]["id"])


def _outcome(result: object) -> str:
    """A step's outcome in a word or two, for hypothesis' statistics."""
    if isinstance(result, OperatorAction):
        return str(result.outcome)
    if isinstance(result, checkout.Checkout):
        return "a new PaymentIntent" if result.created else "its PaymentIntent again"
    if isinstance(result, dict):  # a job's counts
        return ", ".join(f"{name} {count}" for name, count in result.items() if count) or "nothing to do"
    return "done" if result is None else str(result)


def _row(instance: Model) -> tuple[object, ...]:
    """An instance's column values, as read."""
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


def _amount_refunded(intent: dict[str, Any]) -> int:
    return int((intent.get("latest_charge") or {}).get("amount_refunded") or 0)


@dataclass
class Organiser:
    """One organiser for every example (a user's password hash is slow), with a logged-in client; each step's
    commit work runs through pytest-django's `django_capture_on_commit_callbacks`."""

    user: User
    client: Client
    capture_on_commit: Callable


ORGANISER: list[Organiser] = []


@pytest.fixture
def payment_paths(webhooks_off, payment_tasks_in_process, monkeypatch, django_capture_on_commit_callbacks):
    # The workers' tasks run as they are handed over (after the step's commit): `payment_tasks_in_process`.
    user = UserFactory()
    client = Client()
    client.force_login(user)
    ORGANISER.append(Organiser(user=user, client=client, capture_on_commit=django_capture_on_commit_callbacks))
    with connection.cursor() as cursor:
        cursor.execute(RECORD_STATUS_CHANGES)
    yield
    ORGANISER.clear()


class PaymentPathsMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # Each example starts from the same database: what it wrote is rolled back in `teardown`. What it
        # made at localstripe stays there, unreferenced.
        self.savepoint = transaction.savepoint()
        mail.outbox.clear()
        self.organiser = ORGANISER[0]
        self.event = EventFactory(owner=self.organiser.user)
        # What the last step left: the event's payments, and each one's PaymentIntent as localstripe has it.
        self.payments: list[Payment] = []
        self.intents: dict[str, dict[str, Any]] = {}
        # Every change Stripe has told of, in the order they happened.
        self.told: list[Told] = []
        self.disputed: set[str] = set()
        self.receipts_answered: set[tuple[tuple[object, ...], tuple[object, ...]]] = set()
        self.started = int(time.time())
        self._step("first checkout", lambda: checkout.checkout_start(user=self.organiser.user, event_id=self.event.pk))

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
            for p in self.payments
            if p.payment_intent_id
            and (not intent_statuses or self.intents[p.payment_intent_id]["status"] in intent_statuses)
            and (payment_statuses is None or p.status in payment_statuses)
        ]

    def _intents(self, accept: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """The event's PaymentIntents at Stripe that `accept` takes, in the order of their payments."""
        return [
            self.intents[p.payment_intent_id] for p in self._with_intent() if accept(self.intents[p.payment_intent_id])
        ]

    def _payable(self) -> list[dict[str, Any]]:
        # localstripe refuses to confirm an intent again after a decline.
        return self._intents(
            lambda i: i["status"] == IntentStatus.REQUIRES_PAYMENT_METHOD and not i["last_payment_error"]
        )

    def _paid(self) -> list[dict[str, Any]]:
        return self._intents(lambda i: i["status"] == IntentStatus.SUCCEEDED)

    def _step(self, path: str, work: Callable[[], object], *, changes_stripe: bool = True) -> None:
        """One step, its commit work (emails, the card) run as the workers would run it, tallied with its outcome;
        then what it left (at Stripe too, unless the path only reads from Stripe)."""
        with self.organiser.capture_on_commit(execute=True):
            try:
                tally(f"{path}: {_outcome(work())}")
            except ApplicationError as exc:
                # A refusal (a conflict, a deleted event) is a 4xx to its caller: nothing changed.
                tally(f"{path}: refused ({exc.status_code})")
        self._read_back(stripe=changes_stripe)

    def _read_back(self, *, stripe: bool = True) -> None:
        """What a step left: the event's payments (the rules' preconditions read them) and, with `stripe`, their
        PaymentIntents, read back from localstripe. Tells of the changes localstripe sends no event for: a
        cancellation (the intent) and a refund (its charge), each as Stripe's snapshot event."""
        self.payments = self._payments()
        if not stripe:
            return
        for payment in self._with_intent():
            before = self.intents.get(payment.payment_intent_id)
            if before is not None and before["status"] == IntentStatus.CANCELED:
                continue  # nothing changes a canceled intent
            now = stripe_gateway.retrieve_object(
                object_type=StripeObjectType.PAYMENT_INTENT, object_id=payment.payment_intent_id
            )
            self.intents[payment.payment_intent_id] = now
            if before is None:
                continue  # just created (`payment_intent.created`, which EventPay does not act on)
            if now["status"] == IntentStatus.CANCELED:
                self.told.append(Told(stripe_event_body(StripeEventType.PAYMENT_INTENT_CANCELED, now), "canceled"))
            if _amount_refunded(now) > _amount_refunded(before):
                charge = now["latest_charge"]
                what = "refunded in full" if charge["refunded"] else "refunded in part"
                self.told.append(Told(stripe_event_body(StripeEventType.CHARGE_REFUNDED, charge), what))

    def _hear_localstripe(self, *, payment_intent_id: str, what: str) -> None:
        """localstripe's own event for the intent's latest change (it sends one per success or decline)."""
        told = {t.body["id"] for t in self.told}
        new = [
            e
            for e in stripe_gateway.list_events(created_after=self.started - 1)
            if e["data"]["object"].get("id") == payment_intent_id and e["id"] not in told
        ]
        assert len(new) == 1, new
        self.told.append(Told(new[0], what))

    def _process(self, row: StripeEvent) -> str:
        """What the worker's task does with the row (worker/tasks.py): the row's status, or the retry."""
        try:
            return fulfilment.process_stripe_event(stripe_event_id=row.pk)
        except stripe_gateway.TransientStripeError as exc:
            inbox.stripe_event_record_attempt(stripe_event_id=row.pk, error=f"{type(exc).__name__}: {exc}")
            return "to be retried"

    # --- the customer, the cardholder's bank and the Dashboard at Stripe ---

    # Hypothesis draws the rules with fewer arguments, and among them the earlier names, more often: the
    # customer's come first (a customer who can pay mostly does), then the operators', then the hourly job's
    # and the organiser's, which close a checkout. A checkout has at most one PaymentIntent that can be paid.

    @precondition(lambda self: self._payable())
    @rule()
    def a_customer_pays_at_stripe(self):
        self._pay(outcome="paid")

    @precondition(lambda self: self._payable())
    @rule()
    def a_customer_pays_a_changed_amount_at_stripe(self):
        self._pay(outcome="paid a changed amount")

    @precondition(lambda self: self._payable())
    @rule()
    def a_customers_card_is_declined_at_stripe(self):
        self._pay(outcome="declined")

    @precondition(lambda self: self._payable())
    @rule(then=st.sampled_from(["paid", "declined"]))
    def a_customers_payment_is_processing_at_stripe(self, then):
        self._pay(outcome=then, processing_first=True)

    def _pay(self, *, outcome: str, processing_first: bool = False) -> None:
        """The customer's attempt at localstripe, as Stripe.js makes it (a card payment method, then confirm)."""
        intent = self._payable()[0]
        amount = int(intent["amount"])
        if outcome == "paid a changed amount":
            # The intent's amount was changed at Stripe before it was paid (the Dashboard, a stray API call).
            amount -= 1
            stripe_gateway.client().v1.payment_intents.update(intent["id"], {"amount": amount})
        tally(f"the customer: {outcome}{', processing first' if processing_first else ''}")
        if processing_first:
            values = {key: intent[key] for key in ("id", "currency", "metadata", "client_secret", "created")}
            body = recorded_event_body(StripeEventType.PAYMENT_INTENT_PROCESSING, **values, amount=amount)
            self.told.append(Told(body, "processing"))
        declined = outcome == "declined"
        status, answer = pay_at_localstripe(intent["client_secret"], CARD_DECLINED if declined else CARD_PAID)
        assert status == (402 if declined else 200), answer
        self._hear_localstripe(payment_intent_id=intent["id"], what=outcome)
        self._read_back()

    @precondition(lambda self: [i for i in self._paid() if i["id"] not in self.disputed])
    @rule(pick=st.integers(0, 3), lost=st.booleans())
    def the_cardholder_disputes(self, pick, lost):
        """The dispute, opened and closed, as Stripe tells of it (localstripe has none)."""
        intents = [i for i in self._paid() if i["id"] not in self.disputed]
        intent = intents[pick % len(intents)]
        charge = intent["latest_charge"]
        status = DisputeStatus.LOST if lost else DisputeStatus.WON
        tally(f"the cardholder disputes: {status}")
        self.disputed.add(intent["id"])
        body = recorded_event_body(
            StripeEventType.CHARGE_DISPUTE_CLOSED,
            id=f"dp_{uuid.uuid4().hex[:24]}",
            amount=int(charge["amount"]),
            charge=charge["id"],
            currency=charge["currency"],
            payment_intent=intent["id"],
            status=status,
            created=int(time.time()),
        )
        self.told.append(Told(body, f"dispute {status}"))

    @precondition(lambda self: [i for i in self._paid() if not i["latest_charge"]["refunded"]])
    @rule(pick=st.integers(0, 3))
    def part_is_refunded_from_the_dashboard(self, pick):
        intents = [i for i in self._paid() if not i["latest_charge"]["refunded"]]
        intent = intents[pick % len(intents)]
        amount = int(intent["latest_charge"]["amount"]) // 2
        tally("part is refunded from the Dashboard")
        stripe_gateway.client().v1.refunds.create({"payment_intent": intent["id"], "amount": amount})
        self._read_back()

    # --- Stripe tells us ---

    @precondition(lambda self: self.told)
    @rule(pick=st.integers(0, 15), deliveries=st.integers(1, 2))
    def stripe_sends_a_webhook(self, pick, deliveries):
        told = self.told[-1 - pick % len(self.told)]  # the latest change first, then any earlier one
        row = inbox.stripe_event_store(event=told.body, payload=json.dumps(told.body).encode())
        if row is None:  # delivered again: the inbox has it, the webhook answers it as a duplicate
            tally(f"webhook {told.type} ({told.what}): again")
            return
        for _ in range(deliveries):  # a redelivered task finds the row finished
            self._step(f"webhook {told.type} ({told.what})", lambda: self._process(row), changes_stripe=False)

    @precondition(lambda self: [t for t in self.told if t.type in THIN_EVENTS])
    @rule(pick=st.integers(0, 15))
    def stripe_sends_a_thin_event(self, pick):
        thin = [t for t in self.told if t.type in THIN_EVENTS]
        told = thin[-1 - pick % len(thin)]
        if StripeEvent.objects.filter(stripe_id=told.thin_id).exists():
            tally(f"thin event {told.type} ({told.what}): again")
            return
        row = stored_thin_event(
            StripeEventType.thin(told.type), related_object_id=told.object_id, event_id=told.thin_id
        )
        self._step(f"thin event {told.type} ({told.what})", lambda: self._process(row), changes_stripe=False)

    # --- background jobs ---

    @precondition(lambda self: self._with_intent())
    @rule(pick=st.integers(0, 3))
    def reconciliation_asks_stripe(self, pick):
        payments = self._with_intent()
        payment = payments[pick % len(payments)]
        self._step(
            "reconciliation",
            lambda: reconciliation.payment_reconcile_now(payment=payment, actor=OPERATOR),
            changes_stripe=False,
        )

    @rule()
    def the_hourly_job_cancels_abandoned_intents(self):
        self._step("cancel abandoned", lambda: reconciliation.payments_cancel_abandoned(older_than=timedelta(0)))

    # --- operators (an event has at most one open payment, and at most one succeeded) ---

    @precondition(lambda self: self._with_intent(payment_statuses=[Status.SUCCEEDED]))
    @rule()
    def an_operator_refunds(self):
        payment = self._with_intent(payment_statuses=[Status.SUCCEEDED])[0]
        self._step(
            "operator refund", lambda: refunds.payment_refund(payment=payment, actor=OPERATOR, reason="asked for it")
        )

    @precondition(lambda self: self._with_intent(IntentStatus.SUCCEEDED, payment_statuses=Payment.OPEN_STATUSES))
    @rule()
    def an_operator_accepts_after_review(self):
        payment = self._with_intent(IntentStatus.SUCCEEDED, payment_statuses=Payment.OPEN_STATUSES)[0]
        self._step(
            "accept after review",
            lambda: review.payment_accept_reviewed(payment=payment, actor=OPERATOR, reason="harmless"),
            changes_stripe=False,
        )

    @precondition(lambda self: self._with_intent(payment_statuses=Payment.OPEN_STATUSES))
    @rule()
    def an_operator_reopens_checkout(self):
        payment = self._with_intent(payment_statuses=Payment.OPEN_STATUSES)[0]
        self._step(
            "reopen checkout",
            lambda: review.payment_reopen_checkout(payment=payment, actor=OPERATOR, reason="mismatch"),
        )

    # --- the organiser ---

    @precondition(lambda self: len(self.intents) < 4)
    @rule()
    def the_organiser_checks_out(self):
        self._step("checkout", lambda: checkout.checkout_start(user=self.organiser.user, event_id=self.event.pk))

    @rule()
    def the_organiser_deletes_the_event(self):
        self._step("delete the event", lambda: event_delete(event_id=self.event.pk, owner=self.organiser.user))

    # --- invariants ---

    def _changes(self) -> list[tuple[int, str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT payment_id, old_status, new_status FROM test_payment_status_change"
                " WHERE payment_id IN (SELECT id FROM payments_payment WHERE event_id = %s) ORDER BY id",
                [self.event.pk],
            )
            return list(cursor.fetchall())

    @invariant()
    def every_change_is_an_allowed_transition(self):
        for payment_id, old, new in self._changes():
            assert old in ALLOWED_TRANSITIONS[new], (payment_id, old, new, self._changes())

    @invariant()
    def a_payment_that_went_through_has_its_moment_and_its_receipt(self):
        for payment in Payment.objects.filter(event=self.event).select_related("event").order_by("pk"):
            if payment.status in (Status.SUCCEEDED, Status.REFUNDED):
                assert payment.succeeded_at is not None, payment
                # The receipt is made from the payment's row and its event's: asked for again when either changes.
                rows = (_row(payment), _row(payment.event))
                if rows not in self.receipts_answered:
                    response = self.organiser.client.get(reverse("payment-receipt", args=[payment.pk]))
                    assert response.status_code == 200, (payment, payment.status, self._changes())
                    self.receipts_answered.add(rows)

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
            # Sized for CI: 10-15 s on a quiet 2-core machine and under a minute on a very busy one, every rule
            # in every run, and a payment accepted after review within the first few examples.
            max_examples=50,
            stateful_step_count=15,
            deadline=None,
            # Tracing each line to explain a failure takes minutes over HTTP: the shrunk steps say enough.
            phases=[phase for phase in Phase if phase != Phase.explain],
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
