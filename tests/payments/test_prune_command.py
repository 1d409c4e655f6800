"""`manage.py prune_stripe_events`: dry run, the summary line, and a non-zero exit when a batch fails."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.utils import timezone
from freezegun import freeze_time

from payments.models import OperatorAction, StripeEvent
from payments.services import retention
from tests.factories import stored_stripe_event

pytestmark = pytest.mark.django_db

CUSTOMER = {"id": "cus_1", "object": "customer"}


def _run(*args) -> str:
    out = StringIO()
    call_command("prune_stripe_events", *args, "--actor", "ada", stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def inbox():
    """Three old processed rows (one an operator acted on), an old failed row and a recent processed one."""
    with freeze_time(timezone.now() - timedelta(days=120)):
        old = [stored_stripe_event("customer.created", CUSTOMER, status="processed") for _ in range(3)]
        failed = stored_stripe_event("customer.created", CUSTOMER, status="failed")
    OperatorAction.objects.create(actor="olga", action="retry", stripe_event=old[0], outcome="skipped")
    recent = stored_stripe_event("customer.created", CUSTOMER, status="processed")
    return {"old": old, "failed": failed, "recent": recent}


def test_dry_run_reports_what_would_go_and_deletes_nothing(inbox):
    # when
    out = _run("--older-than", "90d", "--dry-run")

    # then
    assert "2 rows received before" in out and "would be deleted (dry run) in 1 batches" in out
    assert "1 kept for the audit trail" in out
    assert StripeEvent.objects.count() == 5


def test_deletes_in_batches_and_prints_one_summary_line(inbox):
    # when
    out = _run("--older-than", "90d", "--batch-size", "1")

    # then
    assert out.count("\n") == 1
    assert "prune_stripe_events: 2 rows received before" in out and "deleted in 2 batches" in out
    assert set(StripeEvent.objects.values_list("pk", flat=True)) == {
        inbox["old"][0].pk,
        inbox["failed"].pk,
        inbox["recent"].pk,
    }


def test_a_failed_batch_exits_non_zero_with_what_was_done(inbox, monkeypatch):
    # given
    def database_gone(ids):
        raise OperationalError("the database went away")

    monkeypatch.setattr(retention, "_delete", database_gone)

    # when
    with pytest.raises(CommandError) as failure:
        _run("--older-than", "90d")

    # then
    assert "0 rows received before" in str(failure.value) and "OperationalError" in str(failure.value)
    assert StripeEvent.objects.count() == 5


def test_a_retention_period_is_required_and_must_be_a_duration(inbox):
    for args in ((), ("--older-than", "ninety days")):
        with pytest.raises(CommandError):
            _run(*args)
    assert StripeEvent.objects.count() == 5
