"""`make bench`: the webhook path under load, measured against its ceilings in one run.

Starts its own stack (a fresh PostgreSQL database, a private Redis server, gunicorn with
2 sync workers, Celery workers with 2 processes), drives it from separate processes on
loopback (wrk for ingest, a bounded Python sender for the burst) and writes BENCHMARKS.md.
Every load is bounded in count and time. The machine is shared: compare the ratios, which
are measured in the same run, rather than absolute figures across runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.client
import json
import os
import random
import runpy
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import CpuMeter, Usage, process_tree
from bench.drain import drain_costs
from bench.events import (
    WEBHOOK_SECRET,
    burst_plans,
    ingest_pool,
    sign,
    signed_events,
    succeeded_body,
)
from bench.harness import (
    BENCH,
    BIN,
    ROOT,
    machine_facts,
    recreate_database,
    run_measured,
    run_wrk,
    stop,
    wait_http,
)
from offline import processes
from offline.net import free_port, wait_for_port

WORKER_PROCESSES = 2
_GUNICORN = runpy.run_path(str(BENCH / "gunicorn.conf.py"))
GUNICORN_THREADS = _GUNICORN["workers"] * _GUNICORN["threads"]


@dataclass
class Config:
    database_url: str
    ingest_seconds: int = 5
    ingest_rounds: int = 2
    burst_payments: int = 2000
    burst_duplicate_share: float = 0.2
    latency_samples: int = 200
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


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the stack --------------------------------------------------------------------------------


def start_stack(config: Config, exit_stack: ExitStack) -> Stack:
    tmp = Path(tempfile.mkdtemp(prefix="eventpay-bench-"))
    exit_stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    redis_port = free_port()
    redis_process = processes.start_redis(port=redis_port, directory=tmp / "redis", log_path=tmp / "redis.log")
    exit_stack.callback(stop, redis_process)
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=config.database_url,
        DATABASE_CONN_MAX_AGE="600",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_SECRET_KEY="sk_test_bench",
        STRIPE_API_BASE="http://127.0.0.1:9",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        LOG_LEVEL="WARNING",
        # Each payment that succeeds emails its organiser: rendered by the worker, then sent nowhere.
        EMAIL_URL="dummymail://",
    )
    os.environ.update(env)
    recreate_database(config.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    web_port = free_port()
    gunicorn = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(BENCH / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{web_port}"],
        cwd=ROOT, env=env, stdout=(tmp / "gunicorn.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    exit_stack.callback(stop, gunicorn)
    wait_for_port(web_port, process=gunicorn)
    stack = Stack(env=env, web_port=web_port, redis_url=env["REDIS_URL"], tmp=tmp, gunicorn=gunicorn,
                  redis=redis_process)  # fmt: skip
    wait_http(stack.web_port, "/api/health/")
    return stack


def start_worker(stack: Stack, name: str) -> subprocess.Popen:
    """The product's worker command (as `make run` starts it) plus the benchmark's no-op task."""
    import redis

    redis.Redis.from_url(stack.redis_url).delete("bench:worker_ready")
    process = processes.start_celery_worker(
        env=stack.env, log_path=stack.tmp / f"worker-{name}.log", name=name, concurrency=WORKER_PROCESSES,
        extra_args=("--include", "bench.tasks"), timeout=60,
    )  # fmt: skip
    return process


# --- machine and run facts ----------------------------------------------------------------------


# --- CPU accounting -----------------------------------------------------------------------------


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


# --- phase 1: per-call costs (in-process) -------------------------------------------------------


def _timed(n: int, fn, slices: int = 5) -> tuple[float, float]:
    """Microseconds (wall, CPU) per call of fn(0) … fn(n - 1), from the slice of n / slices calls that used the
    least CPU: on a shared machine the others are slowed by whatever else ran meanwhile."""
    size = n // slices
    best = (float("inf"), float("inf"))
    for start in range(0, size * slices, size):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(start, start + size):
            fn(i)
        sample = ((time.perf_counter() - wall) / size * 1e6, (time.process_time() - cpu) / size * 1e6)
        best = min(best, sample, key=lambda figures: figures[1])
    return best


def per_call_costs(stack: Stack, n: int = 1000) -> list[tuple[str, tuple[float, float]]]:
    """Microseconds per call of each step of the webhook, ours next to the textbook's."""
    import stripe
    from celery import current_app
    from django.db import connection, transaction

    from payments import queue, stripe_gateway
    from payments.models import StripeEvent
    from payments.services import inbox

    signed = signed_events(n, "cost")
    events = [json.loads(s.body) for s in signed]
    task = current_app.tasks[queue.PROCESS_STRIPE_EVENT]
    rows: list[int] = []

    def orm_insert(i: int) -> None:
        event = events[i]
        with transaction.atomic():
            rows.append(StripeEvent.objects.create(stripe_id=event["id"] + "o", type=event["type"],
                                                   payload=signed[i].body).pk)  # fmt: skip

    connection.ensure_connection()
    results = [
        ("verify_webhook (verify_header + json.loads)",
         _timed(n, lambda i: stripe_gateway.verify_webhook(signed[i].body.encode(), signed[i].signature))),
        ("stripe.Webhook.construct_event (textbook)",
         _timed(n, lambda i: stripe.Webhook.construct_event(signed[i].body, signed[i].signature, WEBHOOK_SECRET))),
        ("Django's health check (`SELECT 1`, once per request with CONN_HEALTH_CHECKS)",
         _timed(n, lambda i: connection.is_usable())),
        ("ORM insert in a transaction (backbone, textbook)", _timed(n, orm_insert)),
        ("Celery `delay()`, a producer from the pool per call (textbook)", _timed(n, lambda i: task.delay(rows[i]))),
        ("queue.stripe_event_process: Celery's `apply_async` (now)",
         _timed(n, lambda i: queue.stripe_event_process(stripe_event_id=rows[i]))),
        ("inbox.stripe_event_receive: INSERT … ON CONFLICT + publish (now)",
         _timed(n, lambda i: inbox.stripe_event_receive(event=events[i], payload=signed[i].body.encode()))),
        ("inbox.stripe_event_receive, duplicate (now)",
         _timed(n, lambda i: inbox.stripe_event_receive(event=events[i], payload=signed[i].body.encode()))),
    ]  # fmt: skip
    StripeEvent.objects.all().delete()
    _flush_redis(stack)
    return results + request_costs(stack, n) + sweep_costs(stack)


def sweep_costs(stack: Stack, n: int = 5000) -> list[tuple[str, tuple[float, float]]]:
    """What re-sending costs per row after an outage: `n` stored rows that never reached a worker, handed
    over one at a time (a publish and an UPDATE each, as an operator's retry does) and by the sweeper
    (batches of `queue.SEND_BATCH_SIZE`: one pipeline to Redis and one UPDATE per batch)."""
    from django.utils import timezone

    from payments.models import StripeEvent
    from payments.services import inbox

    long_ago = timezone.now() - dt.timedelta(hours=1)
    StripeEvent.objects.bulk_create(
        [StripeEvent(stripe_id=f"evt_sweep_{i}", type="payment_intent.succeeded", payload=succeeded_body(
            payment_intent_id=f"pi_sweep_{i}", payment_id=i, event_id=i)) for i in range(n)],
        batch_size=1000,
    )  # fmt: skip
    ids = list(StripeEvent.objects.values_list("pk", flat=True))
    results = []
    for name, resend in [
        ("inbox.stripe_event_enqueue, one row at a time (per row)",
         lambda: [inbox.stripe_event_enqueue(stripe_event_id=pk) for pk in ids]),
        (f"inbox.stripe_events_requeue_stale, the sweeper, {n:,} rows (per row)",
         lambda: inbox.stripe_events_requeue_stale(older_than=dt.timedelta(minutes=1))),
    ]:  # fmt: skip
        StripeEvent.objects.update(status=StripeEvent.Status.RECEIVED, received_at=long_ago, enqueued_at=None)
        _flush_redis(stack)
        wall, cpu = time.perf_counter(), time.process_time()
        resend()
        elapsed = ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)
        if StripeEvent.objects.filter(status=StripeEvent.Status.ENQUEUED).count() != n:
            raise RuntimeError(f"{name}: not every row was handed over")
        results.append((name, elapsed))
    StripeEvent.objects.all().delete()
    _flush_redis(stack)
    return results


def request_costs(stack: Stack, n: int) -> list[tuple[str, tuple[float, float]]]:
    """Whole requests through Django's WSGI handler, in this process, one at a time: the bare view with the
    product's middleware and with only the two the webhook needs (HTTPS redirect and headers, body limit),
    and the webhook. Set against gunicorn's CPU per request under load, the difference is what serving
    them concurrently costs (threads taking turns at the GIL, gunicorn's own work)."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory, override_settings

    from payments.models import StripeEvent

    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    needed = ["django.middleware.security.SecurityMiddleware", "core.middleware.RequestBodyLimitMiddleware"]
    full = WSGIHandler()
    with override_settings(MIDDLEWARE=needed):
        own = WSGIHandler()
    cases = [
        (f"bare view, all {len(settings.MIDDLEWARE)} middleware (Django's WSGI handler)", full, "/bench/bare/"),
        (f"bare view, only the {len(needed)} middleware the webhook needs", own, "/bench/bare/"),
        ("webhook, all middleware (Django's WSGI handler)", full, "/api/payments/webhook/"),
    ]
    results = []
    for name, handler, path in cases:
        environs = [
            factory.post(path, s.body, content_type="application/json", HTTP_STRIPE_SIGNATURE=s.signature).environ
            for s in signed_events(n + 100, "request")
        ]
        for environ in environs[:100]:
            handler(environ, lambda status, headers: None).close()
        results.append((name, _timed(n, lambda i, h=handler, e=environs: h(e[100 + i], lambda *a: None).close())))
    StripeEvent.objects.all().delete()
    _flush_redis(stack)
    return results


def fulfilment_cost(n: int = 300) -> tuple[list[tuple[str, tuple[float, float]]], list[str]]:
    """The worker's side, in-process: what one `payment_intent.succeeded` costs fulfilment, and its statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments.models import StripeEvent
    from payments.services import fulfilment, inbox

    rows = []
    for payment_id, event_id, payment_intent_id in _seed_payments(n + 1, "cost"):
        body = succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id)
        rows.append(inbox.stripe_event_store(event=json.loads(body), payload=body.encode()).pk)
    with CaptureQueriesContext(connection) as queries:
        fulfilment.process_stripe_event(stripe_event_id=rows.pop())
    statements = [q["sql"] for q in queries.captured_queries]
    kinds = [sql.split()[0].upper() for sql in statements]
    costs = _timed(len(rows), lambda i: fulfilment.process_stripe_event(stripe_event_id=rows[i]))
    StripeEvent.objects.all().delete()
    summary = ", ".join(f"{kinds.count(k)} {k}" for k in sorted(set(kinds)))
    return [
        (f"fulfilment.process_stripe_event, one `succeeded` ({len(kinds)} statements: {summary})", costs)
    ], statements


def _flush_redis(stack: Stack) -> None:
    import redis

    redis.Redis.from_url(stack.redis_url).flushdb()


# --- phase 2: ingest under wrk, PostgreSQL's own ceiling, the profile ---------------------------


def _measured_wrk(stack: Stack, name: str, path: str, pool: Path, seconds: int) -> tuple[dict, Phase]:
    meter = cpu_meter(stack)
    start = meter.snapshot()
    figures = run_wrk(stack.web_port, path, pool, seconds)
    usage = meter.since(start)
    usage.add("load generator", figures["load_cpu"])
    return figures, Phase(name, figures["requests"], figures["duration_us"] / 1e6, usage)


def ingest(stack: Stack, config: Config) -> tuple[dict[str, list[dict]], dict[str, Phase]]:
    from payments.models import StripeEvent

    pool_size = 6000 * config.ingest_seconds  # more than the bare view's ceiling: no event is sent twice
    pools = {}
    for name in ("webhook", "backbone"):
        for r in range(config.ingest_rounds):
            pools[name, r] = stack.tmp / f"pool-{name}-{r}.txt"
            ingest_pool(pools[name, r], pool_size)
    warm = stack.tmp / "pool-warm.txt"
    ingest_pool(warm, 2000)
    log(f"pools written ({pool_size} events each); warming up")
    run_wrk(stack.web_port, "/bench/bare/", warm, 1)
    run_wrk(stack.web_port, "/api/payments/webhook/", warm, 1)
    targets = {"bare": "/bench/bare/", "webhook": "/api/payments/webhook/", "backbone": "/bench/backbone-webhook/"}
    results: dict[str, list[dict]] = {name: [] for name in targets}
    phases: dict[str, list[Phase]] = {name: [] for name in targets}
    for r in range(config.ingest_rounds):
        for name, path in targets.items():
            pool = pools.get((name, r), pools["webhook", r])
            figures, phase = _measured_wrk(stack, name, path, pool, config.ingest_seconds)
            if name != "bare" and figures["exhausted_threads"]:
                raise RuntimeError(f"the pool ran out during the {name} run: make it larger")
            results[name].append(figures)
            phases[name].append(phase)
            log(f"ingest {name} round {r + 1}: {figures['rps']:.0f} req/s, p99 {figures['p99_us'] / 1000:.1f} ms, "
                f"{figures['errors']} errors")  # fmt: skip
    stored = _settled_row_count()
    StripeEvent.objects.all().delete()
    _flush_redis(stack)
    results["stored"] = [{"rows": stored}]
    return results, {name: Phase.combined(name, runs) for name, runs in phases.items()}


def _settled_row_count(timeout: float = 30) -> int:
    """Waits until the server has answered what was still queued when wrk stopped."""
    from payments.models import StripeEvent

    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        previous, count = count, StripeEvent.objects.count()
        if count == previous:
            break
        time.sleep(0.5)
    return count


def _inbox_insert_script(table: str, body: str) -> str:
    """The webhook's statement as the driver sends it (literal values, client-side binding), for pgbench."""
    from django.db import connection

    from payments.models import StripeEvent

    quote = connection.ops.quote_name
    payload = body.replace("'", "''")
    values = {
        "stripe_id": "'evt_pgbench_' || :client_id || '_' || :n", "type": "'payment_intent.succeeded'",
        "livemode": "false", "api_version": "'2026-10-28.endive'", "payment_intent_id": "'pi_pgbench'",
        "payload": f"'{payload}'", "received_at": "now()", "enqueued_at": "now()", "status": "'enqueued'",
        "attempts": "0", "last_error": "''", "processed_at": "NULL",
        "kind": "'snapshot'", "related_object_type": "''", "related_object_id": "''",
    }  # fmt: skip
    columns = [f.column for f in StripeEvent._meta.concrete_fields if not f.primary_key]
    missing = set(columns) - set(values)
    if missing:
        raise RuntimeError(f"the pgbench statement does not fill {sorted(missing)}: add them")
    return (
        "\\set n random(1, 1000000000000000)\n"
        f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(values[c] for c in columns)}) ON CONFLICT (stripe_id) DO NOTHING RETURNING id;\n"
    )


def _before_copy_of_inbox() -> str:
    """A copy of the inbox as it was before this change's migration: payload compressed with pglz, and the two
    `varchar_pattern_ops` indexes Django added for `LIKE` queries that no query runs."""
    from django.db import connection

    table = "bench_inbox_before"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE payments_stripeevent INCLUDING ALL)")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN payload SET COMPRESSION pglz")
        for column in ("stripe_id", "payment_intent_id"):
            cursor.execute(f"CREATE INDEX {table}_{column}_like ON {table} ({column} varchar_pattern_ops)")
    return table


def _inserted_so_far(table: str) -> int:
    """The table's identity sequence: one value per INSERT attempt, read without touching the table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM pg_sequences WHERE sequencename = %s", [f"{table}_id_seq"])
        return cursor.fetchone()[0] or 0


def postgres_ceiling(stack: Stack, config: Config) -> dict[str, tuple[dict, Phase]]:
    """PostgreSQL alone: pgbench sends the webhook's INSERT with a real payload from as many clients as gunicorn
    has threads, into the real table and into a copy of it as it was before. pgbench's connections end with
    it, so their CPU is read over the middle of the run (from its second second to just before its end),
    against the inserts made meanwhile."""
    from django.db import connection

    from payments.models import StripeEvent

    body = signed_events(1, "pgbench")[0].body
    params = connection.get_connection_params()
    env = dict(os.environ, PGPASSWORD=str(params.get("password") or ""))
    seconds = config.ingest_seconds + 1
    results = {}
    for name, table in (("postgres", StripeEvent._meta.db_table), ("postgres before", _before_copy_of_inbox())):
        script = stack.tmp / f"pgbench-{table}.sql"
        script.write_text(_inbox_insert_script(table, body))
        command = [
            "pgbench", "-n", "-M", "simple", "-c", str(GUNICORN_THREADS), "-j", "2", "-T", str(seconds),
            "-f", str(script), "-h", str(params.get("host") or "127.0.0.1"), "-p", str(params.get("port") or 5432),
            "-U", str(params.get("user") or "postgres"), str(params["dbname"]),
        ]  # fmt: skip
        meter = cpu_meter(stack)
        with concurrent.futures.ThreadPoolExecutor(1) as runner:
            run = runner.submit(run_measured, command, timeout=seconds + 60, env=env)
            time.sleep(1)
            start, first = meter.snapshot(), _inserted_so_far(table)
            time.sleep(seconds - 1.5)
            usage, inserts = meter.since(start), _inserted_so_far(table) - first
            code, output, cpu = run.result()
        if code != 0:
            raise RuntimeError(f"pgbench failed: {output}")
        transactions = int(next(ln for ln in output.splitlines() if "transactions actually processed" in ln)
                           .split(":")[1].split("/")[0])  # fmt: skip
        usage.add("load generator", cpu * inserts / transactions)
        tps = float(next(ln for ln in output.splitlines() if ln.startswith("tps =")).split()[2])
        latency_ms = float(next(ln for ln in output.splitlines() if ln.startswith("latency average")).split()[3])
        results[name] = ({"rps": tps, "latency_ms": latency_ms}, Phase(name, inserts, seconds - 1.5, usage))
        log(f"pgbench into {table}: {tps:.0f} inserts/s")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_inbox_before")
    StripeEvent.objects.all().delete()
    return results


def profile_ingest(stack: Stack, config: Config) -> tuple[Path, str]:
    """py-spy samples every gunicorn worker while wrk drives the webhook: a flame graph (SVG, for people) and
    folded stacks (for the report's tables), from two runs with fresh events."""
    from payments.models import StripeEvent

    outputs = {"flamegraph": config.out.parent / "profile-webhook.svg", "raw": stack.tmp / "profile-webhook.folded"}
    for fmt, out in outputs.items():
        pool = stack.tmp / f"pool-profile-{fmt}.txt"
        ingest_pool(pool, 6000 * config.ingest_seconds)
        spy = subprocess.Popen(
            [str(BIN / "py-spy"), "record", "--pid", str(stack.gunicorn.pid), "--subprocesses", "--nonblocking",
             "--rate", "200", "--gil", "--format", fmt, "--output", str(out), "--duration", str(config.ingest_seconds + 1)],
            stdout=subprocess.DEVNULL, stderr=(stack.tmp / "py-spy.log").open("a"),
        )  # fmt: skip
        time.sleep(0.5)
        run_wrk(stack.web_port, "/api/payments/webhook/", pool, config.ingest_seconds)
        if spy.wait(timeout=60) != 0:
            raise RuntimeError(f"py-spy failed: {(stack.tmp / 'py-spy.log').read_text()}")
    _settled_row_count()
    StripeEvent.objects.all().delete()
    _flush_redis(stack)
    return outputs["flamegraph"], outputs["raw"].read_text()


# --- phase 3: burst and drain -------------------------------------------------------------------


def _post_all(stack: Stack, deliveries: list, concurrency: int = 16, timeout: float = 120) -> list[int]:
    """Sends each delivery once (bounded by the list and a deadline); returns the status codes."""
    deadline = time.monotonic() + timeout

    def post(delivery) -> int:
        if time.monotonic() > deadline:
            return 0
        conn = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=10)
        try:
            conn.request("POST", "/api/payments/webhook/", delivery.body.encode(),
                         {"Content-Type": "application/json", "Stripe-Signature": delivery.signature})  # fmt: skip
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post, deliveries))


def _seed_payments(count: int, prefix: str) -> list[tuple[int, int, str]]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from events.models import Event
    from payments.models import Payment

    user, _ = get_user_model().objects.get_or_create(username="bench-organiser")
    starts = timezone.now() + dt.timedelta(days=30)
    events = Event.objects.bulk_create(
        [Event(owner=user, title=f"{prefix} {i}", starts_at=starts) for i in range(count)], batch_size=1000
    )
    payments = Payment.objects.bulk_create(
        [Payment(user=user, event=e, payment_intent_id=f"pi_{prefix}{uuid.uuid4().hex[:20]}", amount=1500,
                 currency="usd") for e in events],
        batch_size=1000,
    )  # fmt: skip
    return [(p.pk, p.event_id, p.payment_intent_id) for p in payments]


def _drain(stack: Stack, done, name: str, count: int, timeout: float = 180) -> tuple[float, Phase]:
    """Starts a worker on a full queue and stops it once done() holds: the seconds from its readiness, and
    the CPU every group spent meanwhile (the worker's own counted from the moment it announced readiness)."""
    import redis

    process = start_worker(stack, name)
    try:
        meter = cpu_meter(stack, worker=process)
        start = meter.snapshot()
        ready = json.loads(redis.Redis.from_url(stack.redis_url).get("bench:worker_ready"))
        start.processes["celery"] = {int(pid): cpu for pid, cpu in ready["cpu"].items()}
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: not drained within {timeout} s")
            time.sleep(0.02)
        seconds = time.time() - ready["at"]
        usage = meter.since(start)
    finally:
        stop(process)
    return seconds, Phase(name, count, seconds, usage)


def _queue_empty(stack: Stack) -> bool:
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def drain_noop(stack: Stack, count: int) -> Phase:
    from bench.tasks import noop

    for i in range(count):
        noop.delay(i)
    return _drain(stack, lambda: _queue_empty(stack), "no-op drain", count)[1]


def burst(stack: Stack, config: Config) -> dict:
    from django.db.models import Count

    from payments.models import Payment, StripeEvent

    rng = random.Random(config.seed)
    payments = _seed_payments(config.burst_payments, "burst")
    plans = burst_plans(payments, amount=1500, currency="usd", rng=rng)
    unique = [body for plan in plans for body in plan.bodies]
    deliveries_total = round(len(unique) / (1 - config.burst_duplicate_share))
    bodies = unique + rng.choices(unique, k=deliveries_total - len(unique))
    rng.shuffle(bodies)
    deliveries = [sign(body, WEBHOOK_SECRET) for body in bodies]
    failed_before_succeeded = _failed_before_succeeded(bodies)
    burst_start = dt.datetime.now(dt.UTC)
    log(f"burst: {len(deliveries)} deliveries of {len(unique)} events for {len(plans)} payments")
    meter = cpu_meter(stack)
    cpu_start = meter.snapshot()
    start = time.monotonic()
    statuses = _post_all(stack, deliveries)
    ingest_seconds = time.monotonic() - start
    ingest_phase = Phase("burst ingest", len(deliveries), ingest_seconds, meter.since(cpu_start))
    burst_rows = StripeEvent.objects.filter(received_at__gte=burst_start)
    rows = burst_rows.count()
    log(f"burst stored {rows} rows in {ingest_seconds:.1f} s; draining with {WORKER_PROCESSES} worker processes")

    def finished() -> bool:
        return not burst_rows.filter(status__in=StripeEvent.UNFINISHED_STATUSES).exists() and _queue_empty(stack)

    seconds, drain_phase = _drain(stack, finished, "burst drain", len(unique))

    expected = {plan.payment_intent_id: plan.final_status for plan in plans}
    actual = dict(Payment.objects.filter(payment_intent_id__in=expected).values_list("payment_intent_id", "status"))
    wrong_status = sum(1 for pi, status in expected.items() if actual.get(pi) != status)
    activation_mismatch = _activation_mismatches(expected)
    unique_ids = {json.loads(body)["id"] for body in unique}
    stored_ids = list(burst_rows.values_list("stripe_id", flat=True))
    by_status = dict(burst_rows.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "deliveries": len(deliveries),
        "unique_events": len(unique),
        "payments": len(plans),
        "failed_before_succeeded": failed_before_succeeded,
        "non_200": sum(1 for s in statuses if s != 200),
        "ingest_seconds": ingest_seconds,
        "drain_seconds": seconds,
        "drain_rate": len(unique) / seconds,
        "lost": len(unique_ids - set(stored_ids))
        + sum(n for s, n in by_status.items() if s not in ("processed", "ignored")),
        "doubled": len(stored_ids) - len(set(stored_ids)),
        "wrong_final_status": wrong_status,
        "activation_mismatch": activation_mismatch,
        "rows_by_status": by_status,
        "phases": [ingest_phase, drain_phase],
    }


def _failed_before_succeeded(bodies: list[str]) -> int:
    """Payments whose first `payment_failed` delivery comes before their first `succeeded` one."""
    first: dict[tuple[str, str], int] = {}
    for i, body in enumerate(bodies):
        event = json.loads(body)
        key = (event["data"]["object"].get("id", ""), event["type"])
        first.setdefault(key, i)
    return sum(
        1
        for (pi, kind), i in first.items()
        if kind == "payment_intent.payment_failed" and i < first.get((pi, "payment_intent.succeeded"), -1)
    )


def _activation_mismatches(expected: dict[str, str]) -> int:
    from payments.models import Payment

    rows = Payment.objects.filter(payment_intent_id__in=expected).values_list("status", "event__is_active",
                                                                                "event__activated_at")  # fmt: skip
    return sum(1 for status, active, activated_at in rows
               if active != (status == "succeeded") or (active and activated_at is None))  # fmt: skip


# --- phase 4: latency webhook -> event active ---------------------------------------------------


def latency(stack: Stack, config: Config) -> dict:
    from events.models import Event

    payments = _seed_payments(config.latency_samples, "lat")
    process = start_worker(stack, "latency")
    samples = []
    try:
        for payment_id, event_id, payment_intent_id in payments:
            delivery = sign(
                succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id),
                WEBHOOK_SECRET,
            )
            sent = time.time()
            assert _post_all(stack, [delivery], concurrency=1) == [200]
            deadline = time.monotonic() + 5
            while True:
                activated_at = (
                    Event.objects.filter(pk=event_id, is_active=True).values_list("activated_at", flat=True).first()
                )
                if activated_at is not None:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"event {event_id} not active within 5 s")
                time.sleep(0.001)
            samples.append((activated_at.timestamp() - sent) * 1000)
            time.sleep(0.02)
    finally:
        stop(process)
    samples.sort()
    return {
        "samples": len(samples),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, round(0.99 * len(samples)) - 1)],
        "max_ms": samples[-1],
    }


# --- report -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventpay_bench"))  # fmt: skip
    parser.add_argument("--out", type=Path, default=BENCH / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="smaller figures, for trying the harness")
    args = parser.parse_args(argv)
    config = Config(database_url=args.database_url, out=args.out)
    if args.quick:
        config = Config(database_url=args.database_url, out=args.out, ingest_seconds=2, ingest_rounds=1,
                        burst_payments=200, latency_samples=30)  # fmt: skip
    sys.path.insert(0, str(ROOT))
    with ExitStack() as exit_stack:
        stack = start_stack(config, exit_stack)
        facts = machine_facts()
        log("per-call costs")
        fulfilment_rows, fulfilment_statements = fulfilment_cost()
        log("drain in-process: one at a time vs batched")
        drain = drain_costs(_seed_payments)
        costs = per_call_costs(stack) + fulfilment_rows
        log("ingest")
        ingest_results, ingest_phases = ingest(stack, config)
        log("PostgreSQL's own ceiling (pgbench)")
        ceiling = postgres_ceiling(stack, config)
        log("profile of the gunicorn workers under load (py-spy)")
        flamegraph, folded = profile_ingest(stack, config)
        log("no-op drain")
        noop = drain_noop(stack, round(config.burst_payments * 4))
        burst_results = burst(stack, config)
        log("latency")
        latency_results = latency(stack, config)
    facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    from bench.report import write_report

    write_report(
        config, facts, costs=costs, statements=fulfilment_statements, ingest=ingest_results,
        ingest_phases=ingest_phases, ceiling=ceiling, flamegraph=flamegraph, folded=folded, noop=noop,
        burst=burst_results, latency=latency_results, drain=drain,
    )  # fmt: skip
    log(f"wrote {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
