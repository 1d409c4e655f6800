"""How payments hands work to the Celery workers: by task name, through Celery's own API.

The tasks live in worker/tasks.py, which calls payments' services; naming them here, instead of
importing them, keeps the dependency one way. The Celery app (worker/celery.py) is loaded with
Django's apps (`worker` is an installed app), so `current_app` is configured in every process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from celery import current_app
from kombu import Producer

PROCESS_STRIPE_EVENT = "worker.tasks.process_stripe_event"
RETRY_STRIPE_EVENTS = "worker.tasks.retry_stripe_events"
SEND_NOTIFICATION = "worker.tasks.send_notification"
FETCH_CHARGE_DETAILS = "worker.tasks.fetch_charge_details"

# Tasks a sweeper re-sends in one round trip to the broker.
SEND_BATCH_SIZE = 500

logger = logging.getLogger(__name__)


class _ThreadProducer(threading.local):
    producer: Producer | None = None


_local = _ThreadProducer()
# A forked child (a Celery pool process) must not share its parent's broker socket: it opens its own.
os.register_at_fork(after_in_child=lambda: setattr(_local, "producer", None))


def _producer() -> Producer:
    """This thread's producer on a broker connection of its own, kept for the life of the thread.

    Handed to `apply_async`, it spares every message the acquire and release of a producer from
    Celery's pool; everything else is Celery's own path (routing, serializer, retry policy, signals).
    Producers are not shared between threads, as kombu requires; a lost connection is re-made by the
    publish's retry policy."""
    if _local.producer is None:
        _local.producer = current_app.amqp.Producer(current_app.connection_for_write())
    return _local.producer


def _send(task_name: str, *args: Any, **kwargs: Any) -> str:
    """Sends one task through its own `apply_async` (its options, routing and signals); returns the task id."""
    return current_app.tasks[task_name].apply_async(args=args, kwargs=kwargs or None, producer=_producer()).id


def sent_in_batches(ids: Sequence[int], send: Callable[[int], Any]) -> Iterator[Sequence[int]]:
    """Sends one task per id (`send(id)`), up to SEND_BATCH_SIZE of them in one round trip to the broker,
    and yields each batch once the broker has taken it; stops, logging why, at the first it refuses.

    For the sweepers, which re-send thousands of tasks after an outage. Each task still goes through
    its own `apply_async` (options, routing, signals); kombu's `Producer.batch` holds the messages and
    writes them in one pipeline (on Redis; a broker without batches gets them one by one). A refused
    batch may have been written in part: its tasks are sent again by the next sweep, which fulfilment
    applies once however often they arrive."""
    for start in range(0, len(ids), SEND_BATCH_SIZE):
        batch = ids[start : start + SEND_BATCH_SIZE]
        try:
            with _producer().batch(max_size=len(batch)):  # type: ignore[attr-defined]  # kombu 5.7's, newer than its stubs
                for each in batch:
                    send(each)
        except Exception:  # the broker is down: the rows are safe, the next sweep tries again
            logger.warning("the broker refused a batch of %s tasks; the next sweep retries", len(batch), exc_info=True)
            return
        yield batch


def stripe_event_process(*, stripe_event_id: int) -> None:
    """Asks a worker to apply one inbox row; raises if the broker cannot take it."""
    _send(PROCESS_STRIPE_EVENT, stripe_event_id)


def stripe_events_retry(*, stripe_event_ids: list[int], operator_id: int) -> str:
    """An operator's bulk retry, run by a worker; its outcome is kept as a task result."""
    return _send(RETRY_STRIPE_EVENTS, stripe_event_ids=stripe_event_ids, operator_id=operator_id)


def notification_send(*, notification_id: int) -> None:
    """Asks a worker to send one notification email; raises if the broker cannot take it."""
    _send(SEND_NOTIFICATION, notification_id)


def charge_details_fetch(*, payment_id: int) -> None:
    """Asks a worker to copy the card and Stripe's receipt link of a succeeded payment from its charge."""
    _send(FETCH_CHARGE_DETAILS, payment_id)
