"""The webhook's rows stored in groups (a group commit): one statement for the rows of concurrent requests,
each request still answered with its own row's outcome, and nothing lost when PostgreSQL refuses a row or
cuts the connection. Transactional: each request's thread has a connection of its own, as under gunicorn."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import DatabaseError, connection
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from payments.models import StripeEvent
from payments.services import inbox
from tests.db import other_connection
from tests.factories import stripe_event_body

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = {"id": "cus_1", "object": "customer"}


def _receive(body: dict) -> int | None:
    return inbox.stripe_event_receive(event=body, payload=json.dumps(body).encode())


def _outcome(body: dict) -> int | str | None:
    try:
        return _receive(body)
    except DatabaseError:
        return "refused"


class Groups(list[int]):
    """The sizes of the groups inserted. The first waits in PostgreSQL's stead (`entered`) until `release`, so
    that the requests sent meanwhile make the second group whatever the machine's timing."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()


@pytest.fixture
def groups(monkeypatch) -> Groups:
    sizes, insert = Groups(), inbox._insert_ignoring_duplicates

    def recorded(rows):
        if not sizes.entered.is_set():
            sizes.entered.set()
            assert sizes.release.wait(timeout=10)
        sizes.append(len(rows))
        return insert(rows)

    monkeypatch.setattr(inbox, "_insert_ignoring_duplicates", recorded)
    yield sizes
    sizes.release.set()


def _concurrently(bodies: list[dict], groups: Groups) -> list[int | str | None]:
    """Receives `bodies[0]` first and, while its insert is under way, every other body from a thread of its own."""
    with ThreadPoolExecutor(len(bodies)) as pool:
        first = pool.submit(_outcome, bodies[0])
        assert groups.entered.wait(timeout=10)
        others = [pool.submit(_outcome, body) for body in bodies[1:]]
        deadline = time.monotonic() + 10
        while len(inbox.stripe_events_group_commit._waiting) < len(bodies) - 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        groups.release.set()
        return [first.result(), *[other.result() for other in others]]


def _inserts_counted() -> tuple[float, float]:
    """`eventpay_webhook_rows_per_insert`'s count and sum, as /api/metrics shows them."""
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(Client().get("/api/metrics").content.decode())
        for sample in family.samples
        if sample.name.startswith("eventpay_webhook_rows_per_insert") and sample.labels.get("rows") == "stripe_event"
    }
    return values.get("eventpay_webhook_rows_per_insert_count", 0.0), values.get(
        "eventpay_webhook_rows_per_insert_sum", 0.0
    )


def test_concurrent_requests_are_stored_in_one_statement_each_with_its_own_id(enqueued, groups, settings):
    # given
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the test client's address
    bodies = [stripe_event_body("customer.created", CUSTOMER) for _ in range(6)]
    before = _inserts_counted()

    # when
    outcomes = _concurrently(bodies, groups)

    # then: the first row alone (nothing was under way), the five that came meanwhile together, as counted
    assert groups == [1, 5]
    after = _inserts_counted()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 6)
    stored = dict(StripeEvent.objects.values_list("stripe_id", "pk"))
    assert outcomes == [stored[body["id"]] for body in bodies]
    assert sorted(enqueued) == sorted(stored.values())


def test_a_duplicate_within_a_group_is_stored_once_and_answered_as_a_duplicate(enqueued, groups):
    # given: the same event delivered twice at once, and another
    twice, other = stripe_event_body("customer.created", CUSTOMER), stripe_event_body("customer.created", CUSTOMER)

    # when
    outcomes = _concurrently([other, twice, twice], groups)

    # then
    assert groups == [1, 2]
    stored = dict(StripeEvent.objects.values_list("stripe_id", "pk"))
    assert outcomes == [stored[other["id"]], stored[twice["id"]], None]
    assert sorted(enqueued) == sorted(stored.values())


def test_a_row_postgresql_refuses_fails_alone_and_the_rest_of_its_group_is_stored(enqueued, groups):
    # given: an id PostgreSQL's text cannot hold (the view refuses these before; here the service is called)
    refused = stripe_event_body("customer.created", CUSTOMER, event_id="evt_nul\x00byte")
    good = [stripe_event_body("customer.created", CUSTOMER) for _ in range(3)]

    # when
    outcomes = _concurrently([good[0], good[1], refused, good[2]], groups)

    # then: the group of three failed, and each of its rows was tried alone
    assert groups[:2] == [1, 3]
    assert outcomes[2] == "refused"
    stored = dict(StripeEvent.objects.values_list("stripe_id", "pk"))
    assert set(stored) == {body["id"] for body in good}
    assert [outcomes[0], outcomes[1], outcomes[3]] == [stored[body["id"]] for body in good]


def test_a_caller_inside_a_transaction_stores_its_row_in_it(enqueued):
    from django.db import transaction

    # when: stored, then the transaction rolled back
    with transaction.atomic():
        stored = _receive(stripe_event_body("customer.created", CUSTOMER))
        assert StripeEvent.objects.filter(pk=stored).exists()
        transaction.set_rollback(True)

    # then: it went with the transaction, as the caller's own write does
    assert not StripeEvent.objects.exists()


def test_a_connection_cut_during_the_insert_costs_the_request_nothing(enqueued, monkeypatch):
    # given: PostgreSQL ends the connection as the statement runs (a restart, a failover)
    insert, cut = inbox._insert_ignoring_duplicates, []

    def cut_once(rows):
        if not cut:
            cut.append(len(rows))
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return insert(rows)

    monkeypatch.setattr(inbox, "_insert_ignoring_duplicates", cut_once)

    # when
    stored = _receive(stripe_event_body("customer.created", CUSTOMER))

    # then: stored on a new connection, and answered with its id
    assert cut == [1]
    assert stored is not None and StripeEvent.objects.filter(pk=stored).exists()


def test_the_insert_spends_no_round_trip_on_djangos_health_check(enqueued, monkeypatch):
    # given: a connection kept from an earlier request, and a new request begun as Django begins one (with
    # CONN_HEALTH_CHECKS, its first query would be preceded by a `SELECT 1`)
    _receive(stripe_event_body("customer.created", CUSTOMER))
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close_at = time.monotonic() + 60
    connection.close_if_unusable_or_obsolete()
    checks: list[bool] = []
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(True) or True)

    # when
    stored = _receive(stripe_event_body("customer.created", {**CUSTOMER, "id": "cus_2"}))

    # then: the insert went first, alone
    assert stored is not None and checks == []


def test_a_connection_that_died_between_requests_costs_the_next_request_nothing(enqueued):
    # given: the connection kept from an earlier request is ended while idle (a restart, a failover)
    _receive(stripe_event_body("customer.created", CUSTOMER))
    pid = connection.connection.info.backend_pid
    with other_connection() as operator:
        operator.execute("SELECT pg_terminate_backend(%s)", [pid])

    # when
    stored = _receive(stripe_event_body("customer.created", {**CUSTOMER, "id": "cus_2"}))

    # then: stored on a new connection, and answered with its id
    assert stored is not None and StripeEvent.objects.filter(pk=stored).exists()
    assert connection.connection.info.backend_pid != pid
