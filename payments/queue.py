"""How payments hands work to the Celery workers: by task name, through Celery's own API.

The tasks live in worker/tasks.py, which calls payments' services; naming them here, instead of
importing them, keeps the dependency one way. The Celery app (worker/celery.py) is loaded with
Django's apps (`worker` is an installed app), so `current_app` is configured in every process.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from celery import current_app
from django.conf import settings
from kombu import Producer

PROCESS_STRIPE_EVENT = "worker.tasks.process_stripe_event"
PROCESS_STRIPE_EVENTS = "worker.tasks.process_stripe_events"
RETRY_STRIPE_EVENTS = "worker.tasks.retry_stripe_events"
SEND_NOTIFICATION = "worker.tasks.send_notification"
SEND_NOTIFICATIONS = "worker.tasks.send_notifications"
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


_hand_overs: list[GroupedHandOver] = []
# A grouped hand-over that had nothing added for this many of its windows is idle: its next id leaves at once.
IDLE_AFTER_WINDOWS = 5


def hand_overs_flush() -> None:
    """Sends what every grouped hand-over of this process holds: for a process about to exit."""
    for hand_over in _hand_overs:
        hand_over.flush()


class GroupedHandOver:
    """Hands ids to the broker in groups: the ids added by this process's threads within a few milliseconds
    (`HAND_OVER_MAX_WAIT_MS` after the first, or `HAND_OVER_MAX_IDS` of them) leave in one message. An id
    added to an idle hand-over (nothing added for `IDLE_AFTER_WINDOWS` windows) leaves at once: a quiet
    process adds no delay to a delivery, and under traffic the grouping keeps the workers' messages fewer
    than the rows.

    `add` only appends to a list: a daemon thread, started by the first `add` of each process, sends the
    groups with `send(ids)`, and hands a group the broker refused to `refused(ids)`. What is waiting when the
    process exits is sent by `flush` (atexit, and gunicorn's worker_exit). A process killed before its group
    left loses only the message: the rows are stored, and the sweeper re-sends them."""

    def __init__(self, *, send: Callable[[list[int]], object], refused: Callable[[list[int]], object]) -> None:
        self._send, self._refused = send, refused
        self._reset()
        _hand_overs.append(self)
        # A forked child has none of its parent's threads: it starts its own, and sends none of its parent's ids.
        os.register_at_fork(after_in_child=self._reset)
        atexit.register(self.flush)

    def _reset(self) -> None:
        self._pending: list[int] = []
        self._arrived = threading.Condition()
        self._sending = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_added = -math.inf
        self._at_once = False

    def add(self, *item_ids: int) -> None:
        now = time.monotonic()
        with self._arrived:
            idle = now - self._last_added >= IDLE_AFTER_WINDOWS * settings.HAND_OVER_MAX_WAIT_MS / 1000
            self._at_once |= idle and not self._pending
            self._last_added = now
            self._pending.extend(item_ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="grouped-hand-over", daemon=True)
                self._thread.start()
            self._arrived.notify()

    def flush(self) -> None:
        """Sends, in the calling thread, every id added so far (after the group on its way, if any)."""
        with self._sending, self._arrived:
            group, self._pending = self._pending, []
        self._publish(group)

    def _run(self) -> None:
        while True:
            with self._arrived:
                self._arrived.wait_for(lambda: self._pending)
                if not self._at_once:
                    self._arrived.wait_for(
                        lambda: len(self._pending) >= settings.HAND_OVER_MAX_IDS,
                        timeout=settings.HAND_OVER_MAX_WAIT_MS / 1000,
                    )
            with self._sending:
                with self._arrived:
                    group, self._pending, self._at_once = self._pending, [], False
                self._publish(group)

    def _publish(self, ids: list[int]) -> None:
        for start in range(0, len(ids), settings.HAND_OVER_MAX_IDS):
            group = ids[start : start + settings.HAND_OVER_MAX_IDS]
            try:
                self._send(group)
            except Exception:  # the broker is down: the rows are stored, and go back to waiting for the sweeper
                logger.warning(
                    "the broker refused a group of %s ids; the sweeper retries them", len(group), exc_info=True
                )
                try:
                    self._refused(group)
                except Exception:  # only bookkeeping: the rows stay enqueued, and the sweeper finds them stale
                    logger.warning("could not note a refused group of %s ids", len(group), exc_info=True)


def stripe_events_process(*, stripe_event_ids: list[int]) -> None:
    """Asks a worker to apply these inbox rows, in one message; raises if the broker cannot take it."""
    _send(PROCESS_STRIPE_EVENTS, stripe_event_ids)


def stripe_event_process(*, stripe_event_id: int) -> None:
    """Asks a worker to apply one inbox row; raises if the broker cannot take it."""
    _send(PROCESS_STRIPE_EVENT, stripe_event_id)


def stripe_events_retry(*, stripe_event_ids: list[int], operator_id: int) -> str:
    """An operator's bulk retry, run by a worker; its outcome is kept as a task result."""
    return _send(RETRY_STRIPE_EVENTS, stripe_event_ids=stripe_event_ids, operator_id=operator_id)


def notification_send(*, notification_id: int) -> None:
    """Asks a worker to send one notification email; raises if the broker cannot take it."""
    _send(SEND_NOTIFICATION, notification_id)


def notifications_send(*, notification_ids: list[int]) -> None:
    """Asks a worker to send these notification emails, in one message; raises if the broker cannot take it."""
    _send(SEND_NOTIFICATIONS, notification_ids)


def charge_details_fetch(*, payment_id: int) -> None:
    """Asks a worker to copy the card and Stripe's receipt link of a succeeded payment from its charge."""
    _send(FETCH_CHARGE_DETAILS, payment_id)
