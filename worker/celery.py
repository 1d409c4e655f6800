"""The Celery app and its beat schedule, in one place."""

import os
from datetime import timedelta
from typing import Any

from celery import Celery, Task, signals
from celery.schedules import crontab

from worker import metrics  # noqa: F401 (the worker's metrics endpoint, started by Celery's signals)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("eventpay")
# The app every thread of every process sees as `current_app` (web threads send tasks by name through it).
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
# Celery's Django fixup (celery/fixups/django.py) closes the database connection around every task
# (≈2.4x slower on PostgreSQL). Its only knob is this key, read from the app's configuration and absent
# from Celery's documented settings: the fixup then closes connections once every DB_REUSE_MAX tasks
# instead. A public alternative would be to turn the fixup off, which would also drop its fork-safety
# (connections closed in each new pool process). Connections are instead retired as Django retires a
# request's, by CONN_MAX_AGE and health checks (_retire_unusable_connections below).
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
    # Refunds and lost disputes whose webhook never came: a few succeeded payments' charges per run.
    "recheck-succeeded-payments": {
        "task": "worker.tasks.recheck_succeeded_payments",
        "schedule": crontab(minute=29),
    },
    "catch-up-stripe-events": {
        "task": "worker.tasks.catch_up_stripe_events",
        "schedule": crontab(minute=41),
    },
    "requeue-stale-notifications": {
        "task": "worker.tasks.requeue_stale_notifications",
        "schedule": timedelta(seconds=60),
    },
    "reconcile-refunds": {
        "task": "worker.tasks.reconcile_refunds",
        "schedule": timedelta(minutes=5),
    },
    "check-stripe-event-backlog": {
        "task": "worker.tasks.check_stripe_event_backlog",
        "schedule": timedelta(seconds=60),
    },
    "prune-stripe-events": {
        "task": "worker.tasks.prune_stripe_events",
        "schedule": crontab(minute=53),
    },
}


@signals.task_prerun.connect
@signals.task_postrun.connect
def _retire_unusable_connections(task: Task[Any, Any] | None = None, **kwargs: object) -> None:
    # What Django does around each request; not for tasks run in-process (eager), whose caller owns the connection.
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
