"""SIGTERM to a worker in the middle of a task: the task finishes, or its message goes back to Redis for the
next worker; it is never lost and never applied twice.

The worker runs as docker-compose.yml runs it (REMAP_SIGTERM=SIGQUIT: SIGTERM starts Celery's soft shutdown),
on a Redis server of its own, so the queue can be read without other tests' messages. The task is real
fulfilment work: the test holds the inbox row's lock, so `process_stripe_event` blocks on it while running.
"""

from __future__ import annotations

import signal
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis
from django.db import connection

from offline import processes
from offline.net import free_port
from payments.models import Payment, StripeEvent
from tests.conftest import wait_until
from tests.factories import PaymentFactory, payment_intent_object, stored_stripe_event
from worker.celery import app
from worker.tasks import process_stripe_event

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOFT_SHUTDOWN_SECONDS = 2
QUEUE = "celery"


@dataclass
class PrivateRedis:
    url: str
    client: redis.Redis

    def queued(self) -> int:
        return self.client.llen(QUEUE)

    def unacked(self) -> int:
        return self.client.hlen("unacked")


@pytest.fixture
def private_redis(tmp_path):
    port = free_port()
    process = processes.start_redis(port=port, directory=tmp_path / "redis", log_path=tmp_path / "redis.log")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    yield PrivateRedis(url=url, client=client)
    client.close()
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def shutdown_env(worker_env, private_redis) -> dict[str, str]:
    return {
        **worker_env,
        "REDIS_URL": private_redis.url,
        "REMAP_SIGTERM": "SIGQUIT",
        "CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT": str(SOFT_SHUTDOWN_SECONDS),
    }


@pytest.fixture
def workers(shutdown_env, celery_workers):
    """Starts worker processes on the private Redis (one pool process each)."""

    def start(name: str) -> tuple[subprocess.Popen, Path]:
        worker = celery_workers(shutdown_env, name, concurrency=1)
        return worker.process, worker.log_path

    return start


@contextmanager
def row_locked(row: StripeEvent):
    """Holds the inbox row's lock from another connection, as a long transaction elsewhere would."""
    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"]) as holder:
        holder.execute(f"SELECT id FROM {StripeEvent._meta.db_table} WHERE id = %s FOR UPDATE", [row.pk])
        yield holder.info.backend_pid
        holder.rollback()


def someone_waits_on(backend_pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [backend_pid])
        return cursor.fetchone()[0] > 0


def enqueue(row: StripeEvent, broker_url: str) -> str:
    with app.connection_for_write(broker_url) as broker:
        return process_stripe_event.apply_async((row.pk,), connection=broker).id


def succeeded_in(log_path: Path, task_id: str) -> int:
    return log_path.read_text(errors="replace").count(f"[{task_id}] succeeded")


def assert_processed_once(row: StripeEvent, payment: Payment) -> None:
    row.refresh_from_db()
    payment.refresh_from_db()
    assert row.status == StripeEvent.Status.PROCESSED
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.event.is_active is True


@pytest.fixture
def paid_event_row():
    payment = PaymentFactory()
    row = stored_stripe_event("payment_intent.succeeded", payment_intent_object(payment))
    return row, payment


def test_a_task_that_ends_within_the_soft_shutdown_finishes_before_the_worker_exits(
    workers, private_redis, paid_event_row
):
    # given: the worker is running the task, blocked on the row
    row, payment = paid_event_row
    worker, log_path = workers("worker")
    with row_locked(row) as holder:
        task_id = enqueue(row, private_redis.url)
        wait_until(lambda: someone_waits_on(holder), message="the task to block on the row lock")

        # when: SIGTERM, and the row is released while the soft shutdown waits
        worker.send_signal(signal.SIGTERM)
        wait_until(lambda: "Initiating Soft Shutdown" in log_path.read_text(errors="replace"), message="soft shutdown")

    # then: the task finished, the worker exited, nothing is left in Redis to run it again
    worker.wait(timeout=SOFT_SHUTDOWN_SECONDS + 20)
    assert_processed_once(row, payment)
    assert succeeded_in(log_path, task_id) == 1
    row.refresh_from_db()
    assert row.attempts == 1
    assert (private_redis.queued(), private_redis.unacked()) == (0, 0)


def test_a_task_that_outlives_the_soft_shutdown_is_redelivered_to_the_next_worker(
    workers, private_redis, paid_event_row
):
    # given: the worker is running the task, blocked on the row
    row, payment = paid_event_row
    first, first_log = workers("first")
    with row_locked(row) as holder:
        task_id = enqueue(row, private_redis.url)
        wait_until(lambda: someone_waits_on(holder), message="the task to block on the row lock")

        # when: SIGTERM, and the row stays locked past the soft shutdown
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=SOFT_SHUTDOWN_SECONDS + 20)

        # then: the task was cancelled unfinished and its message is back in the queue
        assert succeeded_in(first_log, task_id) == 0
        assert (private_redis.queued(), private_redis.unacked()) == (1, 0)
        row.refresh_from_db()
        assert row.status in StripeEvent.UNFINISHED_STATUSES

    # and a new worker runs it to the end, once
    _second, second_log = workers("second")
    wait_until(lambda: succeeded_in(second_log, task_id), message="the redelivered task to run")
    assert_processed_once(row, payment)
    assert succeeded_in(second_log, task_id) == 1
    assert (private_redis.queued(), private_redis.unacked()) == (0, 0)
