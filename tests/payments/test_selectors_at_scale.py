"""Beat's and the commands' reads are answered by indexes, so that their cost follows the backlog, not the
size of the inbox or the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments import selectors, stripe_gateway
from payments.models import Notification, Payment, StripeEvent
from payments.services import catch_up
from tests.factories import PaymentFactory, stored_stripe_event
from tests.query_plans import unbounded_scans

pytestmark = pytest.mark.django_db

TABLES = {StripeEvent._meta.db_table, Payment._meta.db_table, Notification._meta.db_table}


@pytest.fixture(autouse=True)
def rows(monkeypatch):
    """Rows of every status, and Stripe's event list (for catch-up) naming three events."""
    for status in StripeEvent.Status.values:
        stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=status)
    payment = PaymentFactory()
    for status in Notification.Status.values:
        Notification.objects.create(
            user=payment.user, kind=Notification.Kind.PASSWORD_RESET, status=status, claimed_at=timezone.now()
        )
    listed = [{"id": f"evt_listed{i}", "type": "payment_intent.succeeded", "created": 0} for i in range(3)]
    monkeypatch.setattr(stripe_gateway, "list_events", lambda **kwargs: iter(listed))


def _missing():
    return list(catch_up.stripe_events_missing(since=timezone.now() - timedelta(days=3)))


def _notifications_stale():
    return list(
        selectors.notifications_stale(older_than=timedelta(minutes=10), claim_timeout=timedelta(minutes=2))[:5000]
    )


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(
            lambda: list(selectors.stripe_events_stale(older_than=timedelta(seconds=120))[:5000]), id="sweeper"
        ),
        pytest.param(selectors.stripe_event_oldest_unprocessed, id="oldest unprocessed"),
        pytest.param(_notifications_stale, id="notifications sweeper"),
        pytest.param(lambda: list(selectors.stripe_events_for_retry(failed_only=True)), id="retry --failed"),
        pytest.param(lambda: list(selectors.stripe_events_for_retry(ids=["evt_1", "12"])), id="retry --ids"),
        pytest.param(_missing, id="catch-up"),
        pytest.param(lambda: list(selectors.stripe_events_for_payment_intent("pi_1")), id="rows of a PaymentIntent"),
        pytest.param(lambda: list(selectors.payments_for_reconcile(older_than=timedelta(minutes=10))), id="reconcile"),
        pytest.param(lambda: list(selectors.payments_abandoned(older_than=timedelta(days=1))), id="abandoned"),
    ],
)
def test_the_read_is_answered_by_an_index(read):
    # when
    with CaptureQueriesContext(connection) as queries:
        read()

    # then
    reads = [q["sql"] for q in queries.captured_queries]
    assert reads
    assert {sql: unbounded_scans(sql, TABLES) for sql in reads} == {sql: [] for sql in reads}


def test_the_rows_of_a_payment_intent_include_those_still_enqueued():
    # given: a webhook insert (`enqueued`) is not in the PaymentIntent index until a worker closes the row
    payment = PaymentFactory()
    rows = {
        status: stored_stripe_event(
            "payment_intent.succeeded", {"id": payment.payment_intent_id, "object": "payment_intent"}, status=status
        )
        for status in StripeEvent.Status.values
    }
    stored_stripe_event("payment_intent.succeeded", {"id": "pi_other", "object": "payment_intent"})

    # when
    found = set(selectors.stripe_events_for_payment_intent(payment.payment_intent_id))

    # then
    assert found == set(rows.values())
