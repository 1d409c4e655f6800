"""The no-op drain: what the worker command alone drains per second (the burst drain's reference)."""

from __future__ import annotations

from bench.stack import Phase, Stack, drain, queue_empty


def drain_noop(stack: Stack, count: int) -> Phase:
    from bench.tasks import noop

    for i in range(count):
        noop.delay(i)
    return drain(stack, lambda: queue_empty(stack), "no-op drain", count)[1]
