"""Handing stored rows to the workers, written once for every kind of row that a worker acts on later
(the webhook's inbox rows, the notifications outbox).

The row is the truth, the broker's message only a wake-up call: a row is stored first, then handed over;
a publish the broker refuses is logged and left to the beat sweeper, which re-sends every row stored, or
last handed over, longer ago than its grace period and still unfinished. Workers apply a row once however
often it is sent, so a row handed over twice costs a message, never a second effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import DatabaseError
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
    ids to re-send, oldest first; `what` names the rows in the log."""

    what: str
    send: Callable[[int], object]
    mark_enqueued: Callable[[Sequence[int]], object]
    stale: Callable[[timedelta], QuerySet[Any, int]]

    def publish(self, item_id: int) -> bool:
        """Sends one row's task; a refusal is logged and left to the sweeper."""
        try:
            self.send(item_id)
        except Exception:  # the broker is down: the row is safe in the database, the sweeper re-sends it
            logger.warning("enqueue of %s %s failed; the sweeper will retry it", self.what, item_id, exc_info=True)
            return False
        return True

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
