"""The Celery app and its beat schedule, in one place."""

import base64
import functools
import os
from dataclasses import dataclass
from datetime import timedelta

import redis
from celery import Celery, signals
from celery.schedules import crontab
from celery.utils.nodenames import anon_nodename
from celery.utils.saferepr import saferepr
from kombu.utils import json as kombu_json
from kombu.utils.uuid import uuid
from redis.backoff import NoBackoff
from redis.retry import Retry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("eventpay")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup closes the database connection around every task (≈2.4x slower on
# PostgreSQL); keep connections and let Django's CONN_MAX_AGE and health checks retire them.
app.conf["CELERY_DB_REUSE_MAX"] = 1_000_000
app.autodiscover_tasks(["worker"])

app.conf.beat_schedule = {
    "requeue-stale-stripe-events": {
        "task": "worker.tasks.requeue_stale_stripe_events",
        "schedule": timedelta(seconds=60),
    },
    "reconcile-pending-payments": {
        "task": "worker.tasks.reconcile_pending_payments",
        "schedule": timedelta(minutes=5),
    },
    "cancel-abandoned-payments": {
        "task": "worker.tasks.cancel_abandoned_payments",
        "schedule": crontab(minute=17),
    },
    "catch-up-stripe-events": {
        "task": "worker.tasks.catch_up_stripe_events",
        "schedule": crontab(minute=41),
    },
    "check-stripe-event-backlog": {
        "task": "worker.tasks.check_stripe_event_backlog",
        "schedule": timedelta(seconds=60),
    },
}


@signals.task_prerun.connect
@signals.task_postrun.connect
def _retire_unusable_connections(task=None, **kwargs):
    # What Django does around each request; not for tasks run in-process (eager), whose caller owns the connection.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


def can_publish_directly() -> bool:
    return _direct_publishing().enabled


@dataclass(frozen=True)
class _DirectPublishing:
    enabled: bool
    client: redis.Redis | None = None
    queue: str = ""
    time_limits: tuple = (None, None)
    origin: str = ""


@functools.cache
def _direct_publishing() -> _DirectPublishing:
    conf = app.conf  # read once: each lookup goes through Celery's and Django's settings layers
    if not str(conf.broker_url).startswith("redis://") or conf.task_routes or conf.task_always_eager:
        return _DirectPublishing(enabled=False)
    transport = conf.broker_transport_options or {}
    options = {k: transport[k] for k in ("socket_timeout", "socket_connect_timeout", "health_check_interval") if k in transport}
    # One immediate retry covers a pooled connection that Redis closed; a Redis that is down fails at once.
    client = redis.Redis.from_url(conf.broker_url, retry=Retry(NoBackoff(), 1), **options)
    return _DirectPublishing(
        enabled=True,
        client=client,
        queue=conf.task_default_queue,
        time_limits=(conf.task_time_limit, conf.task_soft_time_limit),
        origin=anon_nodename(),
    )


def publish(task, args: tuple) -> str:
    """Sends `task(*args)` to the default queue as the protocol-2 message `apply_async` would, in one LPUSH.

    kombu builds a producer and a new Redis client for every message, and Celery reads a dozen settings
    (about 0.5 ms of CPU: most of the webhook's cost beyond its INSERT). This keeps one thread-safe client
    per process and writes the envelope kombu's Redis transport writes, which any Celery worker consumes;
    tests/worker/test_direct_publish.py holds it equal to apply_async's. Returns the task id.
    """
    direct = _direct_publishing()
    task_id = uuid()
    headers = {
        "lang": "py",
        "task": task.name,
        "id": task_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [task.time_limit or direct.time_limits[0], task.soft_time_limit or direct.time_limits[1]],
        "root_id": task_id,
        "parent_id": None,
        "argsrepr": saferepr(args),
        "kwargsrepr": "{}",
        "origin": direct.origin,
        "ignore_result": bool(task.ignore_result),
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    body = [list(args), {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]
    envelope = {
        "body": base64.b64encode(kombu_json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": task_id,
            "reply_to": app.thread_oid,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": direct.queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": uuid(),
        },
    }
    direct.client.lpush(direct.queue, kombu_json.dumps(envelope))
    return task_id
