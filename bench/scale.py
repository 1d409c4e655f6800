"""`make bench-scale`: every read path timed on a database of production size.

Grows a PostgreSQL database of its own (`eventpay_bench_scale`) to N webhook inbox rows (default
10,000,000; `--rows` for a quick run) and 1,000,000 events with set-based SQL (generate_series), then
times, against their targets: the API lists, the metrics scrape, the admin's inbox and payments lists,
the sweeper's and catch-up's selectors, a retention batch, and webhook ingest as a ratio to the bare
view on the same database and on an empty one (bench/run.py's harness: gunicorn, wrk, a private Redis).
Writes its section of bench/BENCHMARKS.md. `--reuse` keeps a database built earlier with the same sizes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.db.models import Count

from bench import harness
from bench.events import WEBHOOK_SECRET, ingest_pool
from offline import processes
from offline.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
METRICS_TOKEN = "bench-scale-" + "0" * 32
ORGANISER = "bench-organiser"
OPERATOR = "bench-operator"

FAILED_SHARE = 50  # one inbox row in 50 failed (2 %)
UNFINISHED_ROWS = 200  # the newest rows are still on their way to a worker
MISMATCHES = 50
OPERATOR_ACTION_EVERY = 40  # an operator retried one failed row in 40

READ_TARGET_MS = 300
METRICS_TARGET_MS = 50
INGEST_RATIO_TOLERANCE = 0.10


@dataclass
class Config:
    database_url: str
    rows: int = 10_000_000
    events: int = 1_000_000
    samples: int = 7
    ingest_seconds: int = 5
    ingest_rounds: int = 5
    reuse: bool = False
    out: Path = BENCH / "BENCHMARKS.md"


def log(message: str) -> None:
    print(f"[bench-scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _admin_url(database_url: str) -> tuple[str, str]:
    parsed = urllib.parse.urlparse(database_url)
    return parsed._replace(path="/postgres").geturl(), parsed.path.lstrip("/")


# --- the database ---------------------------------------------------------------------------------

# A compact PaymentIntent event as Stripe sends it (about 1 KB): the inbox's payload column.
PAYLOAD = (
    '{"id":"%1$s","object":"event","api_version":"2026-10-28.endive","created":%2$s,"data":{"object":{'
    '"id":"%3$s","object":"payment_intent","amount":1500,"amount_capturable":0,'
    '"amount_received":1500,'
    '"automatic_payment_methods":{"allow_redirects":"never","enabled":true},"canceled_at":null,'
    '"cancellation_reason":null,"capture_method":"automatic_async",'
    '"confirmation_method":"automatic","created":%2$s,"currency":"usd","customer":null,"description":null,'
    '"last_payment_error":null,"latest_charge":"ch_%4$s","livemode":false,'
    '"metadata":{"event_id":"%5$s","payment_id":"%5$s"},"next_action":null,'
    '"payment_method":"pm_%4$s","payment_method_types":["card"],"processing":null,"receipt_email":null,'
    '"setup_future_usage":null,"shipping":null,"statement_descriptor":null,"status":"succeeded",'
    '"transfer_data":null}},"livemode":false,"pending_webhooks":1,'
    '"request":{"id":null,"idempotency_key":null},"type":"%6$s"}'
)

# One in twenty rows of each type, in the mix a payments account receives; the last three are types
# EventPay does not act on (stored and ignored).
TYPES = [
    *["payment_intent.succeeded"] * 9,
    *["payment_intent.payment_failed"] * 3,
    *["payment_intent.processing"] * 2,
    "payment_intent.canceled",
    "payment_intent.created",
    "charge.refunded",
    "charge.succeeded",
    "customer.created",
    "charge.updated",
]
IGNORED_TYPES = ("payment_intent.created", "charge.succeeded", "customer.created", "charge.updated")


def _pi(expression: str) -> str:
    """The PaymentIntent id of payment number `expression` (the bench's own deterministic ids)."""
    return f"'pi_' || substr(md5('pi' || ({expression})::text), 1, 24)"


def _insert(model, values: dict[str, str | tuple[str, list]]) -> tuple[str, list]:
    """`INSERT INTO` the model's table (every concrete column but the key) `SELECT …`: `values` gives the SQL
    of some columns (with its parameters, if any), the field's own default fills the others (so that a
    field added later needs no change here)."""
    from django.db import connection

    columns, expressions, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        value = values.get(f.name)
        if value is None:
            expressions.append("%s")
            params.append(f.get_db_prep_save(f.get_default(), connection))
        elif isinstance(value, tuple):
            expressions.append(value[0])
            params.extend(value[1])
        else:
            expressions.append(value)
    return f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(expressions)}", params


def _constraints_and_indexes(cursor, tables: list[str]) -> list[tuple[str, str, str]]:
    """(table, name, CREATE/ALTER statement) of every index and constraint but the primary keys."""
    cursor.execute(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('u', 'f', 'c')
        """,
        [tables],
    )
    constraints = [(t, n, f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}') for t, n, d in cursor.fetchall()]
    cursor.execute(
        """
        SELECT tablename, indexname, indexdef FROM pg_indexes
        WHERE tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)
        """,
        [tables],
    )
    return constraints + [(t, n, d) for t, n, d in cursor.fetchall()]


def build(config: Config) -> dict[str, object]:
    """Fills the migrated database: indexes and constraints are dropped while the rows go in and built
    again afterwards from their own definitions (as a restore does)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from events.models import Event
    from payments.models import OperatorAction, Payment, StripeEvent

    n, e = config.rows, config.events
    steps: dict[str, float] = {}
    tables = [Event._meta.db_table, Payment._meta.db_table, StripeEvent._meta.db_table, OperatorAction._meta.db_table]
    users = get_user_model()
    organiser = users.objects.create_user(ORGANISER, f"{ORGANISER}@example.com", "bench-scale-password")
    operator = users.objects.create_superuser(OPERATOR, f"{OPERATOR}@example.com", "bench-scale-password")

    @contextmanager
    def step(name: str):
        started = time.monotonic()
        yield
        steps[name] = time.monotonic() - started
        log(f"build: {name} in {steps[name]:.0f} s")

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        definitions = _constraints_and_indexes(cursor, tables)
        constraints = [d for d in definitions if d[2].startswith("ALTER")]
        indexes = [d for d in definitions if not d[2].startswith("ALTER")]
        for table, name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for _, name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

        # Events: one organiser owns them all, created over the past year; 60 % went live, one live
        # event in 50 was cancelled, start times run from 300 days ago to 430 days ahead.
        with step(f"{e:,} events"):
            sql, params = _insert(Event, {
                "owner": str(organiser.pk),
                "title": "'Meetup #' || i",
                "description": "'Talks, then dinner. Bring a friend; the venue has room for everyone.'",
                "location": "'Lisbon'",
                "created_at": f"now() - ({e} - i) * interval '30 seconds'",
                "starts_at": "now() + ((mod(i, 730)) - 300) * interval '1 day' + (mod(i, 1440)) * interval '1 minute'",
                "is_active": "mod(i, 10) < 6",
                "activated_at": f"CASE WHEN mod(i, 10) < 6 THEN now() - ({e} - i) * interval '30 seconds' END",
                "payment_status": "CASE WHEN mod(i, 10) < 6 THEN 'succeeded' WHEN mod(i, 10) < 8 THEN 'canceled' END",
                "cancelled_at": "CASE WHEN mod(i, 10) < 6 AND mod(i, 50) = 0 THEN now() - interval '1 day' END",
            })  # fmt: skip
            cursor.execute(f"{sql} FROM generate_series(1, {e}) AS i ORDER BY i", params)
            cursor.execute(f"SELECT min(id) FROM {Event._meta.db_table}")
            first_event = cursor.fetchone()[0]

        # Payments: one per paid or abandoned event; the newest abandoned ones are still open
        # (pending or declined), and a few succeeded intents did not match their payment.
        with step("payments"):
            recent = max(e - 2000, 0)
            status = (
                f"CASE WHEN mod(i, 10) < 6 THEN 'succeeded' WHEN i <= {recent} THEN 'canceled' "
                "WHEN mod(i, 10) = 6 THEN 'pending' ELSE 'failed' END"
            )
            sql, params = _insert(Payment, {
                "user": str(organiser.pk),
                "event": f"{first_event} + i - 1",
                "payment_intent_id": _pi("i"),
                "amount": "1500",
                "currency": "'usd'",
                "status": status,
                "last_error": f"CASE WHEN mod(i, 10) = 7 AND i > {recent} THEN 'Your card was declined.' ELSE '' END",
                "created_at": f"now() - ({e} - i) * interval '30 seconds' + interval '1 minute'",
                "updated_at": f"now() - ({e} - i) * interval '30 seconds' + interval '2 minutes'",
            })  # fmt: skip
            cursor.execute(f"{sql} FROM generate_series(1, {e}) AS i WHERE mod(i, 10) < 8 ORDER BY i", params)
            mismatch = "Amount received 100 does not match the payment's 1500."
            cursor.execute(
                f"UPDATE {Payment._meta.db_table} SET last_error = %s WHERE id IN (SELECT id FROM "
                f"{Payment._meta.db_table} WHERE status = 'pending' ORDER BY id DESC LIMIT {MISMATCHES})",
                [mismatch],
            )

        # The inbox: a year of webhook deliveries, oldest first, about the payments above.
        with step(f"{n:,} inbox rows"):
            # A year of arrivals; the rows still unfinished arrived in the last 20 seconds (no backlog alert).
            arrived = (
                f"CASE WHEN j > {n - UNFINISHED_ROWS} THEN now() - ({n} - j) * interval '100 milliseconds' "
                f"ELSE now() - ({n} - j) * (interval '365 days' / {n}) END"
            )
            types = "(ARRAY[" + ", ".join(f"'{t}'" for t in TYPES) + f"])[1 + mod(j, {len(TYPES)})]"
            sql, params = _insert(StripeEvent, {
                "stripe_id": "'evt_' || substr(md5('evt' || j::text), 1, 24)",
                "type": types,
                "livemode": "false",
                "api_version": "'2026-10-28.endive'",
                "payment_intent_id": f"CASE WHEN starts_with({types}, 'customer.') THEN '' ELSE {_pi(f'1 + mod(j * 7, {e})')} END",
                "payload": (
                    f"format(%s, 'evt_' || substr(md5('evt' || j::text), 1, 24), "
                    f"extract(epoch FROM now())::bigint - ({n} - j) * 3, {_pi(f'1 + mod(j * 7, {e})')}, "
                    f"substr(md5(j::text), 1, 24), mod(j, {e}), {types})",
                    [PAYLOAD],
                ),
                "received_at": arrived,
                "enqueued_at": arrived,
                "status": f"CASE WHEN j > {n - UNFINISHED_ROWS} THEN 'enqueued' WHEN mod(j, {FAILED_SHARE}) = 0 THEN 'failed' "
                f"WHEN {types} IN ({', '.join(repr(t) for t in IGNORED_TYPES)}) THEN 'ignored' ELSE 'processed' END",
                "attempts": f"CASE WHEN j > {n - UNFINISHED_ROWS} THEN 0 WHEN mod(j, {FAILED_SHARE}) = 0 THEN 9 ELSE 1 END",
                "last_error": f"CASE WHEN mod(j, {FAILED_SHARE}) = 0 AND j <= {n - UNFINISHED_ROWS} "
                "THEN 'OperationalError: the database went away' ELSE '' END",
                "processed_at": f"CASE WHEN j <= {n - UNFINISHED_ROWS} THEN now() - ({n} - j) * (interval '365 days' / {n}) "
                "+ (mod(j, 900)) * interval '1 millisecond' END",
            })  # fmt: skip
            chunk = 1_000_000
            for start in range(1, n + 1, chunk):
                cursor.execute(
                    f"{sql} FROM generate_series({start}, {min(start + chunk - 1, n)}) AS j ORDER BY j", params
                )
            # The failed rows of the mismatched payments' `succeeded` events.
            sql, params = _insert(StripeEvent, {
                "stripe_id": "'evt_mismatch' || p.id",
                "type": "'payment_intent.succeeded'",
                "livemode": "false",
                "api_version": "'2026-10-28.endive'",
                "payment_intent_id": "p.payment_intent_id",
                "payload": "'{}'",
                "received_at": "p.updated_at",
                "enqueued_at": "p.updated_at",
                "status": "'failed'",
                "attempts": "1",
                "last_error": "p.last_error",
                "processed_at": "p.updated_at",
            })  # fmt: skip
            cursor.execute(f"{sql} FROM {Payment._meta.db_table} p WHERE p.last_error = %s", [*params, mismatch])

        with step("operator actions"):
            sql, params = _insert(OperatorAction, {
                "operator": str(operator.pk),
                "actor": f"'{OPERATOR}'",
                "action": "'retry'",
                "stripe_event": "s.id",
                "payment": "NULL",
                "outcome": "'done'",
                "detail": "'Enqueued for processing after 9 attempt(s).'",
                "created_at": "s.received_at + interval '1 hour'",
            })  # fmt: skip
            cursor.execute(
                f"{sql} FROM {StripeEvent._meta.db_table} s WHERE s.status = 'failed' "
                f"AND mod(s.id, {OPERATOR_ACTION_EVERY * FAILED_SHARE}) = 0",
                params,
            )

        with step("indexes and constraints"):
            for *_, statement in indexes + constraints:
                cursor.execute(statement)

    with step("VACUUM ANALYZE"), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("RESET ALL")
    return {"steps": steps, "build_seconds": sum(steps.values())}


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    """What the in-process Django and the benchmark's gunicorn share (one secret key: the admin's session
    is made here and read there)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "REDIS_URL": redis_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "METRICS_TOKEN": METRICS_TOKEN,
        "LOG_LEVEL": "WARNING",
    }


BUILT = "eventpay bench-scale "


def _built(database_url: str) -> dict | None:
    """What a database built earlier holds and how long it took (its comment), or None."""
    import psycopg

    admin_url, name = _admin_url(database_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
    if not row or not row[0] or not row[0].startswith(BUILT):
        return None
    try:
        return json.loads(row[0].removeprefix(BUILT))
    except ValueError:
        return None


def prepare_database(config: Config) -> dict[str, object]:
    """Builds the database (or reuses one built with the same sizes); returns what the report says about it."""
    import psycopg
    from django.core.management import call_command
    from psycopg import sql

    admin_url, name = _admin_url(config.database_url)
    earlier = _built(config.database_url)
    if config.reuse and earlier and (earlier["rows"], earlier["events"]) == (config.rows, config.events):
        log(f"reusing {name} ({config.rows:,} inbox rows, {config.events:,} events)")
        return {**earlier, "reused": True}
    harness.recreate_database(config.database_url)
    call_command("migrate", verbosity=0)
    built = {"rows": config.rows, "events": config.events, **build(config)}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'COMMENT ON DATABASE "{name}" IS {sql.quote(BUILT + json.dumps(built))}')
    return {**built, "reused": False}


def database_facts(config: Config) -> dict[str, object]:
    """What the database holds (read once, whole-table counts included: this is the benchmark, not a path)."""
    from django.db import connection

    from events.models import Event
    from events.selectors import event_list_public
    from payments.models import OperatorAction, Payment, StripeEvent

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_total_relation_size(%s)), pg_size_pretty(pg_database_size(current_database()))",
            [StripeEvent._meta.db_table],
        )
        inbox_size, database_size = cursor.fetchone()
    return {
        "inbox": dict(StripeEvent.objects.order_by().values_list("status").annotate(n=Count("id"))),
        "events": Event.objects.count(),
        "public": event_list_public().count(),
        "payments": dict(Payment.objects.order_by().values_list("status").annotate(n=Count("id"))),
        "operator_actions": OperatorAction.objects.count(),
        "inbox_size": inbox_size,
        "database_size": database_size,
    }


# --- the stack --------------------------------------------------------------------------------------


def start_web(env: dict[str, str], tmp: Path, name: str, exit_stack: ExitStack) -> int:
    """Gunicorn as `make bench` runs it (bench/gunicorn.conf.py), on the given database; returns its port."""
    port = free_port()
    web = subprocess.Popen(
        [str(harness.BIN / "gunicorn"), "-c", str(BENCH / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=(tmp / f"gunicorn-{name}.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    exit_stack.callback(harness.stop, web)
    wait_for_port(port, process=web)
    harness.wait_http(port, "/api/health/")
    return port


def credentials() -> dict[str, dict[str, str]]:
    """Request headers of the three kinds of caller: anonymous, the organiser (API token), the operator
    (an admin session), and Prometheus (the metrics token)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from core.accounts import api_token_create

    users = get_user_model()
    token = api_token_create(user=users.objects.get(username=ORGANISER))
    operator = users.objects.get(username=OPERATOR)
    session = SessionStore()
    session[SESSION_KEY] = str(operator.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = operator.get_session_auth_hash()
    session.create()
    return {
        "anonymous": {},
        "organiser": {"Authorization": f"Token {token}"},
        "operator": {"Cookie": f"sessionid={session.session_key}"},
        "prometheus": {"Authorization": f"Bearer {METRICS_TOKEN}"},
    }


# --- timing ---------------------------------------------------------------------------------------


@dataclass
class Timing:
    name: str
    target_ms: float
    samples_ms: list[float]
    detail: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms)

    @property
    def met(self) -> bool:
        return self.median_ms <= self.target_ms


def time_http(port: int, path: str, headers: dict[str, str], samples: int) -> tuple[list[float], int, bytes]:
    """Sequential GETs on one keep-alive connection, after two to warm up; each must answer 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, size, body = [], 0, b""
    for i in range(samples + 2):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        if i >= 2:
            times.append(elapsed)
        size = len(body)
    conn.close()
    return times, size, body


def time_call(fn, samples: int) -> list[float]:
    fn()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def read_paths(port: int, config: Config, facts: dict) -> list[Timing]:
    """Every read path of the API, the metrics scrape and the admin, through gunicorn."""
    from core.pagination import MAX_PAGE_SIZE, PAGE_SIZE, BoundedPaginator
    from events.selectors import event_list_public
    from payments.models import Payment, StripeEvent

    who = credentials()
    some_row = StripeEvent.objects.filter(pk__gte=StripeEvent.objects.order_by("pk").values("pk")[:1]).order_by("pk")
    middle = some_row.filter(pk__gte=config.rows // 2).values_list("stripe_id", flat=True).first()
    payment = Payment.objects.order_by("pk").filter(pk__gte=config.events // 3).first()
    public_event = event_list_public().order_by("starts_at", "id").values_list("pk", flat=True).first()
    # The deepest page the paginators offer, or the last page of a database too small to reach it (a quick run).
    rows = sum(facts["inbox"].values())
    deepest = min(BoundedPaginator.MAX_OFFSET // PAGE_SIZE + 1, -(-facts["events"] // PAGE_SIZE))
    deepest_inbox = min(BoundedPaginator.MAX_OFFSET // 50 + 1, -(-rows // 50))
    inbox, payments_admin = "/admin/payments/stripeevent/", "/admin/payments/payment/"

    first_public = time_http(port, "/api/public/events/", {}, 1)[2]
    # A small database (a quick run) may hold a single public page: then there is no second page to time.
    next_public = json.loads(first_public)["next"]
    second_page = []
    if next_public:
        second_public = urllib.parse.urlsplit(next_public)
        second_page.append(("`GET /api/public/events/?cursor=…` (second page)",
                            f"{second_public.path}?{second_public.query}", "anonymous", READ_TARGET_MS))  # fmt: skip
    paths = [
        ("`GET /api/metrics`", "/api/metrics", "prometheus", METRICS_TARGET_MS),
        ("`GET /api/public/events/` (anonymous, first page)", "/api/public/events/", "anonymous", READ_TARGET_MS),
        *second_page,
        ("`GET /api/public/events/{id}/`", f"/api/public/events/{public_event}/", "anonymous", READ_TARGET_MS),
        (f"`GET /api/events/` (the organiser's own {facts['events']:,})", "/api/events/", "organiser", READ_TARGET_MS),
        (f"`GET /api/events/?page={deepest}` (the deepest page offered)", f"/api/events/?page={deepest}",
         "organiser", READ_TARGET_MS),
        (f"`GET /api/events/?page_size={MAX_PAGE_SIZE}`", f"/api/events/?page_size={MAX_PAGE_SIZE}",
         "organiser", READ_TARGET_MS),
        ("`GET /api/payments/` (the organiser's own)", "/api/payments/", "organiser", READ_TARGET_MS),
        ("admin inbox list", inbox, "operator", READ_TARGET_MS),
        ("admin inbox, `status=failed`", f"{inbox}?status__exact=failed", "operator", READ_TARGET_MS),
        ("admin inbox, search for one `evt_` id", f"{inbox}?q={middle}", "operator", READ_TARGET_MS),
        ("admin inbox, search for one `pi_` id", f"{inbox}?q={payment.payment_intent_id}", "operator", READ_TARGET_MS),
        ("admin inbox, `type=charge.refunded`", f"{inbox}?type=charge.refunded", "operator", READ_TARGET_MS),
        ("admin inbox, the deepest page offered", f"{inbox}?p={deepest_inbox}",
         "operator", READ_TARGET_MS),
        ("admin payments list", payments_admin, "operator", READ_TARGET_MS),
        ("admin payments, search for one `pi_` id", f"{payments_admin}?q={payment.payment_intent_id}",
         "operator", READ_TARGET_MS),
        ("admin events list", "/admin/events/event/", "operator", READ_TARGET_MS),
    ]  # fmt: skip
    timings = []
    for name, path, caller, target in paths:
        samples, size, _ = time_http(port, path, who[caller], config.samples)
        timings.append(Timing(name, target, samples, f"{size / 1024:.1f} KB"))
        log(f"{name}: median {timings[-1].median_ms:.1f} ms")
    return timings


def selector_paths(config: Config) -> list[Timing]:
    """The sweeper's, catch-up's and retention's reads, in-process (as beat's tasks run them)."""
    from django.db import transaction
    from django.utils import timezone

    from payments import selectors, stripe_gateway
    from payments.models import StripeEvent
    from payments.services import catch_up, inbox, retention

    known = list(StripeEvent.objects.order_by("pk").values_list("stripe_id", flat=True)[10_000:10_250])
    listed = [
        {"id": event_id, "type": "payment_intent.succeeded", "created": 0}
        for event_id in [*known, *(f"evt_missed{i:020d}" for i in range(250))]
    ]
    stripe_gateway.list_events = lambda **kwargs: iter(listed)

    def missing():
        found = list(catch_up.stripe_events_missing(since=timezone.now() - catch_up.CATCH_UP_WINDOW))
        assert len(found) == 250, len(found)

    def one_retention_batch():
        with transaction.atomic():
            batch = retention.stripe_events_prune_batches(cutoff=timezone.now() - timedelta(days=90))
            assert next(batch) == retention.BATCH_SIZE
            transaction.set_rollback(True)

    calls = [
        ("sweeper: `stripe_events_stale` (unfinished rows older than 120 s, up to 5,000)",
         lambda: list(selectors.stripe_events_stale(older_than=timedelta(seconds=120))[:5000])),
        ("backlog check: the oldest unprocessed row", inbox.stripe_event_backlog_check),
        ("catch-up: which of 500 listed events the inbox lacks", missing),
        ("retention: one batch of 1,000 rows (deleted, rolled back)", one_retention_batch),
    ]  # fmt: skip
    timings = []
    for name, fn in calls:
        timings.append(Timing(name, READ_TARGET_MS, time_call(fn, config.samples)))
        log(f"{name}: median {timings[-1].median_ms:.1f} ms")
    return timings


# --- ingest -----------------------------------------------------------------------------------------


def ingest(ports: dict[str, int], config: Config, tmp: Path) -> dict[str, dict[str, list[dict]]]:
    """wrk against the bare view and the webhook of each database's gunicorn, rounds interleaved so that
    both see the same machine."""
    pool_size = 2000 * config.ingest_seconds
    pools = {}
    for database in ports:
        for r in range(config.ingest_rounds):
            pools[database, r] = tmp / f"pool-{database}-{r}.txt"
            ingest_pool(pools[database, r], pool_size)
    warm = tmp / "pool-warm.txt"
    ingest_pool(warm, 1000)
    for port in ports.values():
        harness.run_wrk(port, "/bench/bare/", warm, 1)
    results: dict[str, dict[str, list[dict]]] = {database: {"bare": [], "webhook": []} for database in ports}
    for r in range(config.ingest_rounds):
        for database, port in ports.items():
            for name, path in (("bare", "/bench/bare/"), ("webhook", "/api/payments/webhook/")):
                figures = harness.run_wrk(port, path, pools[database, r], config.ingest_seconds)
                if name == "webhook" and figures["exhausted_threads"]:
                    raise RuntimeError("the pool ran out during a webhook run: make it larger")
                results[database][name].append(figures)
                log(f"ingest {database} {name} round {r + 1}: {figures['rps']:.0f} req/s")
    return results


def ingest_ratio(runs: dict[str, list[dict]]) -> float:
    return statistics.fmean(r["rps"] for r in runs["webhook"]) / statistics.fmean(r["rps"] for r in runs["bare"])


# --- the report -----------------------------------------------------------------------------------

SECTION_START = "<!-- bench-scale: written by `make bench-scale` (bench/scale.py) -->"
SECTION_END = "<!-- /bench-scale -->"


# The paths measured before this work (their first words, as named above): ms at 2M rows / 200k events.
BEFORE = {
    "`GET /api/metrics`": "3,212",
    "`GET /api/public/events/` (anonymous, first page)": "6,658 (36 MB, unpaged)",
    "`GET /api/events/` (the organiser's own": "13,106 (87 MB, unpaged)",
    "admin inbox list": "3,512",
    "admin inbox, `status=failed`": "1,979",
    "admin inbox, search for one `evt_` id": "1,787",
    "admin payments list": "569",
}


def report(config, facts, built, machine, timings, ingest_results) -> str:
    inbox = facts["inbox"]
    rows = sum(inbox.values())
    lines = [
        SECTION_START,
        f"## Scale: every read path at {rows:,} inbox rows and {facts['events']:,} events",
        "",
        "Written by `make bench-scale` (bench/scale.py); do not edit by hand. A PostgreSQL database of its own,",
        "grown with set-based SQL (generate_series); each path timed sequentially through gunicorn",
        f"(`bench/gunicorn.conf.py`, `DJANGO_DEBUG=false`) or in-process for beat's selectors: median of {config.samples}",
        "after two warm-up requests, on a machine shared with other engineers' test runs.",
        "",
        *[f"- **{key}**: {value}" for key, value in machine.items()],
        "- **inbox**: " + ", ".join(f"{status} {n:,}" for status, n in sorted(inbox.items()))
        + f" ({facts['inbox_size']}, payloads of about 1 KB over a year of arrivals)",
        f"- **events**: {facts['events']:,}, one organiser's ({facts['public']:,} live and upcoming: the public list); "
        "**payments**: " + ", ".join(f"{status} {n:,}" for status, n in sorted(facts["payments"].items()))
        + f"; **operator actions**: {facts['operator_actions']:,}; database {facts['database_size']}",
        f"- **build**: {built['build_seconds'] / 60:.1f} min ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in built["steps"].items())
        + ")" + ("; built by an earlier run and reused (`--reuse`)" if built["reused"] else ""),
        "- **before**: the same paths with the code before pagination, bounded counts and these indexes, measured "
        "on this machine at 2,000,000 inbox rows and 200,000 events (median of 3)",
        "",
        "| path | target ms | median ms | max ms | size | before |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for t in timings:
        before = next((ms for prefix, ms in BEFORE.items() if t.name.startswith(prefix)), "")
        lines.append(
            f"| {t.name} | {t.target_ms:.0f} | {t.median_ms:.1f}{'' if t.met else ' **missed**'} | {t.max_ms:.1f} "
            f"| {t.detail} | {before} |"
        )
    empty, full = ingest_ratio(ingest_results["empty"]), ingest_ratio(ingest_results["scale"])
    lines += [
        "",
        f"Ingest ({config.ingest_rounds} rounds of {config.ingest_seconds} s per database, interleaved; wrk, "
        f"{harness.CONNECTIONS} connections, each event sent once):",
        "",
        "| database | bare view req/s per round | webhook req/s per round | bare view req/s | webhook req/s "
        "| webhook × bare |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for database, label in (("empty", "empty"), ("scale", f"{rows:,} inbox rows")):
        runs = ingest_results[database]
        per_round = {name: ", ".join(f"{r['rps']:.0f}" for r in runs[name]) for name in ("bare", "webhook")}
        lines.append(
            f"| {label} | {per_round['bare']} | {per_round['webhook']} | "
            f"{statistics.fmean(r['rps'] for r in runs['bare']):.0f} | "
            f"{statistics.fmean(r['rps'] for r in runs['webhook']):.0f} | {ingest_ratio(runs):.2f} |"
        )
    lines += [
        "",
        f"Target: the ratio at scale within {INGEST_RATIO_TOLERANCE:.0%} of the empty database's: "
        f"{full:.2f} against {empty:.2f} ({full / empty:.0%}) — {harness.verdict(full >= (1 - INGEST_RATIO_TOLERANCE) * empty)}.",
        SECTION_END,
    ]
    return "\n".join(lines)


def write_section(out: Path, section: str) -> None:
    """Replaces this benchmark's section of BENCHMARKS.md (`make bench` keeps it when it rewrites the rest)."""
    text = out.read_text() if out.exists() else "# EventPay benchmarks\n"
    if SECTION_START in text:
        before, rest = text.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1] if SECTION_END in rest else ""
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    out.write_text(text)


# --- main -----------------------------------------------------------------------------------------


def _empty_database(database_url: str, env: dict[str, str]) -> str:
    _, name = _admin_url(database_url)
    empty_url = urllib.parse.urlparse(database_url)._replace(path=f"/{name}_empty").geturl()
    harness.recreate_database(empty_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT, env={**env, "DATABASE_URL": empty_url}, check=True,
    )  # fmt: skip
    return empty_url


def _drop(database_url: str) -> None:
    import psycopg

    admin_url, name = _admin_url(database_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventpay_bench_scale"))  # fmt: skip
    parser.add_argument("--rows", type=int, default=10_000_000, help="webhook inbox rows (default 10,000,000)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=7, help="timed requests per path (default 7)")
    parser.add_argument("--reuse", action="store_true", help="keep a database built earlier with the same sizes")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end (it is kept for --reuse)")
    parser.add_argument("--out", type=Path, default=BENCH / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="one short ingest round, for trying the harness")
    args = parser.parse_args(argv)
    quick = {"ingest_seconds": 1, "ingest_rounds": 1} if args.quick else {}
    config = Config(database_url=args.database_url, rows=args.rows, events=args.events, samples=args.samples,
                    reuse=args.reuse, out=args.out, **quick)  # fmt: skip
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="eventpay-bench-scale-"))
    with ExitStack() as exit_stack:
        exit_stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        redis_port = free_port()
        redis_process = processes.start_redis(port=redis_port, directory=tmp / "redis", log_path=tmp / "redis.log")
        exit_stack.callback(harness.stop, redis_process)
        env = _environment(config.database_url, f"redis://127.0.0.1:{redis_port}/0")
        # Production's static files (hashed names, as the image collects them): the admin's pages need them.
        env["DJANGO_STATIC_ROOT"] = str(tmp / "static")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        from payments.models import StripeEvent

        built = prepare_database(config)
        with connection.cursor() as cursor:
            # Earlier writes (the build, a previous run's cleanup) go to disk now, not during the measurements.
            cursor.execute("CHECKPOINT")
        facts = database_facts(config)
        machine = harness.machine_facts()
        log(f"database ready: {facts['inbox']} inbox rows, {facts['events']} events")

        port = start_web(env, tmp, "scale", exit_stack)
        timings = read_paths(port, config, facts) + selector_paths(config)

        last_row = StripeEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        empty_url = _empty_database(config.database_url, env)
        exit_stack.callback(_drop, empty_url)
        empty_port = start_web({**env, "DATABASE_URL": empty_url}, tmp, "empty", exit_stack)
        ingest_results = ingest({"empty": empty_port, "scale": port}, config, tmp)

    # Once gunicorn has answered every delivery (it is stopped): the database is left as it was built.
    StripeEvent.objects.filter(pk__gt=last_row).delete()
    connection.close()
    write_section(config.out, report(config, facts, built, machine, timings, ingest_results))
    log(f"wrote its section of {config.out}")
    if args.drop:
        _drop(config.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
