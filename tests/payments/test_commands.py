"""The operator commands, with and without --dry-run, and their exit status."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from freezegun import freeze_time

from offline.net import free_port
from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent
from tests.conftest import paid_payment
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event

pytestmark = pytest.mark.django_db

CUSTOMER = {"id": "cus_1", "object": "customer"}


def _run(*args, actor: str | None = "ada") -> str:
    out = StringIO()
    call_command(*args, *(["--actor", actor] if actor else []), stdout=out, stderr=StringIO())
    return out.getvalue()


def test_retry_failed_dry_run_lists_and_changes_nothing(enqueued):
    # given
    failed = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)
    stored_stripe_event("customer.created", CUSTOMER | {"id": "cus_2"}, status=StripeEvent.Status.PROCESSED)

    # when
    out = _run("retry_stripe_events", "--failed", "--dry-run")

    # then
    assert f"would retry {failed.stripe_id}" in out
    assert "1 rows would be retried (dry run)" in out
    assert enqueued == [] and not OperatorAction.objects.exists()
    assert StripeEvent.objects.get(pk=failed.pk).status == StripeEvent.Status.FAILED


def test_retry_failed_enqueues_each_failed_row(enqueued):
    # given
    rows = [stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED) for _ in range(3)]
    stuck = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.RECEIVED)

    # when
    out = _run("retry_stripe_events", "--failed")

    # then
    assert "3 enqueued, 0 skipped, 0 errors" in out
    assert sorted(enqueued) == sorted(r.pk for r in rows)
    assert stuck.pk not in enqueued
    assert OperatorAction.objects.filter(action="retry", outcome="done").count() == 3


def test_retry_filters_by_ids_type_and_since(enqueued):
    # given
    payment = PaymentFactory()
    with freeze_time(timezone.now() - timedelta(hours=3)):
        old = stored_stripe_event(
            StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment), status="failed"
        )
    recent = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment), status="failed"
    )
    other_type = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)

    # when
    _run("retry_stripe_events", "--type", StripeEventType.PAYMENT_INTENT_SUCCEEDED, "--since", "1h")
    _run("retry_stripe_events", "--ids", str(other_type.pk))

    # then
    assert enqueued == [recent.pk, other_type.pk]
    assert StripeEvent.objects.get(pk=old.pk).status == StripeEvent.Status.FAILED


def test_retry_reports_rows_with_nothing_to_do_as_skipped(enqueued):
    # given
    processed = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.PROCESSED)

    # when
    out = _run("retry_stripe_events", "--ids", processed.stripe_id)

    # then
    assert "0 enqueued, 1 skipped, 0 errors" in out and enqueued == []


def test_retry_of_an_unknown_id_exits_non_zero(enqueued):
    with pytest.raises(CommandError, match="evt_nope"):
        _run("retry_stripe_events", "--ids", "evt_nope")


def test_retry_with_the_broker_down_exits_non_zero(broker_down):
    # given
    stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)

    # when / then
    with pytest.raises(CommandError, match="0 enqueued, 0 skipped, 1 errors"):
        _run("retry_stripe_events", "--failed")


def test_retry_rejects_a_bad_since():
    with pytest.raises(CommandError, match="neither a duration"):
        _run("retry_stripe_events", "--since", "yesterday-ish")


# reconcile_payments


def test_reconcile_dry_run_lists_stale_pending_payments(webhooks_off):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=30)):
        payment, _ = paid_payment()
    fresh, _ = paid_payment()

    # when
    out = _run("reconcile_payments", "--older-than", "10m", "--dry-run")

    # then
    assert f"would reconcile payment {payment.pk}" in out and f"payment {fresh.pk} " not in out
    assert "1 payments would be reconciled (dry run)" in out
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_reconcile_applies_stripe_state_to_stale_pending_payments(webhooks_off):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=30)):
        payment, _ = paid_payment()
    fresh, _ = paid_payment()

    # when
    out = _run("reconcile_payments")

    # then
    assert "1 reconciled, 0 skipped, 0 errors" in out
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Payment.objects.get(pk=fresh.pk).status == Payment.Status.PENDING
    assert OperatorAction.objects.get().payment_id == payment.pk


def test_reconcile_exits_non_zero_when_stripe_refuses(webhooks_off):
    # given
    with freeze_time(timezone.now() - timedelta(minutes=30)):
        PaymentFactory(payment_intent_id="pi_unknown_to_stripe")

    # when / then
    with pytest.raises(CommandError, match="0 reconciled, 0 skipped, 1 errors"):
        _run("reconcile_payments")


# catch_up_stripe_events


def test_catch_up_dry_run_stores_nothing(webhooks_off, enqueued):
    # given
    _, intent = paid_payment()

    # when
    out = _run("catch_up_stripe_events", "--since", "5m", "--dry-run")

    # then
    assert "would store evt_" in out and "(dry run)" in out
    assert not StripeEvent.objects.filter(payment_intent_id=intent["id"]).exists() and enqueued == []


def test_catch_up_stores_and_enqueues_missed_events(webhooks_off, enqueued):
    # given
    _, intent = paid_payment()

    # when
    out = _run("catch_up_stripe_events", "--since", "5m")

    # then
    row = StripeEvent.objects.get(payment_intent_id=intent["id"])
    assert row.status == StripeEvent.Status.ENQUEUED and row.pk in enqueued
    assert re.search(r": (\d+) missed, \1 stored, \1 enqueued, 0 errors\.", out), out
    # Nothing is missing any more.
    assert "0 missed, 0 stored" in _run("catch_up_stripe_events", "--since", "5m")


def test_catch_up_requires_since():
    with pytest.raises(CommandError, match="--since"):
        _run("catch_up_stripe_events")


def test_catch_up_exits_non_zero_when_stripe_cannot_be_reached(settings):
    # given
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"

    # when / then
    with pytest.raises(CommandError, match="could not be listed"):
        _run("catch_up_stripe_events", "--since", "1h")


# --actor


@pytest.mark.parametrize(
    "command",
    [("retry_stripe_events", "--failed"), ("reconcile_payments",), ("catch_up_stripe_events", "--since", "5m")],
    ids=lambda c: c[0],
)
def test_off_a_terminal_a_command_that_changes_things_needs_actor(command, enqueued, webhooks_off):
    # given: a row a retry would change (stdin is not a terminal under pytest, as in a script or cron)
    stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)

    # when / then: refused before anything is done
    with pytest.raises(CommandError, match="--actor is required"):
        _run(*command, actor=None)
    assert enqueued == [] and not OperatorAction.objects.exists()
    # A dry run changes nothing and needs no actor.
    assert "(dry run)" in _run(*command, "--dry-run", actor=None)


def test_the_actor_is_the_person_named_in_the_audit_trail(enqueued):
    # given
    stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)

    # when
    _run("retry_stripe_events", "--failed", actor="Ada Lovelace (INC-42)")

    # then
    record = OperatorAction.objects.get()
    assert record.actor == "Ada Lovelace (INC-42) (manage.py retry_stripe_events)"
    assert record.automatic is False


def test_on_a_terminal_the_os_account_stands_in_for_a_missing_actor(enqueued, monkeypatch):
    # given: an operator at a terminal
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)

    # when
    _run("retry_stripe_events", "--failed", actor=None)

    # then
    assert OperatorAction.objects.get().actor.startswith("manage.py retry_stripe_events (")
