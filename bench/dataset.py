"""The database `make bench-scale` reads: a year of a busy account, grown with set-based SQL.

N webhook inbox rows (default 10,000,000) and 1,000,000 events with their payments and operator
actions, inserted with generate_series while indexes and constraints are dropped, then rebuilt
from their own definitions (as a restore does). A database built earlier with the same sizes can be
reused: its comment says what it holds.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db.models import Count

from bench.harness import BENCH, admin_url, logger, recreate_database

METRICS_TOKEN = "bench-scale-" + "0" * 32
ORGANISER = "bench-organiser"
OPERATOR = "bench-operator"

FAILED_SHARE = 50  # one inbox row in 50 failed (2 %)
UNFINISHED_ROWS = 200  # the newest rows are still on their way to a worker
MISMATCHES = 50
OPERATOR_ACTION_EVERY = 40  # an operator retried one failed row in 40


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


log = logger("bench-scale")


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


BUILT = "eventpay bench-scale "


def _built(database_url: str) -> dict | None:
    """What a database built earlier holds and how long it took (its comment), or None."""
    import psycopg

    url, name = admin_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
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

    url, name = admin_url(config.database_url)
    earlier = _built(config.database_url)
    if config.reuse and earlier and (earlier["rows"], earlier["events"]) == (config.rows, config.events):
        log(f"reusing {name} ({config.rows:,} inbox rows, {config.events:,} events)")
        return {**earlier, "reused": True}
    recreate_database(config.database_url)
    call_command("migrate", verbosity=0)
    built = {"rows": config.rows, "events": config.events, **build(config)}
    with psycopg.connect(url, autocommit=True) as conn:
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
