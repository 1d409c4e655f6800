"""A real worker's metrics endpoint: what its pool processes counted, summed, and nothing of an earlier run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from offline import processes
from offline.net import free_port
from payments.consts import StripeEventType
from payments.models import StripeEvent
from tests.conftest import ROOT, wait_until
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event
from worker.tasks import process_stripe_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUEUE = "worker-metrics-test"  # a queue of its own: the session's worker takes none of these tasks


@pytest.fixture
def metrics_worker(request, worker_env, broker, tmp_path):
    """A worker with two pool processes, its own metrics directory (holding a file left by an earlier run)
    and its metrics port; `indirect` parametrization adds worker options."""
    directory = tmp_path / "metrics"
    env = {
        **worker_env,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "WORKER_METRICS_PORT": str(free_port()),
        "WORKER_METRICS_ADDR": "127.0.0.1",
    }
    directory.mkdir()
    earlier_run = """
        import django; django.setup()
        from payments.metrics import STRIPE_EVENTS_CLOSED
        STRIPE_EVENTS_CLOSED.labels(type="payment_intent.succeeded", status="processed").inc(1000)
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(earlier_run)], env=env, cwd=ROOT, check=True, timeout=60)
    assert list(directory.glob("counter_*.db"))
    process = processes.start_celery_worker(
        env=env,
        log_path=tmp_path / "worker.log",
        name="metrics",
        concurrency=2,
        extra_args=("--queues", QUEUE, *getattr(request, "param", ())),
    )
    yield f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/metrics"
    processes.stop(process)


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _process(rows: list[StripeEvent]) -> None:
    for row in rows:
        process_stripe_event.apply_async(args=[row.pk], queue=QUEUE)
    pks = [row.pk for row in rows]
    wait_until(
        lambda: not StripeEvent.objects.filter(pk__in=pks, status__in=StripeEvent.UNFINISHED_STATUSES).exists(),
        timeout=60,
        message="the worker to process the rows",
    )


def test_the_worker_serves_what_its_pool_processes_counted(metrics_worker):
    # given
    rows = [
        stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(PaymentFactory()))
        for _ in range(4)
    ]
    ignored = stored_stripe_event("customer.created", {"id": "cus_1", "object": "customer"})

    # when
    _process([*rows, ignored])

    # then
    latency = "eventpay_stripe_event_fulfilment_latency_seconds"
    metrics = wait_until(
        lambda: (
            (m := _scrape(metrics_worker))
            and m.get((f"{latency}_count", (("type", StripeEventType.PAYMENT_INTENT_SUCCEEDED),))) == 4
            and m
        ),
        message="the pool processes' values",
    )
    closed = "eventpay_stripe_events_closed_total"
    assert metrics[(closed, (("status", "processed"), ("type", StripeEventType.PAYMENT_INTENT_SUCCEEDED)))] == 4
    assert metrics[(closed, (("status", "ignored"), ("type", "customer.created")))] == 1
    assert metrics[(f"{latency}_bucket", (("le", "+Inf"), ("type", StripeEventType.PAYMENT_INTENT_SUCCEEDED)))] == 4


@pytest.mark.parametrize("metrics_worker", [("--max-tasks-per-child", "1")], indirect=True)
def test_pool_processes_replaced_leave_their_counts_and_not_their_files(metrics_worker, tmp_path):
    # given: every pool process exits after one task and is replaced
    rows = [
        stored_stripe_event(StripeEventType.PAYMENT_INTENT_SUCCEEDED, payment_intent_object(PaymentFactory()))
        for _ in range(6)
    ]

    # when
    _process(rows)

    # then: the six processes' counts, in the archive and the two live processes' files at most
    closed = ("eventpay_stripe_events_closed_total", (("status", "processed"), ("type", rows[0].type)))
    wait_until(lambda: _scrape(metrics_worker).get(closed) == 6, message="the replaced processes' counts")
    counters = sorted(path.name for path in (tmp_path / "metrics").glob("counter_*.db"))
    assert "counter_archive.db" in counters and len(counters) <= 3, counters
