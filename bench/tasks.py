"""The drain ceiling: a Celery task that does nothing, consumed by the same worker configuration."""

import time

import redis
from celery import signals

from worker.celery import app


@app.task(name="bench.noop", acks_late=True, ignore_result=True)
def noop(n: int) -> None:
    return None


@signals.worker_ready.connect
def _announce_ready(sender, **kwargs):
    # bench/run.py times a drain from this moment, so that the worker's start-up is not counted.
    redis.Redis.from_url(app.conf.broker_url).set("bench:worker_ready", repr(time.time()))
