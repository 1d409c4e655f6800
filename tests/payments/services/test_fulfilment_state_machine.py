"""Properties of fulfilment over arbitrary sequences, duplicates and orders of Stripe events.

Events are stored through the webhook's inbox service and applied through
fulfilment.process_stripe_event, both real, on PostgreSQL; hypothesis chooses what Stripe
sends, how often it repeats itself, and in which order the workers get to the rows.
"""

import json

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from events.models import Event
from payments.models import Payment, StripeEvent
from payments.services import fulfilment, inbox
from tests.factories import (
    PaymentFactory,
    declined_intent_object,
    payment_intent_object,
    refunded_charge_object,
    stripe_event_body,
)

pytestmark = pytest.mark.django_db

Status = Payment.Status

# What each kind of delivery is, as Stripe would send it for this payment's PaymentIntent.
INTENT_EVENTS = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "requires_payment_method",
    "payment_intent.processing": "processing",
    "payment_intent.canceled": "canceled",
}
KINDS = [
    *INTENT_EVENTS,
    "charge.refunded",
    "charge.refunded.partial",
    "payment_intent.succeeded.wrong_amount",
    "customer.created",
]


class FulfilmentMachine(RuleBasedStateMachine):
    stored = Bundle("stored")

    def __init__(self):
        super().__init__()
        self.payment = PaymentFactory()
        self.event_ids: set[str] = set()
        self.history: list[str] = [self.payment.status]
        self.correct_success_sent = False

    def _body(self, kind: str) -> dict:
        payment = self.payment
        if kind.startswith("charge.refunded"):
            partial = kind.endswith(".partial")
            charge = refunded_charge_object(payment, amount_refunded=payment.amount // 2 if partial else None)
            return stripe_event_body("charge.refunded", charge)
        if kind == "customer.created":
            return stripe_event_body(kind, {"id": "cus_1", "object": "customer"})
        wrong_amount = kind.endswith(".wrong_amount")
        event_type = kind.removesuffix(".wrong_amount")
        status = INTENT_EVENTS[event_type]
        if status == "requires_payment_method":
            intent = declined_intent_object(payment)
        else:
            intent = payment_intent_object(
                payment, status=status, amount_received=payment.amount if status == "succeeded" else 0
            )
        if wrong_amount:
            intent["amount_received"] = payment.amount - 1
        return stripe_event_body(event_type, intent)

    @rule(target=stored, kind=st.sampled_from(KINDS), deliveries=st.integers(min_value=1, max_value=3))
    def stripe_sends(self, kind, deliveries):
        body = self._body(kind)
        payload = json.dumps(body).encode()
        first = inbox.stripe_event_store(event=body, payload=payload)
        assert first is not None
        for _ in range(deliveries - 1):  # Stripe retries: the same event id again is a no-op
            assert inbox.stripe_event_store(event=body, payload=payload) is None
        self.event_ids.add(body["id"])
        self.correct_success_sent |= kind == "payment_intent.succeeded"
        return multiple(first.pk)

    @rule(row=consumes(stored))
    def a_worker_processes(self, row):
        fulfilment.process_stripe_event(stripe_event_id=row)
        self._record()

    @rule(row=stored)
    def a_worker_processes_and_keeps_it_for_redelivery(self, row):
        fulfilment.process_stripe_event(stripe_event_id=row)
        self._record()

    def _record(self):
        self.payment.refresh_from_db()
        self.history.append(self.payment.status)

    @invariant()
    def succeeded_is_left_only_by_a_refund(self):
        for before, after in zip(self.history, self.history[1:], strict=False):
            if before == Status.SUCCEEDED:
                assert after in (Status.SUCCEEDED, Status.REFUNDED), self.history
            if before in (Status.REFUNDED, Status.CANCELED):
                assert after == before, self.history

    @invariant()
    def event_is_active_exactly_while_its_payment_succeeded(self):
        event = Event.objects.get(pk=self.payment.event_id)
        status = Payment.objects.get(pk=self.payment.pk).status
        assert event.is_active == (status == Status.SUCCEEDED), (status, self.history)
        assert (event.activated_at is not None) or not event.is_active

    @invariant()
    def one_inbox_row_per_event_id(self):
        ids = list(StripeEvent.objects.filter(stripe_id__in=self.event_ids).values_list("stripe_id", flat=True))
        assert sorted(ids) == sorted(self.event_ids)

    @invariant()
    def only_a_matching_success_activates(self):
        if self.history[-1] == Status.SUCCEEDED:
            assert self.correct_success_sent, self.history


def test_fulfilment_properties_hold_for_any_sequence_of_events():
    run_state_machine_as_test(
        FulfilmentMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
