"""The operators' console through Django's test client: lists, filters, search, actions, audit trail, permissions."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent
from payments.services import checkout
from tests.conftest import operator_login, pay_at_localstripe
from tests.factories import (
    EventFactory,
    PaymentFactory,
    UserFactory,
    payment_intent_object,
    stored_stripe_event,
    stored_thin_event,
)

pytestmark = pytest.mark.django_db

INBOX = reverse("admin:payments_stripeevent_changelist")
PAYMENTS = reverse("admin:payments_payment_changelist")
AUDIT = reverse("admin:payments_operatoraction_changelist")
CUSTOMER = {"id": "cus_1", "object": "customer"}


@pytest.fixture
def operator(operator_client):
    """The admin's session (password and a verified second factor) of a superuser, olga."""
    return operator_client


def _failed_row(**fields) -> StripeEvent:
    payment = PaymentFactory()
    return stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment),
        status=StripeEvent.Status.FAILED, attempts=9, last_error="OperationalError: the database went away", **fields,
    )  # fmt: skip


def _act(client, url: str, action: str, rows, **extra):
    return client.post(url, {"action": action, "_selected_action": [r.pk for r in rows], **extra}, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_inbox_list_shows_what_failed_and_why(operator):
    # given
    failed = _failed_row()
    stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.PROCESSED)

    # when
    response = operator.get(INBOX)

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert "Webhook inbox: 1 failed" in page
    for text in (
        failed.stripe_id,
        failed.payment_intent_id,
        "OperationalError: the database went away",
        "customer.created",
    ):
        assert text in page
    payment = Payment.objects.get(payment_intent_id=failed.payment_intent_id)
    assert reverse("admin:payments_payment_change", args=[payment.pk]) in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status__exact": "failed"}, {"failed"}),
        ({"type__exact": "customer.created"}, {"old"}),
        ({"received_at_age": "gt5m"}, {"old"}),
        ({"received_at_age": "lt5m"}, {"failed"}),
    ],
)
def test_inbox_filters_by_status_type_and_age(operator, query, expected):
    # given
    rows = {"failed": _failed_row()}
    with freeze_time(timezone.now() - timedelta(hours=2)):
        rows["old"] = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.PROCESSED)

    # when
    response = operator.get(INBOX, query)

    # then
    shown = {name for name, row in rows.items() if row.stripe_id in response.content.decode()}
    assert response.status_code == 200 and shown == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"pinned", "drifted", "thin"}),
        ({"kind__exact": "thin"}, {"thin"}),
        ({"kind__exact": "snapshot"}, {"pinned", "drifted"}),
        ({"api_version_drift": "pinned"}, {"pinned"}),
        ({"api_version_drift": "other"}, {"drifted"}),
    ],
)
def test_inbox_filters_by_payload_kind_and_flags_api_version_drift(operator, query, expected):
    # given: a snapshot at the pinned version, one rendered at localstripe's old version, a thin event
    rows = {
        "pinned": _failed_row(),
        "drifted": _failed_row(api_version="2017-08-15"),
        "thin": stored_thin_event("v1.payment_intent.succeeded", related_object_id="pi_thin"),
    }

    # when
    response = operator.get(INBOX, query)

    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert {name for name, row in rows.items() if row.stripe_id in page} == expected
    if "drifted" in expected:
        assert "⚠ 2017-08-15" in page
    if "thin" in expected:
        assert "thin event (unversioned)" in page


def test_a_thin_row_shows_its_related_object(operator):
    row = stored_thin_event("v1.charge.refunded", related_object_id="ch_3MmlLrLkdIwHu7ix0snN0B15")

    page = operator.get(reverse("admin:payments_stripeevent_change", args=[row.pk])).content.decode()

    assert "ch_3MmlLrLkdIwHu7ix0snN0B15" in page and "charge" in page and "Thin" in page


@pytest.mark.parametrize("field", ["stripe_id", "payment_intent_id"])
def test_inbox_search_by_event_or_payment_intent_id(operator, field):
    # given
    wanted, other = _failed_row(), _failed_row()

    # when
    response = operator.get(INBOX, {"q": getattr(wanted, field)})

    # then
    page = response.content.decode()
    assert wanted.stripe_id in page and other.stripe_id not in page


def test_inbox_row_shows_the_payload_as_formatted_json_and_its_audit_trail(operator, enqueued, tasks_in_process):
    # given
    row = _failed_row()
    _act(operator, INBOX, "retry_processing", [row])

    # when
    response = operator.get(reverse("admin:payments_stripeevent_change", args=[row.pk]))

    # then
    page = response.content.decode()
    pretty = json.dumps(json.loads(row.payload), indent=2, sort_keys=True)
    assert response.status_code == 200
    assert pretty.replace('"', "&quot;").splitlines()[1] in page
    assert "olga" in page and "Retry processing" in page and "done" in page


def test_retry_processing_action_on_many_rows(operator, enqueued, tasks_in_process):
    # given
    rows = [_failed_row() for _ in range(3)]
    done = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.PROCESSED)

    # when: the bulk retry is handed to a worker (here run at once, in-process)
    response = _act(operator, INBOX, "retry_processing", [*rows, done])

    # then
    [message] = _messages(response)
    assert message.startswith("Retry processing: 3 rows handed to a worker;") and "task results" not in message
    assert "its outcome" in message
    assert sorted(enqueued) == sorted(r.pk for r in rows)
    for row in StripeEvent.objects.filter(pk__in=[r.pk for r in rows]):
        assert row.status == StripeEvent.Status.ENQUEUED and row.attempts == 9
    actions = OperatorAction.objects.filter(action="retry")
    assert (
        actions.count() == 3
        and {a.actor for a in actions} == {"olga"}
        and {a.operator.username for a in actions} == {"olga"}
    )
    assert "Retry processing by olga" in response.content.decode()


def test_retry_processing_with_the_broker_down_changes_nothing(operator, broker_down):
    # given
    row = _failed_row()

    # when
    response = _act(operator, INBOX, "retry_processing", [row])

    # then
    [message] = _messages(response)
    assert "the broker is unavailable" in message
    assert (
        StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.FAILED and not OperatorAction.objects.exists()
    )


def test_inbox_links_to_the_task_results_of_bulk_retries_and_beat(operator):
    page = operator.get(INBOX).content.decode()

    assert reverse("admin:django_celery_results_taskresult_changelist") in page


def test_mark_ignored_needs_a_reason(operator):
    # given
    row = _failed_row()

    # when
    response = _act(operator, INBOX, "mark_ignored", [row], reason="")

    # then
    assert "A reason is required to mark an event ignored." in _messages(response)
    assert StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.FAILED
    assert not OperatorAction.objects.exists()


def test_mark_ignored_records_the_reason(operator):
    # given
    row = _failed_row()

    # when
    response = _act(operator, INBOX, "mark_ignored", [row], reason="Refunded by hand in the dashboard")

    # then
    assert "Mark ignored: 1 done, 0 skipped, 0 errors." in _messages(response)
    assert StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.IGNORED
    record = OperatorAction.objects.get()
    assert (record.action, record.reason, record.actor) == ("ignore", "Refunded by hand in the dashboard", "olga")


def test_refetch_action_applies_stripe_state(operator, webhooks_off):
    # given: a payment that succeeded at Stripe, whose event failed here
    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    assert pay_at_localstripe(started.client_secret, "4242424242424242")[0] == 200
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED,
        payment_intent_object(started.payment),
        status=StripeEvent.Status.FAILED,
    )
    not_an_intent = stored_stripe_event("customer.created", CUSTOMER, status=StripeEvent.Status.FAILED)

    # when
    response = _act(operator, INBOX, "refetch_and_rerun", [row, not_an_intent])

    # then
    assert "Re-fetch from Stripe: 1 done, 1 skipped, 0 errors." in _messages(response)
    assert StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.PROCESSED
    assert Payment.objects.get(pk=started.payment.pk).status == Payment.Status.SUCCEEDED


def test_payments_list_filters_links_and_reconcile_action(operator, webhooks_off):
    # given
    event = EventFactory(title="Launch party")
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    assert pay_at_localstripe(started.client_secret, "4242424242424242")[0] == 200
    succeeded = PaymentFactory(status=Payment.Status.SUCCEEDED)

    # when
    listed = operator.get(PAYMENTS, {"status__exact": "pending"}).content.decode()
    searched = operator.get(PAYMENTS, {"q": succeeded.payment_intent_id}).content.decode()
    response = _act(operator, PAYMENTS, "reconcile_now", [started.payment])

    # then
    assert started.payment.payment_intent_id in listed and succeeded.payment_intent_id not in listed
    assert "Launch party" in listed
    assert f"{INBOX}?q={started.payment.payment_intent_id}" in listed
    assert succeeded.payment_intent_id in searched and started.payment.payment_intent_id not in searched
    assert "Reconcile with Stripe: 1 done, 0 skipped, 0 errors." in _messages(response)
    assert Payment.objects.get(pk=started.payment.pk).status == Payment.Status.SUCCEEDED
    assert OperatorAction.objects.get().payment_id == started.payment.pk
    assert "olga" in operator.get(AUDIT).content.decode()


def test_a_non_staff_user_reaches_none_of_it(enqueued):
    # given
    row = _failed_row()
    client = Client()
    client.force_login(UserFactory())

    # when
    pages = [
        client.get(url) for url in (INBOX, PAYMENTS, AUDIT, reverse("admin:payments_stripeevent_change", args=[row.pk]))
    ]
    posted = client.post(INBOX, {"action": "retry_processing", "_selected_action": [row.pk]})

    # then
    assert {p.status_code for p in pages} == {302} and all("/admin/login/" in p["Location"] for p in pages)
    assert posted.status_code == 302
    assert enqueued == [] and StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.FAILED


def test_anonymous_is_sent_to_log_in(enqueued):
    # given
    row = _failed_row()

    # when
    response = Client().post(INBOX, {"action": "mark_ignored", "_selected_action": [row.pk], "reason": "x"})

    # then
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.FAILED


def test_staff_without_permissions_cannot_see_or_act(enqueued):
    # given
    row = _failed_row()
    client = Client()
    operator_login(client, UserFactory(is_staff=True))

    # when
    pages = [client.get(url) for url in (INBOX, PAYMENTS, AUDIT)]
    posted = client.post(INBOX, {"action": "retry_processing", "_selected_action": [row.pk]})

    # then
    assert {p.status_code for p in pages} == {403} and posted.status_code == 403
    assert enqueued == []


def test_staff_who_may_only_view_cannot_act(enqueued):
    # given
    row = _failed_row()
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_stripeevent"))
    client = Client()
    operator_login(client, viewer)

    # when
    listed = client.get(INBOX)
    posted = client.post(INBOX, {"action": "retry_processing", "_selected_action": [row.pk]})

    # then
    assert listed.status_code == 200 and "Retry processing" not in listed.content.decode()
    assert enqueued == [] and StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.FAILED
    assert posted.status_code in (200, 302)
