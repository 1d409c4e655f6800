"""Retention: processed and ignored rows go after the retention period, in batches; failed and unfinished rows,
and rows the audit trail names, stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from payments import selectors
from payments.models import OperatorAction, StripeEvent
from payments.services import retention
from tests.factories import stored_stripe_event
from tests.query_plans import unbounded_scans
from worker import tasks
from worker.celery import app

pytestmark = pytest.mark.django_db

CUSTOMER = {"id": "cus_1", "object": "customer"}
Status = StripeEvent.Status


def _row(status: str, *, days_old: int) -> StripeEvent:
    with freeze_time(timezone.now() - timedelta(days=days_old)):
        return stored_stripe_event("customer.created", CUSTOMER, status=status)


def _remaining(rows: list[StripeEvent]) -> set[int]:
    return set(StripeEvent.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))


def test_only_old_processed_and_ignored_rows_are_deleted():
    # given
    old_done = [_row(Status.PROCESSED, days_old=100), _row(Status.IGNORED, days_old=91)]
    kept = [_row(status, days_old=100) for status in (Status.FAILED, Status.RECEIVED, Status.ENQUEUED)]
    kept += [_row(Status.PROCESSED, days_old=89), _row(Status.IGNORED, days_old=10)]

    # when
    pruned = retention.stripe_events_prune(older_than=timedelta(days=90))

    # then
    assert pruned.deleted == 2 and pruned.errors == []
    assert _remaining(old_done) == set()
    assert _remaining(kept) == {r.pk for r in kept}


def test_rows_an_operator_acted_on_are_kept_with_their_audit_trail():
    # given
    acted_on = _row(Status.IGNORED, days_old=200)
    action = OperatorAction.objects.create(
        actor="olga", action=OperatorAction.Action.IGNORE, stripe_event=acted_on, outcome="done", reason="by hand"
    )
    _row(Status.PROCESSED, days_old=200)

    # when
    pruned = retention.stripe_events_prune(older_than=timedelta(days=90))

    # then
    assert (pruned.deleted, pruned.kept_for_audit) == (1, 1)
    assert OperatorAction.objects.get(pk=action.pk).stripe_event_id == acted_on.pk


def test_an_operator_action_recorded_after_the_batch_was_read_keeps_its_row(monkeypatch):
    # given: between the batch's read and its DELETE, an operator acts on one of its rows
    rows = [_row(Status.PROCESSED, days_old=100) for _ in range(3)]
    read = selectors.stripe_events_prunable

    def read_then_an_operator_acts(**kwargs):
        batch = list(read(**kwargs))
        if batch:
            OperatorAction.objects.get_or_create(
                actor="olga", action=OperatorAction.Action.RETRY, stripe_event_id=batch[0][1], outcome="skipped"
            )
        return batch

    monkeypatch.setattr(selectors, "stripe_events_prunable", read_then_an_operator_acts)

    # when
    pruned = retention.stripe_events_prune(older_than=timedelta(days=90))

    # then
    assert pruned.deleted == 2
    assert _remaining(rows) == {rows[0].pk}
    assert OperatorAction.objects.filter(stripe_event=rows[0]).exists()


def test_rows_are_deleted_in_batches_of_the_given_size():
    # given
    rows = [_row(Status.PROCESSED, days_old=100 + i) for i in range(7)]

    # when
    batches = list(retention.stripe_events_prune_batches(cutoff=timezone.now() - timedelta(days=90), batch_size=3))

    # then
    assert batches == [3, 3, 1]
    assert _remaining(rows) == set()


def test_a_dry_run_counts_the_batches_and_deletes_nothing():
    # given
    rows = [_row(Status.PROCESSED, days_old=100) for _ in range(5)]

    # when
    batches = list(
        retention.stripe_events_prune_batches(cutoff=timezone.now() - timedelta(days=90), batch_size=2, dry_run=True)
    )

    # then
    assert batches == [2, 2, 1]
    assert _remaining(rows) == {r.pk for r in rows}


def test_a_run_stops_at_its_time_budget_and_leaves_the_rest_for_the_next():
    # given
    rows = [_row(Status.PROCESSED, days_old=100) for _ in range(4)]

    # when
    first = retention.stripe_events_prune(older_than=timedelta(days=90), batch_size=2, time_budget=0)
    second = retention.stripe_events_prune(older_than=timedelta(days=90), batch_size=2, time_budget=0)

    # then
    assert (first.deleted, first.batches, first.more) == (2, 1, True)
    assert (second.deleted, second.batches) == (2, 1)
    assert _remaining(rows) == set()


def test_each_batch_is_read_through_the_arrival_order_index():
    # given
    for _ in range(3):
        _row(Status.PROCESSED, days_old=100)
    cutoff = timezone.now() - timedelta(days=90)
    first = selectors.stripe_events_prunable(cutoff=cutoff)[:2]
    after = list(first)[-1]

    # when
    queries = [
        q.query.sql_with_params() for q in (first, selectors.stripe_events_prunable(cutoff=cutoff, after=after)[:2])
    ]

    # then
    table = StripeEvent._meta.db_table
    assert [unbounded_scans(sql, {table}, params) for sql, params in queries] == [[], []]


def test_beat_prunes_hourly_with_the_configured_retention_and_keeps_its_counts(settings):
    # given
    settings.STRIPE_EVENT_RETENTION_DAYS = 30
    old = _row(Status.PROCESSED, days_old=31)
    recent = _row(Status.PROCESSED, days_old=29)

    # when
    result = tasks.prune_stripe_events.apply().get()

    # then
    assert result["deleted"] == 1 and result["more"] is False and result["errors"] == []
    assert _remaining([old, recent]) == {recent.pk}
    assert app.conf.beat_schedule["prune-stripe-events"]["task"] == tasks.prune_stripe_events.name
    assert tasks.prune_stripe_events.ignore_result is False  # kept by django-celery-results
