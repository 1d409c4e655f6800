"""Latency: webhook received to event active, one delivery at a time on idle workers."""

from __future__ import annotations

import statistics
import time

from bench.events import WEBHOOK_SECRET, sign, succeeded_body
from bench.harness import stop
from bench.stack import Config, Stack, post_all, seed_payments, start_worker


def latency(stack: Stack, config: Config) -> dict:
    from events.models import Event

    payments = seed_payments(config.latency_samples, "lat")
    process = start_worker(stack, "latency")
    samples = []
    try:
        for payment_id, event_id, payment_intent_id in payments:
            delivery = sign(
                succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id),
                WEBHOOK_SECRET,
            )
            sent = time.time()
            assert post_all(stack, [delivery], concurrency=1) == [200]
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
