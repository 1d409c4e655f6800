"""The drain ceiling: a Celery task that does nothing, consumed by the same worker configuration."""

import functools
import json
import os
import time

import redis
from celery import signals

from bench.cpu import process_cpu, process_tree
from worker.celery import app


@app.task(name="bench.noop", acks_late=True, ignore_result=True)
def noop(n: int) -> None:
    return None


@app.task(name="bench.stamp", acks_late=True, ignore_result=True)
def stamp(key: str) -> None:
    """The moment its body starts, kept in the broker's Redis: with the send time, Celery's own latency."""
    _broker_redis().set(key, time.time(), ex=300)


@functools.cache
def _broker_redis() -> redis.Redis:
    """One client per worker process (created on first use, after the pool's fork), not a connection per task."""
    return redis.Redis.from_url(app.conf.broker_url)


@signals.worker_ready.connect
def _announce_ready(sender, **kwargs):
    # bench/stack.py times a drain, and counts the CPU of this worker's processes, from this moment:
    # the worker's start-up is not counted.
    cpu = {pid: usage[0] for pid in process_tree(os.getpid()) if (usage := process_cpu(pid)) is not None}
    redis.Redis.from_url(app.conf.broker_url).set("bench:worker_ready", json.dumps({"at": time.time(), "cpu": cpu}))
