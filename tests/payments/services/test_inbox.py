"""The webhook inbox's row lifecycle, called directly: store once, hand over, sweep, close, alert."""

import json
import logging
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from payments.consts import StripeEventType
from payments.models import StripeEvent
from payments.services import inbox
from payments.services.inbox import Outcome
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event, stripe_event_body

pytestmark = pytest.mark.django_db

CUSTOMER = {"id": "cus_1", "object": "customer"}


def _receive(body: dict) -> int | None:
    return inbox.stripe_event_receive(event=body, payload=json.dumps(body).encode())


def test_receive_stores_the_event_as_signed_and_hands_it_over(enqueued):
    # given
    payment = PaymentFactory()
    body = stripe_event_body(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))

    # when
    stripe_event_id = _receive(body)

    # then
    row = StripeEvent.objects.get(pk=stripe_event_id)
    assert enqueued == [row.pk]
    assert (row.stripe_id, row.type, row.payment_intent_id) == (body["id"], body["type"], payment.payment_intent_id)
    assert row.status == StripeEvent.Status.ENQUEUED and row.enqueued_at == row.received_at
    assert json.loads(row.payload) == body


def test_a_duplicate_is_stored_once_and_handed_over_once(enqueued):
    # given
    body = stripe_event_body("customer.created", CUSTOMER)
    first = _receive(body)

    # when
    again = _receive(body)

    # then
    assert again is None and enqueued == [first]
    assert StripeEvent.objects.filter(stripe_id=body["id"]).count() == 1


@pytest.mark.django_db(transaction=True)  # the webhook's own path: the group insert commits the row
def test_with_the_broker_down_the_row_waits_for_the_sweeper(broker_down):
    # when
    stripe_event_id = _receive(stripe_event_body("customer.created", CUSTOMER))

    # then
    row = StripeEvent.objects.get(pk=stripe_event_id)
    assert row.status == StripeEvent.Status.RECEIVED and row.enqueued_at is None


def test_the_sweeper_resends_only_rows_stale_and_unprocessed(enqueued):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=10)):
        stale = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.RECEIVED)
        handed_over_long_ago = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.ENQUEUED)
        done = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.PROCESSED)
    fresh = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.RECEIVED)

    # when
    count = inbox.stripe_events_requeue_stale(older_than=timedelta(minutes=2))

    # then
    assert count == 2 and enqueued == [stale.pk, handed_over_long_ago.pk]
    assert StripeEvent.objects.get(pk=stale.pk).status == StripeEvent.Status.ENQUEUED
    assert {done.pk, fresh.pk}.isdisjoint(enqueued)


def test_the_sweeper_stops_while_the_broker_is_down(broker_down):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=10)):
        row = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.RECEIVED)

    # when
    count = inbox.stripe_events_requeue_stale(older_than=timedelta(minutes=2))

    # then
    assert count == 0 and StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.RECEIVED


@pytest.mark.parametrize(
    "status", [StripeEvent.Status.RECEIVED, StripeEvent.Status.ENQUEUED, StripeEvent.Status.FAILED]
)
def test_close_records_the_attempt_on_an_open_row(status):
    # given
    row = stored_stripe_event("customer.created", CUSTOMER, status=status, attempts=2, last_error="earlier")

    # when
    closed = inbox.stripe_event_close(stripe_event_id=row.pk, outcome=Outcome.failed("Amount does not match."))

    # then
    row.refresh_from_db()
    assert closed is True
    assert (row.status, row.attempts, row.last_error) == (StripeEvent.Status.FAILED, 3, "Amount does not match.")
    assert row.processed_at is not None


@pytest.mark.parametrize("status", [StripeEvent.Status.PROCESSED, StripeEvent.Status.IGNORED])
def test_close_leaves_a_finished_row_alone(status):
    row = stored_stripe_event("customer.created", CUSTOMER, status=status, attempts=1)

    closed = inbox.stripe_event_close(stripe_event_id=row.pk, outcome=Outcome.failed("late"))

    row.refresh_from_db()
    assert closed is False and (row.status, row.attempts, row.last_error) == (status, 1, "")


def test_closing_without_an_attempt_keeps_the_count_and_the_error():
    row = stored_stripe_event(
        "customer.created", CUSTOMER, status=StripeEvent.Status.FAILED, attempts=9, last_error="boom"
    )

    inbox.stripe_event_close(stripe_event_id=row.pk, outcome=Outcome.ignored("checked by hand"), attempted=False)

    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (StripeEvent.Status.IGNORED, 9, "boom")


def test_an_attempt_that_raised_is_counted_with_its_error():
    row = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.ENQUEUED)

    inbox.stripe_event_record_attempt(stripe_event_id=row.pk, error="OperationalError: the database went away")

    row.refresh_from_db()
    assert (row.status, row.attempts) == (StripeEvent.Status.ENQUEUED, 1)
    assert row.last_error == "OperationalError: the database went away"


def test_mark_failed_leaves_finished_rows_alone():
    done = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.PROCESSED)
    waiting = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.ENQUEUED)

    inbox.stripe_event_mark_failed(stripe_event_id=done.pk, error="OperationalError: gone")
    inbox.stripe_event_mark_failed(stripe_event_id=waiting.pk, error="OperationalError: gone")

    done.refresh_from_db()
    waiting.refresh_from_db()
    assert done.status == StripeEvent.Status.PROCESSED
    assert waiting.status == StripeEvent.Status.FAILED
    assert waiting.last_error == "OperationalError: gone"


def test_backlog_older_than_five_minutes_is_an_error_record(caplog):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=6)):
        stored_stripe_event(
            "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.ENQUEUED
        )

    # when
    with caplog.at_level(logging.INFO, logger="payments.services.inbox"):
        age = inbox.stripe_event_backlog_check()

    # then
    assert 360 <= age < 400
    [alert] = [r for r in caplog.records if getattr(r, "alert", None) == "stripe_event_backlog"]
    assert alert.levelno == logging.ERROR


def test_a_recent_backlog_raises_no_alert(caplog):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=4)):
        stored_stripe_event(
            "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.RECEIVED
        )

    # when
    with caplog.at_level(logging.INFO):
        inbox.stripe_event_backlog_check()

    # then
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_receive_is_one_statement_on_djangos_connection_where_tests_and_tracing_see_it(enqueued):
    # given
    body = stripe_event_body("customer.created", CUSTOMER)

    # when
    with CaptureQueriesContext(connection) as queries:
        stripe_event_id = _receive(body)

    # then: one INSERT that skips a duplicate and returns the new row's id, committed on its own
    assert [q["sql"].split(" ", 2)[:2] for q in queries.captured_queries] == [["INSERT", "INTO"]]
    assert "ON CONFLICT" in queries.captured_queries[0]["sql"]
    assert StripeEvent.objects.get(stripe_id=body["id"]).pk == stripe_event_id
