"""Latency: webhook received to event active, one delivery at a time on idle workers.

Each sample is the worker's own `activated_at` less the client's send time, so how soon the harness notices
the activation does not enter it; the harness asks every POLL_SECONDS, not in a tight loop, so that its
asking does not take the CPU (2 cores here) from the web process and the worker it measures. The phases
split each sample at the inbox row's `received_at` (stamped by the web process just before its insert) and
at the client's receipt of the 200: request (send → stored), answer (stored → 200: the insert's commit and
the workers' wake-up), and to the worker (200 → active: the broker, the worker's claim and the transition).
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import TypeVar, cast

from bench.events import WEBHOOK_SECRET, sign, succeeded_body
from bench.harness import stop
from bench.stack import Config, Stack, post, seed_payments, start_worker

POLL_SECONDS = 0.005
PHASES = ("request", "answer", "to the worker")
T = TypeVar("T")


def latency(stack: Stack, config: Config) -> dict:
    from events.models import Event
    from payments.models import StripeEvent

    payments = seed_payments(config.latency_samples, "lat")
    process = start_worker(stack, "latency")
    samples = []
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    try:
        for payment_id, event_id, payment_intent_id in payments:
            delivery = sign(
                succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id),
                WEBHOOK_SECRET,
            )
            sent = time.time()
            assert post(stack, delivery) == 200
            answered = time.time()
            live = Event.objects.filter(pk=event_id, is_active=True).values_list("activated_at", flat=True)
            activated_at = _polled(live.first, f"event {event_id} active")  # a new query each call
            received_at = (
                StripeEvent.objects.filter(payment_intent_id=payment_intent_id)
                .values_list("received_at", flat=True)
                .get()
            )
            samples.append((activated_at.timestamp() - sent) * 1000)
            phases["request"].append((received_at.timestamp() - sent) * 1000)
            phases["answer"].append((answered - received_at.timestamp()) * 1000)
            phases["to the worker"].append((activated_at.timestamp() - answered) * 1000)
            time.sleep(0.02)
        celery_floor = celery_latency(stack, config.latency_samples)
    finally:
        stop(process)
    samples.sort()
    return {
        "samples": len(samples),
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, round(0.99 * len(samples)) - 1)],
        "max_ms": samples[-1],
        "phases_p50_ms": {name: statistics.median(values) for name, values in phases.items()},
        "celery_p50_ms": statistics.median(celery_floor),
    }


def celery_latency(stack: Stack, samples: int) -> list[float]:
    """Celery's own part on the same idle worker: from `delay()` of a task that does nothing but note the
    time its body starts (bench/tasks.py) to that time, in ms. What any task-queue design pays per hop."""
    import redis

    from bench.tasks import stamp

    client = redis.Redis.from_url(stack.redis_url)
    floor = []
    for i in range(samples):
        key = f"bench:stamp:{i}"
        client.delete(key)
        sent = time.time()
        stamp.delay(key)
        started = _polled(functools.partial(client.get, key), f"the stamp task {i} run")
        floor.append((float(cast(bytes, started)) - sent) * 1000)
        time.sleep(0.02)
    return floor


def _polled(fetch: Callable[[], T | None], what: str, timeout: float = 5) -> T:
    """fetch()'s first answer that is not None, asked every POLL_SECONDS."""
    deadline = time.monotonic() + timeout
    while (value := fetch()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        time.sleep(POLL_SECONDS)
    return value
