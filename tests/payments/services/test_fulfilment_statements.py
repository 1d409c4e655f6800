"""Fulfilment's round trips and locks on real PostgreSQL transactions: a `succeeded` event is applied with
one locking read of the inbox row and one of the event and its payment, in the order checkout locks them."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from payments import queue
from payments.consts import StripeEventType
from payments.models import Notification, Payment, StripeEvent
from payments.services import fulfilment
from tests.db import other_connection
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_for_a_lock(observer: psycopg.Connection, query_like: str) -> bool:
    found = observer.execute(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND query LIKE %s",
        [query_like],
    )
    return found.fetchone() is not None


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_a_succeeded_event_is_applied_in_one_transaction_of_seven_statements(monkeypatch):
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    handed_over: list[int] = []
    monkeypatch.setattr(queue, "notification_send", lambda *, notification_id: handed_over.append(notification_id))

    # when
    with CaptureQueriesContext(connection) as queries:
        status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then: the row's kind (a snapshot: nothing to fetch), then in one transaction the row, the event with its
    # payment and organiser, three writes and the email's record, written as handed over; once committed,
    # the email is handed to a worker, which writes nothing more
    statements = _statements(queries)
    assert status == StripeEvent.Status.PROCESSED
    assert [sql.split(" ", 1)[0] for sql in statements] == [
        "SELECT",  # the inbox row, unlocked: a thin event's object would be fetched now
        "BEGIN",
        "SELECT",  # the inbox row, locked
        "SELECT",  # the payment, its event and organiser; event and payment locked
        "UPDATE",  # the payment
        "SELECT",  # whether the email is already recorded
        "INSERT",  # the email to send after the commit
        "UPDATE",  # the event
        "UPDATE",  # the inbox row, closed
        "COMMIT",
    ]
    assert not statements[0].endswith("FOR UPDATE")
    assert statements[2].endswith("FOR UPDATE")
    assert statements[3].endswith('FOR UPDATE OF "events_event", "payments_payment"')
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    email = Notification.objects.get(payment=payment, kind=Notification.Kind.LIVE)
    assert handed_over == [email.pk] and email.enqueued_at is not None


def test_a_duplicate_of_a_finished_row_is_one_read():
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # when
    with CaptureQueriesContext(connection) as queries:
        status = fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # then: its row says it is finished, before any transaction or lock
    assert status == StripeEvent.Status.PROCESSED
    assert [sql.split(" ", 1)[0] for sql in _statements(queries)] == ["SELECT"]


def test_fulfilment_locks_the_event_before_the_payment_as_checkout_does():
    # given: another transaction holds the payment's lock (and not the event's)
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    result: dict[str, object] = {}

    def work():
        try:
            result["status"] = fulfilment.process_stripe_event(stripe_event_id=row.pk)
        finally:
            connections.close_all()

    with other_connection() as holder, other_connection() as observer:
        with holder.transaction():
            holder.execute("SELECT id FROM payments_payment WHERE id = %s FOR UPDATE", [payment.pk])
            worker = threading.Thread(target=work)
            worker.start()
            # when: fulfilment waits for the payment (its locking read, seen from outside; PostgreSQL
            # keeps the first kilobyte of a query's text)
            for _ in range(400):
                if _waiting_for_a_lock(observer, 'SELECT "payments_payment"."id"%'):
                    break
                time.sleep(0.025)
            else:
                pytest.fail("fulfilment never waited for the payment's lock")

            # then: it already holds the event's, as checkout would first take it
            observer.execute("SET lock_timeout = '100ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable), observer.transaction():
                observer.execute("SELECT id FROM events_event WHERE id = %s FOR UPDATE", [payment.event_id])
        worker.join(timeout=10)

    assert result["status"] == StripeEvent.Status.PROCESSED
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
