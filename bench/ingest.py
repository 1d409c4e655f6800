"""Ingest: wrk against the bare view, the webhook and the backbone's webhook; PostgreSQL's own ceiling
(pgbench); the gunicorn workers' profile under load (py-spy)."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import time
from pathlib import Path

from bench.events import ingest_pool, signed_events
from bench.harness import BIN, run_measured, run_wrk
from bench.stack import GUNICORN_THREADS, Config, Phase, Stack, cpu_meter, flush_redis, log


def _measured_wrk(stack: Stack, name: str, path: str, pool: Path, seconds: int) -> tuple[dict, Phase]:
    meter = cpu_meter(stack)
    start = meter.snapshot()
    figures = run_wrk(stack.web_port, path, pool, seconds)
    usage = meter.since(start)
    usage.add("load generator", figures["load_cpu"])
    return figures, Phase(name, int(figures["requests"]), figures["duration_us"] / 1e6, usage)


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
    flush_redis(stack)
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
    columns = [f.column for f in StripeEvent._meta.concrete_fields if f.column and not f.primary_key]
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
    flush_redis(stack)
    return outputs["flamegraph"], outputs["raw"].read_text()
