"""Each email is sent exactly once per fact, whatever Stripe, the queue and operators do.

Hypothesis drives one payment through duplicated, reordered and redelivered Stripe events (stored through
the inbox, applied by fulfilment), reconciliation, notification tasks delivered several times or
delivered in groups over one SMTP connection, failing against an SMTP server that is down, workers that die after claiming an email (before the SMTP
server heard of it) and claims that run out, operator retries and the sweeper. A real SMTP server (aiosmtpd,
in a thread) counts what it receives by Message-ID. Invariants: no notification is ever received twice;
one is received exactly when it is marked sent; and once every pending send has been delivered, each fact
the payment went through (live, payment failed, refunded) was received exactly once.
"""

import contextlib
import json
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction
from django.db.models import F
from django.test import override_settings
from django.utils import timezone
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

from offline.net import free_port
from payments import queue
from payments.models import Notification, Payment
from payments.services import fulfilment, inbox, notifications, transitions
from payments.services.audit import Actor
from payments.stripe_gateway import StripeIntent
from tests.factories import (
    PaymentFactory,
    declined_intent_object,
    payment_intent_object,
    refunded_charge_object,
    stripe_event_body,
)
from worker import tasks

pytestmark = pytest.mark.django_db

Status = Payment.Status
KIND_OF_STATUS = {Status.SUCCEEDED: "live", Status.FAILED: "payment_failed", Status.REFUNDED: "refunded"}
STRIPE_SENDS = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
]


class CountingHandler:
    """What the SMTP server received, by Message-ID."""

    def __init__(self):
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("message-id:"):
                self.received[line.split(":", 1)[1].strip()] += 1
        return "250 OK"


HANDED_TO_WORKERS: list[int] = []
SMTP = CountingHandler()
DEAD_PORT = free_port()


class NotificationMachine(RuleBasedStateMachine):
    stored = Bundle("stored")

    def __init__(self):
        super().__init__()
        self.payment = PaymentFactory()
        self.statuses: set[str] = {self.payment.status}

    def _notifications(self) -> list[Notification]:
        return list(Notification.objects.filter(payment=self.payment).order_by("pk"))

    def _body(self, event_type: str) -> dict:
        payment = self.payment
        data_object = {
            "payment_intent.succeeded": lambda: payment_intent_object(payment),
            "payment_intent.payment_failed": lambda: declined_intent_object(payment),
            "payment_intent.canceled": lambda: payment_intent_object(payment, status="canceled", amount_received=0),
            "charge.refunded": lambda: refunded_charge_object(payment),
        }[event_type]()
        return stripe_event_body(event_type, data_object)

    def _observe(self):
        self.payment.refresh_from_db()
        self.statuses.add(self.payment.status)

    @rule(target=stored, event_type=st.sampled_from(STRIPE_SENDS), deliveries=st.integers(min_value=1, max_value=3))
    def stripe_sends(self, event_type, deliveries):
        body = self._body(event_type)
        payload = json.dumps(body).encode()
        rows = [inbox.stripe_event_store(event=body, payload=payload) for _ in range(deliveries)]
        return multiple(rows[0].pk)

    @rule(row=consumes(stored))
    def a_worker_applies_an_event(self, row):
        fulfilment.process_stripe_event(stripe_event_id=row)
        self._observe()

    @rule(row=stored)
    def a_worker_applies_an_event_that_is_redelivered_later(self, row):
        fulfilment.process_stripe_event(stripe_event_id=row)
        self._observe()

    @rule(target_status=st.sampled_from([Status.SUCCEEDED, Status.FAILED, Status.CANCELED]))
    def reconciliation_applies_stripes_state(self, target_status):
        intent_status = {Status.SUCCEEDED: "succeeded", Status.FAILED: "requires_payment_method"}.get(
            target_status, "canceled"
        )
        intent = StripeIntent.from_dict(payment_intent_object(self.payment, status=intent_status))
        with transaction.atomic():
            transitions.payment_transition(
                payment_intent_id=self.payment.payment_intent_id, target=target_status, intent=intent
            )
        self._observe()

    @rule(pick=st.integers(min_value=0, max_value=5), times=st.integers(min_value=1, max_value=3))
    def a_send_task_is_delivered(self, pick, times):
        rows = self._notifications()
        if rows:
            for _ in range(times):  # a duplicated or redelivered task
                notifications.notification_send(notification_id=rows[pick % len(rows)].pk)

    @rule(times=st.integers(min_value=1, max_value=2))
    def a_group_of_its_emails_is_delivered(self, times):
        ids = [row.pk for row in self._notifications()]
        for _ in range(times):  # a redelivered group message
            tasks.send_notifications(ids)

    @rule(pick=st.integers(min_value=0, max_value=5))
    def a_send_fails_because_smtp_is_down(self, pick):
        rows = self._notifications()
        if rows:
            # The task retries later: a_send_task_is_delivered.
            with override_settings(EMAIL_PORT=DEAD_PORT), contextlib.suppress(notifications.EmailNotSent):
                notifications.notification_send(notification_id=rows[pick % len(rows)].pk)

    @rule(pick=st.integers(min_value=0, max_value=5))
    def a_worker_dies_after_claiming_a_send(self, pick):
        rows = self._notifications()
        if rows:
            # Its claim is committed; the SMTP server never heard of the email (SIGKILL, OOM, a lost host).
            Notification.objects.filter(pk=rows[pick % len(rows)].pk, status=Notification.Status.PENDING).update(
                status=Notification.Status.SENDING, claimed_at=timezone.now()
            )

    @rule()
    def the_claims_run_out(self):
        _claims_run_out()

    @rule(pick=st.integers(min_value=0, max_value=5))
    def retries_are_used_up(self, pick):
        rows = self._notifications()
        if rows:
            notifications.notification_mark_failed(notification_id=rows[pick % len(rows)].pk, error="EmailNotSent")

    @rule(pick=st.integers(min_value=0, max_value=5))
    def an_operator_retries(self, pick):
        rows = self._notifications()
        if rows:
            notifications.notification_retry(notification=rows[pick % len(rows)], actor=Actor(name="olga"))

    @rule()
    def the_sweeper_runs(self):
        notifications.notifications_requeue_stale(older_than=timedelta(0))

    @rule()
    def the_workers_take_what_was_handed_over(self):
        while HANDED_TO_WORKERS:
            notifications.notification_send(notification_id=HANDED_TO_WORKERS.pop())

    @invariant()
    def nothing_is_received_twice_and_sent_means_received(self):
        for notification in self._notifications():
            received = SMTP.received[notification.message_id]
            assert received <= 1, (notification, received)
            assert (received == 1) == (notification.status == Notification.Status.SENT), (notification, received)

    @invariant()
    def one_notification_per_fact_the_payment_went_through(self):
        kinds = [n.kind for n in self._notifications()]
        assert sorted(kinds) == sorted({KIND_OF_STATUS[s] for s in self.statuses if s in KIND_OF_STATUS})

    def teardown(self):
        # Every pending send is delivered at last (the sweeper and the workers never give up on those), and
        # every claim of a worker that died runs out.
        _claims_run_out()
        for notification in self._notifications():
            if notification.status != Notification.Status.SENT:
                notifications.notification_retry(notification=notification, actor=Actor(name="olga"))
                notifications.notification_send(notification_id=notification.pk)
        HANDED_TO_WORKERS.clear()
        for notification in self._notifications():
            assert SMTP.received[notification.message_id] == 1, notification


def _claims_run_out() -> None:
    """Time passes beyond the claim timeout: every claim is made that much older."""
    Notification.objects.filter(status=Notification.Status.SENDING).update(
        claimed_at=F("claimed_at") - notifications.claim_timeout()
    )


@pytest.mark.usefixtures("counting_smtp")
def test_each_email_is_sent_exactly_once_per_fact():
    run_state_machine_as_test(
        NotificationMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


@pytest.fixture
def counting_smtp(settings, monkeypatch):
    """The counting SMTP server in a thread; tasks handed to the broker are kept for the machine's workers."""
    controller = Controller(SMTP, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    monkeypatch.setattr(
        queue, "notification_send", lambda *, notification_id: HANDED_TO_WORKERS.append(notification_id)
    )
    monkeypatch.setattr(
        queue, "notifications_send", lambda *, notification_ids: HANDED_TO_WORKERS.extend(notification_ids)
    )
    yield
    controller.stop()
