"""Set-based fulfilment: a batch leaves the database exactly as one row at a time would, in a constant
number of statements, without waiting for rows or payments another transaction holds.

Real PostgreSQL throughout; rows are stored through the webhook's inbox service, and the reference is
`fulfilment.process_stripe_event` applied to each row in the order they were stored.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import Event
from payments import queue
from payments.consts import StripeEventType
from payments.models import Notification, Payment, StripeEvent
from payments.services import fulfilment, inbox
from payments.services.fulfilment_batch import stripe_events_fulfil
from tests.db import other_connection
from tests.factories import (
    PaymentFactory,
    UserFactory,
    declined_intent_object,
    payment_intent_object,
    refunded_charge_object,
    stored_stripe_event,
    stripe_event_body,
)

Status = Payment.Status

# What Stripe may send about a payment. The batch applies the first five and closes the three that
# fulfilment ignores (the other Stripe mode's, types without a handler); the others go one at a time.
KINDS = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "payment_intent.succeeded.wrong_amount",
    "payment_intent.succeeded.livemode",
    "payment_intent.created",
    "customer.created",
    "payment_intent.succeeded.unknown_intent",
    "charge.refunded",
    "charge.refunded.partial",
]


def _body(payment: Payment, kind: str) -> dict:
    if kind.startswith("charge.refunded"):
        partial = kind.endswith(".partial")
        charge = refunded_charge_object(payment, amount_refunded=payment.amount // 2 if partial else None)
        return stripe_event_body("charge.refunded", charge)
    if kind == "customer.created":
        return stripe_event_body(kind, {"id": "cus_1", "object": "customer"})
    event_type, _, variant = kind.partition(".succeeded.")
    event_type = f"{event_type}.succeeded" if variant else kind
    if event_type == "payment_intent.payment_failed":
        intent = declined_intent_object(payment)
    elif event_type == "payment_intent.created":
        intent = payment_intent_object(payment, status="requires_payment_method", amount_received=0)
    else:
        status = event_type.removeprefix("payment_intent.")
        intent = payment_intent_object(payment, status=status, amount_received=payment.amount * (status == "succeeded"))
    if variant == "wrong_amount":
        intent["amount_received"] = payment.amount - 1
    if variant == "unknown_intent":
        intent["id"] = f"{intent['id']}_elsewhere"
    body = stripe_event_body(event_type, intent)
    body["livemode"] = variant == "livemode"
    return body


def _store(body: dict) -> int:
    row = inbox.stripe_event_store(event=body, payload=json.dumps(body).encode())
    assert row is not None
    return row.pk


def _apply_batch(stripe_event_ids: list[int], claim_waiting: int = 0) -> None:
    """What the worker's batch task does with a message, its error handling aside."""
    for stripe_event_id in stripe_events_fulfil(stripe_event_ids=stripe_event_ids, claim_waiting=claim_waiting):
        fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)


def _state() -> dict[str, list]:
    """Every row fulfilment may write, by value; notifications without their ids (inserted in another order)."""
    notifications = [{key: value for key, value in row.items() if key != "id"} for row in Notification.objects.values()]
    return {
        "payments": list(Payment.objects.order_by("pk").values()),
        "events": list(Event.objects.order_by("pk").values()),
        "notifications": sorted(notifications, key=lambda row: (row["payment_id"], row["kind"])),
        "inbox": list(StripeEvent.objects.order_by("pk").values()),
    }


deliveries = st.lists(st.tuples(st.integers(min_value=0, max_value=2), st.sampled_from(KINDS)), min_size=1, max_size=14)


@pytest.mark.django_db
@given(
    initial=st.lists(st.sampled_from([Status.PENDING, Status.FAILED]), min_size=3, max_size=3),
    sent=deliveries,
    batch_size=st.integers(min_value=1, max_value=16),
    claim_waiting=st.integers(min_value=0, max_value=16),
    redelivered=st.lists(st.integers(min_value=0, max_value=13), max_size=3, unique=True),
)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_batches_leave_the_database_exactly_as_one_row_at_a_time(initial, sent, batch_size, claim_waiting, redelivered):
    with freeze_time("2026-12-05 12:00:00"), transaction.atomic():
        # given: three payments and what Stripe sent about them, stored in that order; then some rows are
        # delivered again, in messages of their own (a redelivery, the sweeper, an operator's retry)
        organiser = UserFactory()  # one organiser: hashing a password per payment would be most of the test
        payments = [PaymentFactory(event__owner=organiser, status=status) for status in initial]
        ids = [_store(_body(payments[n], kind)) for n, kind in sent]
        again = [ids[n] for n in redelivered if n < len(ids)]

        # when: the same rows, one at a time, each message applying its row if it still waits (a failed row
        # waits for an operator)
        with transaction.atomic():
            for stripe_event_id in ids + again:
                if StripeEvent.objects.filter(pk=stripe_event_id, status__in=StripeEvent.UNFINISHED_STATUSES):
                    fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)
            one_at_a_time = _state()
            transaction.set_rollback(True)

        # and: in batches, cut in stored order, each topped up with rows waiting in the inbox
        for message in (ids, again):
            for start in range(0, len(message), batch_size):
                _apply_batch(message[start : start + batch_size], claim_waiting)

        # then
        assert _state() == one_at_a_time
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_poisoned_row_goes_one_at_a_time_with_its_payments_rows_and_holds_back_no_other():
    # given: a payment whose first row cannot be read, and another payment's sound row
    poisoned_payment, sound_payment = PaymentFactory(), PaymentFactory()
    poisoned = StripeEvent.objects.create(
        stripe_id="evt_poisoned",
        type=StripeEventType.PAYMENT_INTENT_SUCCEEDED,
        payment_intent_id=poisoned_payment.payment_intent_id,
        payload="{",
    )
    after_it = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(poisoned_payment))
    sound = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(sound_payment))

    # when
    left = stripe_events_fulfil(stripe_event_ids=[poisoned.pk, after_it.pk, sound.pk])

    # then: the sound row is applied; the poisoned payment's rows wait for the one-at-a-time path, in order
    assert left == [poisoned.pk, after_it.pk]
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert statuses[sound.pk] == StripeEvent.Status.PROCESSED
    assert {statuses[poisoned.pk], statuses[after_it.pk]} == {StripeEvent.Status.RECEIVED}
    assert Payment.objects.get(pk=sound_payment.pk).status == Status.SUCCEEDED
    assert Payment.objects.get(pk=poisoned_payment.pk).status == Status.PENDING


@pytest.mark.django_db
def test_rows_fulfilment_ignores_are_closed_by_the_batch_and_hold_back_none_of_their_payments_rows():
    # given: a payment whose `created` (a type EventPay ignores) and other Stripe mode's event came first
    payment = PaymentFactory()
    ids = [_store(_body(payment, kind)) for kind in (
        "payment_intent.created", "payment_intent.succeeded.livemode", "customer.created", "payment_intent.succeeded"
    )]  # fmt: skip

    # when
    with CaptureQueriesContext(connection) as queries:
        left = stripe_events_fulfil(stripe_event_ids=ids)

    # then: all four closed in the batch's one transaction, in the order stored
    assert left == []
    assert sum(kind in ("BEGIN", "SAVEPOINT") for kind in _statement_kinds(queries)) == 1  # in the test's transaction
    rows = {row.pk: row for row in StripeEvent.objects.filter(pk__in=ids)}
    assert [rows[pk].status for pk in ids] == ["ignored", "ignored", "ignored", "processed"]
    assert rows[ids[0]].last_error == "" and rows[ids[0]].attempts == 1
    assert Payment.objects.get(pk=payment.pk).status == Status.SUCCEEDED


def _statement_kinds(queries: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split(" ", 1)[0] for query in queries.captured_queries]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [1, 10, 80])
def test_a_batch_takes_the_same_statements_whatever_its_size(size, monkeypatch):
    # given: payments each with one event, of every type the batch applies
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    monkeypatch.setattr(queue, "notifications_send", lambda *, notification_ids: None)
    rows, organiser = [], UserFactory()
    for n in range(size):
        payment = PaymentFactory(event__owner=organiser)
        if n % 3 == 1:
            rows.append(
                stored_stripe_event(StripeEventType.PAYMENT_INTENT_PAYMENT_FAILED, declined_intent_object(payment))
            )
        elif n % 3 == 2:
            processing = payment_intent_object(payment, status="processing", amount_received=0)
            rows.append(stored_stripe_event(StripeEventType.PAYMENT_INTENT_PROCESSING, processing))
        else:
            rows.append(stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment)))

    # when
    with CaptureQueriesContext(connection) as queries:
        left = stripe_events_fulfil(stripe_event_ids=[row.pk for row in rows])

    # then: one transaction of nine statements, whether it applies one event or eighty
    assert left == []
    assert _statement_kinds(queries) == [
        "BEGIN",
        "SELECT",  # the open rows, locked (SKIP LOCKED)
        "SELECT",  # the payments with their events and organisers; events and payments locked (SKIP LOCKED)
        "UPDATE",  # the payments
        "SELECT",  # which emails are already recorded
        "INSERT",  # the emails to send after the commit
        "UPDATE",  # the events
        "UPDATE",  # the rows, closed
        "COMMIT",
    ]
    statements = [query["sql"] for query in queries.captured_queries]
    assert statements[1].endswith("FOR UPDATE SKIP LOCKED")
    assert statements[2].endswith('FOR UPDATE OF "events_event", "payments_payment" SKIP LOCKED')
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {StripeEvent.Status.PROCESSED}


def _succeeded_rows(count: int) -> list[StripeEvent]:
    organiser = UserFactory()
    return [
        stored_stripe_event(
            StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(PaymentFactory(event__owner=organiser))
        )
        for _ in range(count)
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_skips_rows_and_payments_another_transaction_holds_without_waiting(monkeypatch):
    # given: another worker holds two rows, and a checkout holds a third row's event
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    monkeypatch.setattr(queue, "notifications_send", lambda *, notification_ids: None)
    rows = _succeeded_rows(6)
    held_rows, held_payment_row = rows[:2], rows[2]
    held_event = Payment.objects.get(payment_intent_id=held_payment_row.payment_intent_id).event_id
    with connection.cursor() as cursor:  # waiting for a lock would fail the test instead of hanging it
        cursor.execute("SET lock_timeout = '2s'")

    with other_connection() as holder, holder.transaction():
        holder.execute("SELECT id FROM payments_stripeevent WHERE id = ANY(%s) FOR UPDATE", [[r.pk for r in held_rows]])
        holder.execute("SELECT id FROM events_event WHERE id = %s FOR UPDATE", [held_event])

        # when
        left = stripe_events_fulfil(stripe_event_ids=[row.pk for row in rows])

        # then: the free rows are applied; the held rows are their holder's; the held payment's row waits
        # for the one-at-a-time path
        assert left == [held_payment_row.pk]
        statuses = dict(StripeEvent.objects.values_list("pk", "status"))
        assert [statuses[row.pk] for row in rows] == [StripeEvent.Status.RECEIVED] * 3 + [
            StripeEvent.Status.PROCESSED
        ] * 3

    # and: once they are free, the next batch applies the rest, each once
    assert stripe_events_fulfil(stripe_event_ids=[row.pk for row in rows]) == []
    assert set(StripeEvent.objects.values_list("status", "attempts")) == {(StripeEvent.Status.PROCESSED, 1)}
    assert Notification.objects.filter(kind=Notification.Kind.LIVE).count() == 6


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_the_same_batch_apply_each_row_once(monkeypatch):
    # given: the same message delivered to two workers at once
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    monkeypatch.setattr(queue, "notifications_send", lambda *, notification_ids: None)
    ids = [row.pk for row in _succeeded_rows(120)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            _apply_batch(ids)
        except BaseException as exc:  # reported by the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # then: every row closed by one attempt, every payment succeeded with one email
    assert errors == []
    assert set(StripeEvent.objects.values_list("status", "attempts")) == {(StripeEvent.Status.PROCESSED, 1)}
    assert set(Payment.objects.values_list("status", flat=True)) == {Status.SUCCEEDED}
    assert Notification.objects.filter(kind=Notification.Kind.LIVE).count() == 120
    assert Event.objects.filter(is_active=True).count() == 120


@pytest.mark.django_db(transaction=True)
def test_a_batch_tops_itself_up_with_rows_waiting_in_the_inbox_oldest_first(monkeypatch):
    # given: a message of one row; then, oldest first, a row another worker holds, a failed row and seven
    # rows waiting (the first three handed over, the others stored while the broker was down)
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: None)
    monkeypatch.setattr(queue, "notifications_send", lambda *, notification_ids: None)
    rows = _succeeded_rows(10)
    message, held, failed, waiting = rows[0], rows[1], rows[2], rows[3:]
    StripeEvent.objects.filter(pk=failed.pk).update(status=StripeEvent.Status.FAILED)
    StripeEvent.objects.filter(pk__in=[row.pk for row in waiting[:3]]).update(status=StripeEvent.Status.ENQUEUED)

    with other_connection() as holder, holder.transaction():
        holder.execute("SELECT id FROM payments_stripeevent WHERE id = %s FOR UPDATE", [held.pk])

        # when: the batch may take five more than its message
        with CaptureQueriesContext(connection) as queries:
            left = stripe_events_fulfil(stripe_event_ids=[message.pk], claim_waiting=5)

    # then: its message's row and the five oldest waiting rows, in one transaction; the failed row waits for
    # its retry, the held one for its holder, the two youngest for their own messages
    assert left == []
    statuses = dict(StripeEvent.objects.values_list("pk", "status"))
    assert [statuses[row.pk] for row in [message, *waiting[:5]]] == [StripeEvent.Status.PROCESSED] * 6
    assert [statuses[row.pk] for row in waiting[5:]] == [StripeEvent.Status.RECEIVED] * 2
    assert statuses[failed.pk] == StripeEvent.Status.FAILED
    assert statuses[held.pk] == StripeEvent.Status.RECEIVED
    assert _statement_kinds(queries).count("BEGIN") == 1
    claim = [q["sql"] for q in queries.captured_queries][2]
    assert claim.endswith("FOR UPDATE SKIP LOCKED") and '"received_at" ASC' in claim

    # and: the messages of the rows it took find them finished and do nothing
    assert stripe_events_fulfil(stripe_event_ids=[row.pk for row in waiting[:5]]) == []
    assert StripeEvent.objects.filter(attempts__gt=1).count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_message_whose_rows_were_taken_ends_after_its_locking_reads_and_writes_nothing(monkeypatch):
    # given: a batch took every waiting row; a row that failed waits for an operator
    monkeypatch.setattr(queue, "notifications_send", lambda *, notification_ids: None)
    rows = _succeeded_rows(4)
    StripeEvent.objects.filter(pk=rows[3].pk).update(status=StripeEvent.Status.FAILED)
    assert stripe_events_fulfil(stripe_event_ids=[rows[0].pk], claim_waiting=10) == []

    # when: the messages of the rows it took arrive, topping up or not
    with CaptureQueriesContext(connection) as queries:
        assert stripe_events_fulfil(stripe_event_ids=[rows[1].pk], claim_waiting=10) == []
        assert stripe_events_fulfil(stripe_event_ids=[rows[2].pk, rows[3].pk]) == []

    # then: the locking reads (the message's rows, and the claim when it tops up), and nothing written
    assert _statement_kinds(queries) == ["BEGIN", "SELECT", "SELECT", "COMMIT", "BEGIN", "SELECT", "COMMIT"]
    assert list(StripeEvent.objects.order_by("pk").values_list("status", "attempts")) == [
        (StripeEvent.Status.PROCESSED, 1)
    ] * 3 + [(StripeEvent.Status.FAILED, 0)]

    # and: a row stored since is still taken by the next message that tops up
    late = _succeeded_rows(1)[0]
    assert stripe_events_fulfil(stripe_event_ids=[rows[1].pk], claim_waiting=10) == []
    assert StripeEvent.objects.get(pk=late.pk).status == StripeEvent.Status.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_a_claim_that_took_all_it_could_asks_for_another_worker_while_its_rows_are_locked(monkeypatch):
    # given: seven rows waiting
    monkeypatch.setattr(queue, "notifications_send", lambda *, notification_ids: None)
    rows = _succeeded_rows(7)
    locked_when_asked: list[int] = []

    def more_waiting() -> None:
        with other_connection() as other:  # another worker's
            free = other.execute(
                "SELECT count(*) FROM (SELECT id FROM payments_stripeevent WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED) AS f",
                [[row.pk for row in rows]],
            ).fetchone()
        locked_when_asked.append(len(rows) - free[0])

    # when: a message of one row claims up to five more, then the next claims up to five
    stripe_events_fulfil(stripe_event_ids=[rows[0].pk], claim_waiting=5, more_waiting=more_waiting)
    stripe_events_fulfil(stripe_event_ids=[], claim_waiting=5, more_waiting=more_waiting)

    # then: the first claim was full and asked while it held its six rows; the second took the last one, and did not
    assert locked_when_asked == [6]
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {StripeEvent.Status.PROCESSED}
