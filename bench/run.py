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
import platform
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from offline import processes
from offline.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
WEBHOOK_SECRET = "whsec_bench_" + "0" * 24
CONNECTIONS = 32
WRK_THREADS = 2
WORKER_PROCESSES = 2


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
    processes: list[subprocess.Popen] = field(default_factory=list)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the stack --------------------------------------------------------------------------------


def recreate_database(database_url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_stack(config: Config, exit_stack: ExitStack) -> Stack:
    tmp = Path(tempfile.mkdtemp(prefix="eventpay-bench-"))
    exit_stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    redis_port = free_port()
    redis_process = processes.start_redis(port=redis_port, directory=tmp / "redis", log_path=tmp / "redis.log")
    exit_stack.callback(_stop, redis_process)
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
    exit_stack.callback(_stop, gunicorn)
    wait_for_port(web_port, process=gunicorn)
    stack = Stack(env=env, web_port=web_port, redis_url=env["REDIS_URL"], tmp=tmp)
    _wait_http(stack, "/api/health/")
    return stack


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_http(stack: Stack, path: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not answer 200 within {timeout} s")


def start_worker(stack: Stack, name: str) -> subprocess.Popen:
    """The product's worker command (as `make run` starts it) plus the benchmark's no-op task."""
    import redis

    redis.Redis.from_url(stack.redis_url).delete("bench:worker_ready")
    process = processes.start_celery_worker(
        env=stack.env, log_path=stack.tmp / f"worker-{name}.log", name=name, concurrency=WORKER_PROCESSES,
        extra_args=("--include", "bench.tasks"), timeout=60,
    )  # fmt: skip
    return process


def worker_ready_at(stack: Stack) -> float:
    import redis

    return float(redis.Redis.from_url(stack.redis_url).get("bench:worker_ready"))


# --- machine and run facts ----------------------------------------------------------------------


def machine_facts(config: Config) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    import redis

    redis_version = redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["redis_version"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()  # fmt: skip
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0:1]
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "machine": f"{platform.node()}: {os.cpu_count()} cores ({cpu}), "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, {platform.system()} {platform.release()}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "software": f"Python {platform.python_version()}, PostgreSQL {pg_version} (synchronous_commit={sync_commit}), "
        f"Redis {redis_version} (private server, AOF on), {(wrk_version or ['wrk ?'])[0].split(' [')[0]}",
    }


# --- phase 1: per-call costs (in-process) -------------------------------------------------------


def per_call_costs(stack: Stack, n: int = 1000) -> list[tuple[str, tuple[float, float]]]:
    """Microseconds per call of each step of the webhook, ours next to the textbook's."""
    import stripe
    from django.db import transaction
    from django.utils import timezone

    from bench.events import event_body, payment_intent, sign
    from payments import queue, stripe_gateway
    from payments.models import StripeEvent
    from payments.services import inbox
    from worker.tasks import process_stripe_event

    signed = [
        sign(event_body("payment_intent.succeeded", payment_intent(
            payment_intent_id=f"pi_cost{i}", payment_id=i, event_id=i, amount=1500, currency="usd", status="succeeded")),
            WEBHOOK_SECRET)
        for i in range(n)
    ]  # fmt: skip
    events = [json.loads(s.body) for s in signed]

    def timed(fn) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            fn(i)
        return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6

    rows: list[int] = []
    results = [
        ("verify_webhook (verify_header + json.loads)",
         timed(lambda i: stripe_gateway.verify_webhook(signed[i].body.encode(), signed[i].signature))),
        ("stripe.Webhook.construct_event (textbook)",
         timed(lambda i: stripe.Webhook.construct_event(signed[i].body, signed[i].signature, WEBHOOK_SECRET))),
    ]  # fmt: skip

    def orm_insert(i: int) -> None:
        event = events[i]
        with transaction.atomic():
            rows.append(StripeEvent.objects.create(stripe_id=event["id"] + "o", type=event["type"],
                                                   payload=signed[i].body).pk)  # fmt: skip

    results.append(("ORM insert in a transaction (backbone, textbook)", timed(orm_insert)))
    results.append(("Celery apply_async: kombu producer (backbone, textbook)",
                    timed(lambda i: process_stripe_event.apply_async((rows[i],)))))  # fmt: skip
    results.append(
        (
            "UPDATE to `enqueued` after publishing (backbone)",
            timed(
                lambda i: StripeEvent.objects.filter(pk=rows[i]).update(status="enqueued", enqueued_at=timezone.now())
            ),
        )
    )
    results.append(
        (
            "queue.stripe_event_process: Celery's apply_async by task name (now)",
            timed(lambda i: queue.stripe_event_process(stripe_event_id=rows[i])),
        )
    )
    results.append(
        (
            "inbox.stripe_event_receive: INSERT … ON CONFLICT + publish (now)",
            timed(lambda i: inbox.stripe_event_receive(event=events[i], payload=signed[i].body.encode())),
        )
    )
    results.append(
        (
            "inbox.stripe_event_receive, duplicate (now)",
            timed(lambda i: inbox.stripe_event_receive(event=events[i], payload=signed[i].body.encode())),
        )
    )
    StripeEvent.objects.all().delete()
    import redis

    redis.Redis.from_url(stack.redis_url).flushdb()
    return results


def fulfilment_cost(n: int = 300) -> list[tuple[str, tuple[float, float]]]:
    """The worker's side, in-process: what one `payment_intent.succeeded` costs fulfilment."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.events import event_body, payment_intent
    from payments.models import StripeEvent
    from payments.services import fulfilment, inbox

    rows = []
    for payment_id, event_id, payment_intent_id in _seed_payments(n + 1, "cost"):
        body = event_body("payment_intent.succeeded", payment_intent(
            payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id, amount=1500,
            currency="usd", status="succeeded"))  # fmt: skip
        rows.append(inbox.stripe_event_store(event=json.loads(body), payload=body.encode()).pk)
    with CaptureQueriesContext(connection) as queries:
        fulfilment.process_stripe_event(stripe_event_id=rows.pop())
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    wall, cpu = time.perf_counter(), time.process_time()
    for row in rows:
        fulfilment.process_stripe_event(stripe_event_id=row)
    costs = ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)
    StripeEvent.objects.all().delete()
    kinds = ", ".join(f"{statements.count(k)} {k}" for k in sorted(set(statements)))
    return [(f"fulfilment.process_stripe_event, one `succeeded` ({len(statements)} statements: {kinds})", costs)]


def profile_webhook(stack: Stack, n: int = 2000) -> str:
    """pyinstrument over n webhook requests through Django's test client (middleware included)."""
    from django.test import Client
    from pyinstrument import Profiler

    from bench.events import event_body, payment_intent, sign
    from payments.models import StripeEvent

    signed = [
        sign(event_body("payment_intent.succeeded", payment_intent(
            payment_intent_id=f"pi_prof{i}", payment_id=i, event_id=i, amount=1500, currency="usd", status="succeeded")),
            WEBHOOK_SECRET)
        for i in range(n)
    ]  # fmt: skip
    client = Client(HTTP_HOST="127.0.0.1")
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for s in signed:
        client.post(
            "/api/payments/webhook/", s.body, content_type="application/json", HTTP_STRIPE_SIGNATURE=s.signature
        )
    profiler.stop()
    StripeEvent.objects.all().delete()
    import redis

    redis.Redis.from_url(stack.redis_url).flushdb()
    return profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)


# --- phase 2: ingest under wrk ------------------------------------------------------------------


def ingest_pool(path: Path, size: int) -> None:
    from bench.events import event_body, payment_intent, sign, write_wrk_pool

    write_wrk_pool(path, [
        sign(event_body("payment_intent.succeeded", payment_intent(
            payment_intent_id=f"pi_{uuid.uuid4().hex[:24]}", payment_id=0, event_id=0, amount=1500, currency="usd",
            status="succeeded")), WEBHOOK_SECRET)
        for _ in range(size)
    ])  # fmt: skip


def run_wrk(stack: Stack, path: str, pool: Path, seconds: int) -> dict:
    command = [
        "wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(BENCH / "wrk" / "webhook.lua"), f"http://127.0.0.1:{stack.web_port}{path}",
        "--", str(pool), path, str(WRK_THREADS),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("{")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed: {result.stdout}\n{result.stderr}")
    figures = json.loads(line)
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(v for k, v in figures.items() if k.startswith("errors_"))
    return figures


def ingest(stack: Stack, config: Config) -> dict[str, list[dict]]:
    import redis

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
    run_wrk(stack, "/bench/bare/", warm, 1)
    run_wrk(stack, "/api/payments/webhook/", warm, 1)
    targets = {"bare": "/bench/bare/", "webhook": "/api/payments/webhook/", "backbone": "/bench/backbone-webhook/"}
    results: dict[str, list[dict]] = {name: [] for name in targets}
    for r in range(config.ingest_rounds):
        for name, path in targets.items():
            pool = pools.get((name, r), pools["webhook", r])
            figures = run_wrk(stack, path, pool, config.ingest_seconds)
            if name != "bare" and figures["exhausted_threads"]:
                raise RuntimeError(f"the pool ran out during the {name} run: make it larger")
            results[name].append(figures)
            log(f"ingest {name} round {r + 1}: {figures['rps']:.0f} req/s, p99 {figures['p99_us'] / 1000:.1f} ms, "
                f"{figures['errors']} errors")  # fmt: skip
    stored = _settled_row_count()
    StripeEvent.objects.all().delete()
    redis.Redis.from_url(stack.redis_url).flushdb()
    results["stored"] = [{"rows": stored}]
    return results


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


def _drain(stack: Stack, done, name: str, timeout: float = 180) -> tuple[float, subprocess.Popen]:
    """Starts a worker on a full queue; returns seconds from its readiness until done() holds."""
    process = start_worker(stack, name)
    ready = worker_ready_at(stack)
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name}: not drained within {timeout} s")
        time.sleep(0.02)
    return time.time() - ready, process


def _queue_empty(stack: Stack) -> bool:
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def drain_noop(stack: Stack, count: int) -> float:
    from bench.tasks import noop

    for i in range(count):
        noop.delay(i)
    seconds, process = _drain(stack, lambda: _queue_empty(stack), "noop")
    _stop(process)
    return seconds


def burst(stack: Stack, config: Config) -> dict:
    from django.db.models import Count

    from bench.events import burst_plans, sign
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
    start = time.monotonic()
    statuses = _post_all(stack, deliveries)
    ingest_seconds = time.monotonic() - start
    burst_rows = StripeEvent.objects.filter(received_at__gte=burst_start)
    rows = burst_rows.count()
    log(f"burst stored {rows} rows in {ingest_seconds:.1f} s; draining with {WORKER_PROCESSES} worker processes")

    def finished() -> bool:
        return not burst_rows.filter(status__in=StripeEvent.UNFINISHED_STATUSES).exists() and _queue_empty(stack)

    seconds, process = _drain(stack, finished, "burst")
    _stop(process)

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
    from bench.events import event_body, payment_intent, sign
    from events.models import Event

    payments = _seed_payments(config.latency_samples, "lat")
    process = start_worker(stack, "latency")
    samples = []
    try:
        for payment_id, event_id, payment_intent_id in payments:
            delivery = sign(event_body("payment_intent.succeeded", payment_intent(
                payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id, amount=1500,
                currency="usd", status="succeeded")), WEBHOOK_SECRET)  # fmt: skip
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
        _stop(process)
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
        facts = machine_facts(config)
        log("per-call costs")
        costs = per_call_costs(stack) + fulfilment_cost()
        log("profile")
        profile = profile_webhook(stack)
        log("ingest")
        ingest_results = ingest(stack, config)
        log("no-op drain")
        noop_seconds = drain_noop(stack, round(config.burst_payments * 4))
        noop_rate = config.burst_payments * 4 / noop_seconds
        burst_results = burst(stack, config)
        log("latency")
        latency_results = latency(stack, config)
    from bench.report import write_report

    write_report(config, facts, costs, profile, ingest_results, noop_rate, burst_results, latency_results)
    log(f"wrote {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
