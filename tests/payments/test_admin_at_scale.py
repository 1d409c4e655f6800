"""The operators' console on large tables: a fixed number of queries per changelist page whatever the table
holds, counts that never read the whole table, search and filters through indexes."""

from __future__ import annotations

import pytest
from django.core.paginator import EmptyPage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.pagination import BoundedPaginator
from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent
from tests.factories import EventFactory, PaymentFactory, UserFactory, payment_intent_object, stored_stripe_event
from tests.query_plans import unbounded_scans

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:payments_stripeevent_changelist")
PAYMENTS = reverse("admin:payments_payment_changelist")
INBOX_TABLE = StripeEvent._meta.db_table


@pytest.fixture
def operator(operator_client):
    """The admin's session (password and a verified second factor) of a superuser, olga."""
    return operator_client


@pytest.fixture
def organiser(db):
    return UserFactory(username="organiser")


def _seed(organiser, count: int) -> None:
    """`count` payments, each with an inbox row (every other one failed) and an operator action on both."""
    for i in range(count):
        payment = PaymentFactory(event=EventFactory(owner=organiser))
        row = stored_stripe_event(
            StripeEventType.PAYMENT_INTENT_SUCCEEDED,
            payment_intent_object(payment),
            status=StripeEvent.Status.FAILED if i % 2 else StripeEvent.Status.PROCESSED,
        )
        OperatorAction.objects.create(actor="olga", action="retry", stripe_event=row, outcome="done")
        OperatorAction.objects.create(actor="olga", action="reconcile", payment=payment, outcome="done")


def _queries(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (INBOX, {}),
        (INBOX, {"status__exact": "failed"}),
        (INBOX, {"type": StripeEventType.PAYMENT_INTENT_SUCCEEDED}),
        (INBOX, {"q": "evt_"}),
        (PAYMENTS, {}),
        (PAYMENTS, {"status__exact": "pending"}),
    ],
)
def test_a_changelist_page_costs_the_same_number_of_queries_whatever_the_table_holds(
    operator, organiser, url, params, django_assert_max_num_queries
):
    # given
    _seed(organiser, 2)
    small = _queries(operator, url, params)
    _seed(organiser, 120)  # more rows than a page holds, each with its own payment and audit trail

    # when
    with django_assert_max_num_queries(12):
        large = _queries(operator, url, params)

    # then
    assert large == small


def test_the_paginator_counts_exactly_up_to_its_limit_then_estimates(organiser, monkeypatch):
    # given
    monkeypatch.setattr(BoundedPaginator, "EXACT_COUNT_UP_TO", 10)
    monkeypatch.setattr(BoundedPaginator, "MAX_OFFSET", 10)
    _seed(organiser, 40)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {INBOX_TABLE}")

    # when
    few = BoundedPaginator(StripeEvent.objects.filter(pk__in=StripeEvent.objects.values("pk")[:7]), 5)
    many = BoundedPaginator(StripeEvent.objects.all(), 5)

    # then
    assert few.count == 7 and few.num_pages == 2
    assert 10 < many.count <= 400 and many.num_pages == 3
    assert len(many.page(3).object_list) == 5
    with pytest.raises(EmptyPage):
        many.page(4)


def test_a_page_beyond_the_offered_ones_goes_back_to_the_list(operator, organiser, monkeypatch):
    # given
    monkeypatch.setattr(BoundedPaginator, "MAX_OFFSET", 49)
    _seed(organiser, 60)

    # when
    response = operator.get(INBOX, {"p": 2})

    # then: Django admin's answer to a page it does not have
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_the_failed_header_is_exact_up_to_the_limit_then_an_estimate(operator, organiser, monkeypatch):
    # given
    _seed(organiser, 6)
    assert "Webhook inbox: 3 failed" in operator.get(INBOX).content.decode()
    monkeypatch.setattr(BoundedPaginator, "EXACT_COUNT_UP_TO", 2)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {INBOX_TABLE}")

    # when
    page = operator.get(INBOX).content.decode()

    # then
    assert "Webhook inbox: about " in page and " failed" in page


def test_inbox_search_by_a_whole_id_or_row_number(operator, organiser):
    # given
    _seed(organiser, 4)
    wanted = StripeEvent.objects.order_by("pk").first()
    others = StripeEvent.objects.exclude(pk=wanted.pk)

    def shown(term: str) -> set[str]:
        page = operator.get(INBOX, {"q": term}).content.decode()
        return {r.stripe_id for r in StripeEvent.objects.all() if r.stripe_id in page}

    # when
    found = [shown(term) for term in (wanted.stripe_id, wanted.payment_intent_id, str(wanted.pk))]
    prefix = shown(wanted.stripe_id[:12])

    # then: a prefix would need an index of its own on every webhook insert
    assert found == [{wanted.stripe_id}] * 3
    assert prefix == set() and others.exists()


def test_the_type_filter_offers_every_stored_type(operator, organiser):
    # given
    _seed(organiser, 2)
    stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status="ignored")

    # when
    page = operator.get(INBOX).content.decode()

    # then
    for event_type in (StripeEventType.PAYMENT_INTENT_SUCCEEDED, "customer.created"):
        assert f"?type={event_type}" in page
    assert "_facets" not in page  # facet counts would count every row of the table per option


def test_payments_search_by_id_event_number_or_user_name_never_by_substring(operator, organiser):
    # given
    _seed(organiser, 3)
    payment = Payment.objects.order_by("pk").first()
    other_owner = PaymentFactory(event=EventFactory(title="Launch party"))

    # when
    pages = {
        term: operator.get(PAYMENTS, {"q": term}).content.decode()
        for term in (payment.payment_intent_id[:8], str(payment.pk), str(payment.event_id), "organiser", "Launch")
    }

    # then
    shown = {
        term: {p.payment_intent_id for p in Payment.objects.all() if p.payment_intent_id in page}
        for term, page in pages.items()
    }
    assert payment.payment_intent_id in shown[payment.payment_intent_id[:8]]
    assert shown[str(payment.pk)] >= {payment.payment_intent_id}
    assert shown[str(payment.event_id)] >= {payment.payment_intent_id}
    assert shown["organiser"] == set(Payment.objects.filter(user=organiser).values_list("payment_intent_id", flat=True))
    assert shown["Launch"] == set() and other_owner.payment_intent_id not in pages["Launch"]


@pytest.mark.parametrize(
    "params",
    [
        {"status__exact": "failed"},
        {"status__exact": "enqueued"},
        {"q": "evt_0123"},
        {"q": "pi_0123"},
        {"type": StripeEventType.PAYMENT_INTENT_SUCCEEDED},
    ],
)
def test_inbox_filters_and_search_read_through_indexes(operator, organiser, params):
    # given
    _seed(organiser, 4)

    # when
    with CaptureQueriesContext(connection) as queries:
        operator.get(INBOX, params)

    # then: the page's own query and its count
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if INBOX_TABLE in q["sql"] and "WHERE" in q["sql"] and not q["sql"].startswith(("EXPLAIN", "\n"))
    ]
    assert reads
    assert {sql: unbounded_scans(sql, {INBOX_TABLE}) for sql in reads} == {sql: [] for sql in reads}
