"""Handing stored rows to the workers, written once for every kind of row that a worker acts on later
(the webhook's inbox rows, the notifications outbox).

The row is the truth, the broker's message only a wake-up call: a row is stored first, then handed over;
a publish the broker refuses is logged and left to the beat sweeper, which re-sends every row stored, or
last handed over, longer ago than its grace period and still unfinished. Workers apply a row once however
often it is sent, so a row handed over twice costs a message, never a second effect.

Rows a transaction writes are handed over once it commits (`HandOver.on_commit`): the rows one step
gives it leave together, in one message (`send_group`), not one message each.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import QuerySet

from payments import queue

logger = logging.getLogger(__name__)

# What a row keeps of the last error that befell it (a traceback's last line, an SMTP answer).
MAX_ERROR_LENGTH = 2000
# Rows one sweep re-sends at most; the next sweep, seconds later, takes the rest, oldest first.
SWEEP_MAX_ROWS = 5000


@dataclass(frozen=True)
class HandOver:
    """How one kind of row reaches the workers.

    `send(id)` publishes the row's task (raises when the broker refuses it); `mark_enqueued(ids)` notes
    that the broker took them (for the sweeper's grace period); `stale(older_than)` is the query of the
    ids to re-send, oldest first; `what` names the rows in the log.

    For `on_commit`: `send_group(ids)` publishes the task of several rows in one message (raises when the
    broker refuses it), and `refused(ids)` notes rows the broker refused, recorded as handed over."""

    what: str
    send: Callable[[int], object]
    mark_enqueued: Callable[[Sequence[int]], object]
    stale: Callable[[timedelta], QuerySet[Any, int]]
    send_group: Callable[[list[int]], object] | None = None
    refused: Callable[[list[int]], object] | None = None

    def publish(self, item_id: int) -> bool:
        """Sends one row's task; a refusal is logged and left to the sweeper."""
        return self._published(lambda: self.send(item_id), f"{self.what} {item_id}")

    def publish_group(self, item_ids: list[int]) -> bool:
        """Sends the rows' task in one message (`send_group`); a refusal is logged and left to the sweeper."""
        send_group = self.send_group
        if send_group is None:
            raise TypeError(f"the {self.what} hand-over sends no groups")
        return self._published(lambda: send_group(item_ids), f"a group of {len(item_ids)} {self.what}s")

    def _published(self, send: Callable[[], object], which: str) -> bool:
        try:
            send()
        except Exception:  # the broker is down: the rows are safe in the database, the sweeper re-sends them
            logger.warning("enqueue of %s failed; the sweeper will retry it", which, exc_info=True)
            return False
        return True

    def on_commit(self, item_ids: Sequence[int]) -> None:
        """Hands rows the current transaction wrote to the workers once it commits, in one message
        (`publish_group`); at once outside a transaction. A group the broker refuses goes to `refused`, for
        the sweeper; a rolled-back transaction (or savepoint) sends nothing: Django drops its callbacks.
        Callers give all the rows one step writes at once (a batch's emails), so that they leave together."""
        if item_ids:
            transaction.on_commit(functools.partial(self._publish_committed, list(item_ids)), robust=True)

    def _publish_committed(self, item_ids: list[int]) -> None:
        if self.publish_group(item_ids) or self.refused is None:
            return
        try:
            self.refused(item_ids)
        except DatabaseError:  # only bookkeeping: the rows look handed over, and the sweeper finds them stale
            logger.warning("could not note a refused group of %s %ss", len(item_ids), self.what, exc_info=True)

    def enqueue(self, item_id: int) -> bool:
        """Hands one stored row to the workers and notes it; False when the broker refused it."""
        if not self.publish(item_id):
            return False
        try:
            self.mark_enqueued([item_id])
        except DatabaseError:  # only bookkeeping: the task is on its way
            logger.warning("could not mark %s %s enqueued", self.what, item_id, exc_info=True)
        return True

    def requeue_stale(self, *, older_than: timedelta) -> int:
        """Re-sends up to SWEEP_MAX_ROWS rows that never reached a worker, in batches of one round trip to
        the broker each (beat); how many the broker took."""
        stale = list(self.stale(older_than)[:SWEEP_MAX_ROWS])
        count = 0
        for batch in queue.sent_in_batches(stale, self.send):
            self.mark_enqueued(batch)
            count += len(batch)
        if count:
            logger.warning("re-enqueued %s %ss that never reached a worker", count, self.what)
        return count
