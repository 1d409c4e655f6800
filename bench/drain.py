"""The worker's side of the drain, in-process: the same kind of `payment_intent.succeeded` rows fulfilled one
at a time (`fulfilment.process_stripe_event`, the design before) and in batches (`process_stripe_events`,
which hands each message to `fulfilment_batch`), in one run.

Each path gets rows of its own, for payments of its own, stored as the webhook stores them. Measured over
the whole drain: the statements sent (counted by a wrapper on Django's connection; BEGIN and COMMIT are
transactions, counted apart), this process's CPU (Python: the worker's share), the CPU of the PostgreSQL
backend serving its connection (read from /proc: the database on this machine), and the wall time.
The broker is not involved: the task body runs in this process, as a worker's pool process runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.cpu import process_cpu
from bench.events import succeeded_body
from bench.stack import seed_payments

EVENTS = 1000
WARM_UP = 50


@dataclass(frozen=True)
class DrainCost:
    path: str
    events: int
    transactions: int
    statements: int
    wall: float  # seconds
    python_cpu: float  # seconds
    postgres_cpu: float | None  # seconds; None when the database runs elsewhere

    def per_event_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None else seconds / self.events * 1000

    @property
    def cpu(self) -> float | None:
        return None if self.postgres_cpu is None else self.python_cpu + self.postgres_cpu


def _stored_rows(count: int, prefix: str) -> list[int]:
    from payments.services import inbox

    rows = []
    for payment_id, event_id, payment_intent_id in seed_payments(count, prefix):
        body = succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id)
        row = inbox.stripe_event_store(event=json.loads(body), payload=body.encode())
        assert row is not None
        rows.append(row.pk)
    return rows


def _one_at_a_time(ids: list[int]) -> int:
    from payments.services import fulfilment

    for stripe_event_id in ids:
        fulfilment.process_stripe_event(stripe_event_id=stripe_event_id)
    return len(ids)


def _batched(size: int) -> Callable[[list[int]], int]:
    def drain(ids: list[int]) -> int:
        from worker.tasks import process_stripe_events

        for start in range(0, len(ids), size):
            process_stripe_events(ids[start : start + size])
        return -(-len(ids) // size)

    return drain


def _measured(path: str, drain: Callable[[list[int]], int], ids: list[int]) -> DrainCost:
    from django.db import connection

    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    backend_before = process_cpu(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        transactions = drain(ids)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    backend_after = process_cpu(backend)
    postgres = backend_after[0] - backend_before[0] if backend_before and backend_after else None
    return DrainCost(path, len(ids), transactions, statements, wall, cpu, postgres)


def drain_costs(*, events: int = EVENTS, batch_sizes: tuple[int, ...] | None = None) -> list[DrainCost]:
    """One at a time, then each batch size (the web's largest hand-over by default), on `events` rows each."""
    from django.conf import settings

    from payments.models import StripeEvent

    paths: list[tuple[str, Callable[[list[int]], int]]] = [("one at a time (before)", _one_at_a_time)]
    paths += [(f"batches of {size}", _batched(size)) for size in batch_sizes or (10, settings.HAND_OVER_MAX_IDS)]
    costs = []
    for n, (path, drain) in enumerate(paths):
        drain(_stored_rows(WARM_UP, f"drainwarm{n}_"))  # imports, caches, prepared plans
        costs.append(_measured(path, drain, _stored_rows(events, f"drain{n}_")))
    StripeEvent.objects.all().delete()
    return costs


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def markdown(costs: list[DrainCost]) -> list[str]:
    """The report's section: figures per event, and each path's ratio to one at a time."""
    before = costs[0]
    lines = [f"## Drain in-process: one at a time vs batched ({before.events:,} `succeeded` events per path)", ""]
    lines += [
        "The worker's side alone, in one process (bench/drain.py): each path fulfils its own rows, stored as the "
        "webhook stores them. *Statements* are those sent on Django's connection (BEGIN and COMMIT are the "
        "transactions); *Python* is this process's CPU, *PostgreSQL* the CPU of the backend serving it (/proc). "
        "The after-commit work (the emails' and card details' hand-over to the broker, the metrics) is included.",
        "",
        "| path | transactions | statements / event | Python CPU ms / event | PostgreSQL CPU ms / event "
        "| wall ms / event | CPU ÷ one at a time | wall ÷ one at a time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for cost in costs:
        cpu_ratio = f"{cost.cpu / before.cpu:.2f}×" if cost.cpu is not None and before.cpu else "n/a"
        lines.append(
            f"| {cost.path} | {cost.transactions:,} | {cost.statements / cost.events:.2f} "
            f"| {_ms(cost.per_event_ms(cost.python_cpu))} | {_ms(cost.per_event_ms(cost.postgres_cpu))} "
            f"| {_ms(cost.per_event_ms(cost.wall))} | {cpu_ratio} | {cost.wall / before.wall:.2f}× |"
        )
    lines += [""]
    return lines
