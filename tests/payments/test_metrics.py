"""`/api/metrics`: values after a known sequence of webhook deliveries, processing and failures."""

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time
from prometheus_client.parser import text_string_to_metric_families

from payments import metrics as payment_metrics
from payments import queue, stripe_gateway
from payments.consts import StripeEventType
from payments.models import Notification, Payment, StripeEvent
from payments.services import fulfilment, inbox, retries
from payments.services.audit import Actor
from payments.services.fulfilment_batch import stripe_events_fulfil
from tests.conftest import ROOT, _test_database_url
from tests.factories import (
    PaymentFactory,
    UserFactory,
    payment_intent_object,
    stored_stripe_event,
    stripe_event_body,
    thin_event_body,
)
from tests.query_plans import unbounded_scans

pytestmark = pytest.mark.django_db

WEBHOOK = reverse("stripe-webhook")


@pytest.fixture(autouse=True)
def _scraper_allowed(settings):
    # The test client connects from 127.0.0.1; who may scrape is tests/core/test_metrics_access.py's subject.
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def scrape(client=None) -> dict[tuple[str, tuple], float]:
    response = (client or Client()).get("/api/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def deliver(client: Client, body: dict, secret: str = "whsec_test_current"):
    payload = json.dumps(body)
    return client.post(
        WEBHOOK, data=payload, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_gateway.sign_payload(payload, secret),
    )  # fmt: skip


def delivered(metrics: dict, event_type: str, result: str) -> float:
    return metrics.get(("eventpay_webhook_deliveries_total", (("result", result), ("type", event_type))), 0.0)


def counted(metrics: dict, name: str, **labels) -> float:
    """A counter's value (0 before its first increment: counters are kept by the process)."""
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_a_known_sequence_of_events(enqueued, django_capture_on_commit_callbacks):
    # given
    before = scrape()
    client = Client()
    start = timezone.now()
    ok, mismatched = PaymentFactory(), PaymentFactory()
    ok_event = stripe_event_body(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(ok))
    bad_event = stripe_event_body(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(mismatched, amount_received=100)
    )
    with freeze_time(start) as clock, django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, ok_event).status_code == 200
        assert deliver(client, ok_event).status_code == 200  # Stripe delivered it twice
        assert deliver(client, bad_event).status_code == 200
        assert deliver(client, ok_event, secret="whsec_wrong").status_code == 400
        clock.tick(3)
        fulfilment.process_stripe_event(stripe_event_id=enqueued[0])
        clock.tick(40)
        inbox.stripe_event_record_attempt(stripe_event_id=enqueued[1], error="OperationalError: gone")  # retried
        fulfilment.process_stripe_event(stripe_event_id=enqueued[1])
        fulfilment.process_stripe_event(stripe_event_id=enqueued[1])  # a redelivered task fails the open row again
    with freeze_time(start - timedelta(minutes=10)):
        stored_stripe_event(
            "customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.ENQUEUED
        )

    # when
    with freeze_time(start + timedelta(seconds=60)):
        metrics = scrape()

    # then
    type_ = StripeEventType.PAYMENT_INTENT_SUCCEEDED

    def added(name: str, **labels) -> float:
        return counted(metrics, name, **labels) - counted(before, name, **labels)

    assert delivered(metrics, type_, "stored") - delivered(before, type_, "stored") == 2
    assert delivered(metrics, type_, "duplicate") - delivered(before, type_, "duplicate") == 1
    assert (
        delivered(metrics, "unverified", "signature_mismatch") - delivered(before, "unverified", "signature_mismatch")
        == 1
    )
    assert delivered(metrics, "unverified", "invalid") == delivered(before, "unverified", "invalid")
    assert metrics[("eventpay_stripe_events", (("status", "failed"),))] == 1
    assert metrics[("eventpay_stripe_events", (("status", "enqueued"),))] == 1
    assert metrics[("eventpay_stripe_events", (("status", "received"),))] == 0
    assert added("eventpay_stripe_events_closed_total", type=type_, status="processed") == 1
    assert added("eventpay_stripe_events_closed_total", type=type_, status="failed") == 2
    assert metrics[("eventpay_stripe_event_oldest_unprocessed_age_seconds", ())] == pytest.approx(660, abs=1)
    histogram = "eventpay_stripe_event_fulfilment_latency_seconds"
    assert added(f"{histogram}_bucket", type=type_, le="2.5") == 0
    assert added(f"{histogram}_bucket", type=type_, le="5.0") == 1
    assert added(f"{histogram}_bucket", type=type_, le="+Inf") == 1
    assert added(f"{histogram}_count", type=type_) == 1
    assert added(f"{histogram}_sum", type=type_) == pytest.approx(3)
    assert added("eventpay_stripe_event_task_retries_total", error="OperationalError") == 1
    assert metrics[("eventpay_payments", (("status", "pending"),))] == 1  # the mismatched one stays open
    assert metrics[("eventpay_payments", (("status", "failed"),))] == 0
    assert metrics[("eventpay_payment_mismatches", ())] == 1
    assert metrics[("eventpay_alert", (("alert", "stripe_event_failed"),))] == 1
    assert metrics[("eventpay_alert", (("alert", "stripe_event_backlog"),))] == 1
    assert metrics[("eventpay_alert", (("alert", "payment_mismatch"),))] == 1
    assert metrics[("eventpay_metrics_database_up", ())] == 1


def test_rows_per_message_and_per_transaction_are_counted(django_capture_on_commit_callbacks, monkeypatch):
    # given: three stored events, a worker woken for them, and one more
    published: list[list[int]] = []
    monkeypatch.setattr(queue, "stripe_events_process", lambda *, stripe_event_ids: published.append(stripe_event_ids))
    before = scrape()
    organiser = UserFactory()
    rows = [
        stored_stripe_event(
            StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(PaymentFactory(event__owner=organiser))
        )
        for _ in range(4)
    ]

    # when
    inbox.stripe_events_wake_workers([row.pk for row in rows[:3]])
    with django_capture_on_commit_callbacks(execute=True):
        stripe_events_fulfil(stripe_event_ids=[row.pk for row in rows[:3]])
        fulfilment.process_stripe_event(stripe_event_id=rows[3].pk)
    metrics = scrape()

    # then
    def added(name: str, **labels) -> float:
        return counted(metrics, name, **labels) - counted(before, name, **labels)

    assert published == [[row.pk for row in rows[:3]]]
    assert added("eventpay_stripe_event_wake_ups_total", result="sent") == 1
    group = "eventpay_hand_over_group_size"
    assert added(f"{group}_count", rows="stripe_event") == 1
    assert added(f"{group}_sum", rows="stripe_event") == 3
    assert added(f"{group}_bucket", rows="stripe_event", le="2.0") == 0
    assert added(f"{group}_bucket", rows="stripe_event", le="4.0") == 1
    per_transaction = "eventpay_stripe_events_per_transaction"
    assert added(f"{per_transaction}_count", path="batch") == 1
    assert added(f"{per_transaction}_sum", path="batch") == 3
    assert added(f"{per_transaction}_count", path="alone") == 1
    assert added(f"{per_transaction}_sum", path="alone") == 1


def test_a_change_rolled_back_is_not_counted(enqueued, django_capture_on_commit_callbacks):
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    before = scrape()

    def close_then_fail():
        with transaction.atomic():
            inbox.stripe_event_close(stripe_event_id=row.pk, outcome=inbox.Outcome.processed())
            raise RuntimeError("the worker died before COMMIT")

    # when: the processing transaction fails after the row was closed
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        close_then_fail()

    # then
    closed = ("eventpay_stripe_events_closed_total", "processed")
    assert counted(scrape(), closed[0], type=row.type, status=closed[1]) == counted(
        before, closed[0], type=row.type, status=closed[1]
    )
    assert StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.RECEIVED


def test_alerts_are_quiet_when_all_is_well(enqueued):
    # given
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment))
    fulfilment.process_stripe_event(stripe_event_id=row.pk)

    # when
    metrics = scrape()

    # then
    assert {labels: v for (name, labels), v in metrics.items() if name == "eventpay_alert"} == {
        (("alert", "stripe_event_failed"),): 0,
        (("alert", "stripe_event_backlog"),): 0,
        (("alert", "payment_mismatch"),): 0,
    }
    assert metrics[("eventpay_stripe_event_oldest_unprocessed_age_seconds", ())] == 0


def test_a_mismatch_fixed_by_an_operator_no_longer_alerts(enqueued, django_capture_on_commit_callbacks):
    # given: the mismatched row is ignored by an operator after checking the dashboard
    payment = PaymentFactory()
    row = stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(payment, currency="eur"))
    fulfilment.process_stripe_event(stripe_event_id=row.pk)
    before = scrape()
    assert before[("eventpay_payment_mismatches", ())] == 1

    # when
    with django_capture_on_commit_callbacks(execute=True):
        retries.stripe_event_ignore(stripe_event=row, actor=Actor("olga"), reason="checked by hand")

    # then
    metrics = scrape()
    assert metrics[("eventpay_payment_mismatches", ())] == 0
    ignored = {"action": "ignore", "outcome": "done"}
    assert (
        counted(metrics, "eventpay_operator_actions_total", **ignored)
        - counted(before, "eventpay_operator_actions_total", **ignored)
        == 1
    )
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def drifted(metrics: dict, api_version: str) -> float:
    return metrics.get(("eventpay_stripe_event_api_version_drift_total", (("api_version", api_version),)), 0.0)


def test_snapshot_events_stored_at_another_api_version_are_counted_by_version(enqueued, settings):
    # given
    settings.STRIPE_THIN_WEBHOOK_SECRETS = ["whsec_thin_current"]
    before = scrape()
    client = Client()
    old = {
        **stripe_event_body("payment_intent.succeeded", payment_intent_object(PaymentFactory())),
        "api_version": "2017-08-15",
    }
    thin = json.dumps(thin_event_body("v1.payment_intent.succeeded"))

    # when: one at the pinned version, one at localstripe's (delivered twice), a thin event (unversioned), and one
    # caught up from Stripe's event list at yet another version
    assert (
        deliver(
            client, stripe_event_body("payment_intent.succeeded", payment_intent_object(PaymentFactory()))
        ).status_code
        == 200
    )
    assert deliver(client, old).status_code == 200
    assert deliver(client, old).status_code == 200
    signature = stripe_gateway.sign_payload(thin, "whsec_thin_current")
    thin_response = client.post(
        reverse("stripe-thin-webhook"), data=thin, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert thin_response.status_code == 200
    caught_up = {
        **stripe_event_body("charge.refunded", {"id": "ch_1", "object": "charge"}),
        "api_version": "2024-06-20",
    }
    assert inbox.stripe_event_store(event=caught_up, payload=json.dumps(caught_up).encode()) is not None
    metrics = scrape()

    # then: each stored drifted event once, by its version; nothing for the pinned version or the thin event
    assert drifted(metrics, "2017-08-15") - drifted(before, "2017-08-15") == 1
    assert drifted(metrics, "2024-06-20") - drifted(before, "2024-06-20") == 1
    assert drifted(metrics, stripe_gateway.API_VERSION) == 0
    assert drifted(metrics, "none") == drifted(before, "none")  # the thin event has no version and is not counted


def test_emails_not_sent_are_counted_by_status():
    # given
    payment = PaymentFactory()
    for kind, status in [
        (Notification.Kind.LIVE, Notification.Status.FAILED),
        (Notification.Kind.REFUNDED, Notification.Status.PENDING),
        (Notification.Kind.PAYMENT_FAILED, Notification.Status.SENT),
    ]:
        Notification.objects.create(
            user=payment.user, payment=payment, kind=kind, to_email=payment.user.email, status=status
        )
    Notification.objects.create(
        user=payment.user, kind=Notification.Kind.EMAIL_VERIFICATION, to_email=payment.user.email,
        status=Notification.Status.SENDING, claimed_at=timezone.now(),
    )  # fmt: skip

    # when
    metrics = scrape()

    # then
    assert metrics[("eventpay_notifications", (("status", "failed"),))] == 1
    assert metrics[("eventpay_notifications", (("status", "pending"),))] == 1
    assert metrics[("eventpay_notifications", (("status", "sending"),))] == 1
    assert ("eventpay_notifications", (("status", "sent"),)) not in metrics


def test_a_delivery_with_a_malformed_signature_header_is_invalid_not_a_mismatch():
    # given
    before = scrape()

    # when
    response = Client().post(WEBHOOK, data="{}", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1")

    # then
    metrics = scrape()
    assert response.status_code == 400
    assert delivered(metrics, "unverified", "invalid") - delivered(before, "unverified", "invalid") == 1
    assert delivered(metrics, "unverified", "signature_mismatch") == delivered(
        before, "unverified", "signature_mismatch"
    )


def test_metrics_answers_other_methods_with_405_and_detail():
    response = Client().post("/api/metrics")
    assert response.status_code == 405 and "detail" in response.json()


def test_deliveries_are_summed_over_processes_in_multiprocess_mode(tmp_path, django_db_setup):
    # given: two web processes each counted deliveries in the shared directory
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DATABASE_URL": _test_database_url()}
    setup = "import django; django.setup()\nfrom core import metrics\nfrom payments.metrics import WEBHOOK_DELIVERIES\n"
    for count in (2, 3):
        code = setup + f"WEBHOOK_DELIVERIES.labels(type='payment_intent.succeeded', result='stored').inc({count})"
        subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60)

    # when: a third process serves the scrape
    code = setup + textwrap.dedent(
        """
        from django.test import RequestFactory
        print(metrics.metrics_view(RequestFactory().get('/api/metrics')).content.decode())
        """
    )
    scraped = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=60, capture_output=True, text=True
    )

    # then
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.stdout)
        for s in family.samples
    }
    assert (
        samples[("eventpay_webhook_deliveries_total", (("result", "stored"), ("type", "payment_intent.succeeded")))]
        == 5
    )
    assert samples[("eventpay_metrics_database_up", ())] == 1


def _seed_every_kind_of_row(rows_per_status: int) -> None:
    for status in StripeEvent.Status.values:
        for _ in range(rows_per_status):
            stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=status)
    owner = UserFactory()
    for status in Payment.Status.values:
        PaymentFactory.create_batch(
            rows_per_status, status=status, event__owner=owner, last_error="declined" if status == "failed" else ""
        )


def test_every_query_of_a_scrape_is_answered_by_an_index():
    # given
    _seed_every_kind_of_row(3)

    # when
    with CaptureQueriesContext(connection) as queries:
        scrape()

    # then
    tables = {StripeEvent._meta.db_table, Payment._meta.db_table, Notification._meta.db_table}
    read = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("EXPLAIN")]
    assert read and all(any(t in sql for t in tables) for sql in read)
    assert {sql: unbounded_scans(sql, tables) for sql in read} == {sql: [] for sql in read}


def test_a_scrape_runs_the_same_queries_whatever_the_inbox_holds():
    # given
    _seed_every_kind_of_row(1)
    with CaptureQueriesContext(connection) as small:
        scrape()
    _seed_every_kind_of_row(20)

    # when
    with CaptureQueriesContext(connection) as large:
        scrape()

    # then
    assert len(large.captured_queries) == len(small.captured_queries)


def test_counts_beyond_the_exact_limit_are_postgresqls_estimate(monkeypatch):
    # given: more failed rows than are counted exactly, and fresh statistics
    monkeypatch.setattr(payment_metrics, "EXACT_COUNT_UP_TO", 10)
    for _ in range(40):
        stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"}, status=StripeEvent.Status.FAILED)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {StripeEvent._meta.db_table}")

    # when
    failed = scrape()[("eventpay_stripe_events", (("status", "failed"),))]

    # then
    assert 10 < failed <= 400
