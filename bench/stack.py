"""The stack `make bench` measures, and what its scenarios share: their settings, the processes' CPU meter,
seeded payments, a bounded webhook sender and a worker draining a full queue.

A fresh PostgreSQL database, a private Redis server, gunicorn with 2 workers of 4 threads
(bench/gunicorn.conf.py), Celery workers with 2 processes started when a scenario needs them.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import http.client
import json
import os
import runpy
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import CpuMeter, Usage, process_tree
from bench.harness import BENCH, environment, logger, recreate_database, start_redis, start_web, stop, tasks_queued
from offline import processes

WORKER_PROCESSES = 2
_GUNICORN = runpy.run_path(str(BENCH / "gunicorn.conf.py"))
GUNICORN_THREADS = _GUNICORN["workers"] * _GUNICORN["threads"]

log = logger("bench")


@dataclass
class Config:
    database_url: str
    ingest_seconds: int = 5
    ingest_rounds: int = 2
    burst_payments: int = 2000
    burst_duplicate_share: float = 0.2
    latency_samples: int = 200
    # Per-call costs (bench/costs.py): calls of each step, fulfilment's calls, rows of the re-sending passes.
    call_samples: int = 1000
    fulfilment_samples: int = 300
    sweep_rows: int = 5000
    # The in-process drain's rows per path, and its emails per path (bench/drain.py).
    inprocess_events: int = 1000
    inprocess_emails: int = 300
    out: Path = BENCH / "BENCHMARKS.md"
    seed: int = 6


@dataclass
class Stack:
    env: dict[str, str]
    web_port: int
    redis_url: str
    tmp: Path
    gunicorn: subprocess.Popen
    redis: subprocess.Popen


def start_stack(config: Config, exit_stack: ExitStack) -> Stack:
    tmp = Path(tempfile.mkdtemp(prefix="eventpay-bench-"))
    exit_stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    redis_process, redis_url = start_redis(tmp, exit_stack)
    env = environment(config.database_url, redis_url)
    os.environ.update(env)
    recreate_database(config.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    # The web's metrics, in files of its own as in production (bench/batch_sizes.py reads them); not this
    # process's: what it measures in-process would be counted with them.
    web_metrics = metrics_directory(tmp, "web")
    gunicorn, web_port = start_web({**env, "PROMETHEUS_MULTIPROC_DIR": str(web_metrics)}, tmp, "webhook", exit_stack)
    return Stack(env=env, web_port=web_port, redis_url=redis_url, tmp=tmp, gunicorn=gunicorn, redis=redis_process)


def metrics_directory(tmp: Path, name: str) -> Path:
    """The PROMETHEUS_MULTIPROC_DIR of one of the stack's processes (created)."""
    directory = tmp / "metrics" / name.replace(" ", "-")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def start_worker(stack: Stack, name: str, queues: tuple[str, ...] = ()) -> subprocess.Popen:
    """The product's worker command (as `make run` starts it) plus the benchmark's no-op task; on every queue
    unless `queues` names some (`--queues`, as a deployment with a worker per queue runs it)."""
    import redis

    redis.Redis.from_url(stack.redis_url).delete("bench:worker_ready")
    env = {**stack.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_directory(stack.tmp, f"worker-{name}"))}
    process = processes.start_celery_worker(
        env=env, log_path=stack.tmp / f"worker-{name}.log", name=name, concurrency=WORKER_PROCESSES,
        extra_args=("--include", "bench.tasks", *(("--queues", ",".join(queues)) if queues else ())), timeout=60,
    )  # fmt: skip
    return process


def _pids(sql: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [pid for (pid,) in cursor.fetchall()]


def cpu_meter(stack: Stack, worker: subprocess.Popen | None = None) -> CpuMeter:
    """The stack's process groups. The harness (this process and its own database backend) is a group of
    its own: it is the load generator of the burst and polls the database while a drain runs."""
    return CpuMeter({
        "gunicorn": lambda: process_tree(stack.gunicorn.pid),
        "postgres": lambda: _pids("SELECT pid FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()"),
        # WAL writer, checkpointer, background writer, the postmaster: shared with the machine's other databases.
        "postgres shared": lambda: _pids("SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend'"),
        "redis": lambda: process_tree(stack.redis.pid),
        "celery": lambda: process_tree(worker.pid) if worker is not None else [],
        "harness": lambda: [os.getpid(), *_pids("SELECT pg_backend_pid()")],
    })  # fmt: skip


@dataclass
class Phase:
    """One measured phase: how many requests or events, how long, and the CPU each process group spent."""

    name: str
    count: int
    seconds: float
    usage: Usage

    def per_item_ms(self, group: str) -> float:
        return self.usage.seconds.get(group, 0.0) / self.count * 1000

    @staticmethod
    def combined(name: str, phases: list[Phase]) -> Phase:
        usage = Usage(machine=sum(p.usage.machine for p in phases))
        for phase in phases:
            for group, seconds in phase.usage.seconds.items():
                usage.add(group, seconds)
        return Phase(name, sum(p.count for p in phases), sum(p.seconds for p in phases), usage)


def flush_redis(stack: Stack) -> None:
    import redis

    redis.Redis.from_url(stack.redis_url).flushdb()


def seed_payments(count: int, prefix: str) -> list[tuple[int, int, str]]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from events.models import Event
    from payments.models import Payment

    user, _ = get_user_model().objects.get_or_create(username="bench-organiser")
    starts = timezone.now() + dt.timedelta(days=30)
    events = Event.objects.bulk_create(
        [Event(owner=user, title=f"{prefix} {i}", starts_at=starts) for i in range(count)], batch_size=1000
    )
    intents = [f"pi_{prefix}{uuid.uuid4().hex[:20]}" for _ in events]
    payments = Payment.objects.bulk_create(
        [Payment(user=user, event=e, payment_intent_id=pi, amount=1500, currency="usd")
         for e, pi in zip(events, intents, strict=True)],
        batch_size=1000,
    )  # fmt: skip
    return [(p.pk, p.event_id, pi) for p, pi in zip(payments, intents, strict=True)]


def post_all(stack: Stack, deliveries: list, concurrency: int = 16, timeout: float = 120) -> list[int]:
    """Sends each delivery once (bounded by the list and a deadline); returns the status codes."""
    deadline = time.monotonic() + timeout

    def post_before_deadline(delivery) -> int:
        return post(stack, delivery) if time.monotonic() <= deadline else 0

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post_before_deadline, deliveries))


def post(stack: Stack, delivery) -> int:
    """Sends one delivery to the webhook on a connection of its own; returns the status code."""
    conn = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=10)
    try:
        conn.request("POST", "/api/payments/webhook/", delivery.body.encode(),
                     {"Content-Type": "application/json", "Stripe-Signature": delivery.signature})  # fmt: skip
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


# How often a drain asks whether it is done: at most this much is added to its time (under 1 % of a drain of
# 10 s), and the asking costs the harness a little CPU each time (it counts in the figures).
DRAIN_POLL_SECONDS = 0.1


def drain(
    stack: Stack, done: Callable[[], bool], name: str, count: int, timeout: float = 180, queues: tuple[str, ...] = ()
) -> tuple[float, Phase]:
    """Starts a worker on a full queue and stops it once done() holds: the seconds from its readiness, and
    the CPU every group spent meanwhile (the worker's own counted from the moment it announced readiness)."""
    import redis

    process = start_worker(stack, name, queues)
    try:
        meter = cpu_meter(stack, worker=process)
        start = meter.snapshot()
        announced = redis.Redis.from_url(stack.redis_url).get("bench:worker_ready")
        if announced is None:
            raise RuntimeError(f"{name}: the worker consumes but did not announce its readiness (bench/tasks.py)")
        ready = json.loads(announced)
        start.processes["celery"] = {int(pid): cpu for pid, cpu in ready["cpu"].items()}
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: not drained within {timeout} s")
            time.sleep(DRAIN_POLL_SECONDS)
        seconds = time.time() - ready["at"]
        usage = meter.since(start)
    finally:
        stop(process)
    return seconds, Phase(name, count, seconds, usage)


def queue_empty(stack: Stack, queues: tuple[str, ...] = ()) -> bool:
    """No task waiting on `queues` (every queue when none are named), and none unacknowledged."""
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    return tasks_queued(client, queues) == 0 and client.hlen("unacked") == 0
