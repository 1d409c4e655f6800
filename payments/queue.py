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
from typing import Any, Literal

import redis
from celery import current_app
from django.conf import settings
from kombu import Producer
from redis.backoff import NoBackoff
from redis.retry import Retry

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


# A wake-up not answered within this long is presumed lost (its sender killed between ringing and sending, the
# message lost with the broker): the next ring sends another. Longer than a worker takes to reach a waiting
# message, short enough that a lost one delays rows by seconds; the sweeper stays the net for rows nobody rings.
WAKE_UP_LOST_AFTER_SECONDS = 5


WakeUp = Literal["sent", "already waiting", "refused"]


class _BrokerRedis:
    client: redis.Redis | None = None


_redis = _BrokerRedis()
# A forked child (a Celery pool process) opens its own connections, as with the producer above.
os.register_at_fork(after_in_child=lambda: setattr(_redis, "client", None))


def _broker_redis() -> redis.Redis:
    """This process's client of the broker's Redis (thread-safe: a pool of connections). The doorbell is kept
    where the messages are, so that a Redis that lost its messages (a restart without persistence) lost the
    doorbell with them."""
    if _redis.client is None:
        # One immediate retry (a pooled connection a restart closed), not redis-py's ten with back-off: with Redis
        # down a ring must fail at once, the webhook's request waits for it.
        _redis.client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 1)
        )
    return _redis.client


class Doorbell:
    """Wakes the workers for rows waiting in a table, with at most one wake-up message waiting at a time.

    `ring(ids)`, once rows are committed, sends a message (`send(ids)`) only if no wake-up is waiting: a
    Redis key set with NX marks one as sent and not yet answered. A worker `answer`s (deletes the key) before
    it claims waiting rows, so a row committed before a ring that found the key set is committed before that
    answer, and the claim that follows sees it. Under traffic the messages are as many as the workers'
    batches, not as the rows; an idle process's row leaves at once, as before. A worker whose claim was full
    rings again for the rows it left.

    A wake-up the broker refused clears the key, and its rows go to `refused(ids)` (back to waiting for the
    sweeper), as do those of a ring Redis could not answer (the broker is that Redis: it could take no message
    either). A lost wake-up (its ringer killed before sending) expires after WAKE_UP_LOST_AFTER_SECONDS; rows
    nobody rings for meanwhile are re-sent by the sweeper, as every row whose message was lost."""

    def __init__(
        self, *, key: str, send: Callable[[list[int]], object], refused: Callable[[list[int]], object]
    ) -> None:
        self.key, self._send, self._refused = key, send, refused

    def ring(self, ids: list[int]) -> WakeUp:
        """Wakes a worker for `ids` (committed) unless a wake-up is waiting; says which it did."""
        try:
            if not _broker_redis().set(self.key, "1", nx=True, ex=WAKE_UP_LOST_AFTER_SECONDS):
                return "already waiting"
        except redis.RedisError:  # the broker's Redis, down or loading: no message could be sent either
            logger.warning(
                "the doorbell %s cannot be rung; the sweeper sends %s ids", self.key, len(ids), exc_info=True
            )
            return self._refuse(ids)
        try:
            self._send(ids)
        except Exception:  # the broker is down: the rows are stored, and go back to waiting for the sweeper
            logger.warning("the broker refused a wake-up for %s ids; the sweeper retries them", len(ids), exc_info=True)
            self.answer()
            return self._refuse(ids)
        return "sent"

    def _refuse(self, ids: list[int]) -> WakeUp:
        try:
            self._refused(ids)
        except Exception:  # only bookkeeping: the rows stay enqueued, and the sweeper finds them stale
            logger.warning("could not note a refused wake-up for %s ids", len(ids), exc_info=True)
        return "refused"

    def answer(self) -> None:
        """A worker about to claim waiting rows: the next row committed rings again."""
        try:
            _broker_redis().delete(self.key)
        except redis.RedisError:  # the key expires on its own; rows stored meanwhile wait for it at most
            logger.warning("could not answer the doorbell %s", self.key, exc_info=True)


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
