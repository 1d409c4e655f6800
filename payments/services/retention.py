"""Retention: the webhook inbox keeps what operators may still need, and no more.

Processed and ignored rows are deleted once they are older than the retention period, in batches of
their own transactions (each a bounded DELETE by primary key). Failed and unfinished rows are never
deleted: they wait for a worker or an operator. Rows an operator action points to are kept with their
payload and error, so that the audit trail always names what it was about; operators act on few rows.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from payments import selectors
from payments.models import OperatorAction, StripeEvent

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000


@dataclass
class Pruned:
    cutoff: datetime
    deleted: int = 0
    batches: int = 0
    kept_for_audit: int = 0
    # Stopped by its time budget with rows left for the next run.
    more: bool = False
    errors: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "deleted": self.deleted,
            "batches": self.batches,
            "kept_for_audit": self.kept_for_audit,
            "more": self.more,
            "errors": self.errors,
        }


def stripe_events_prune_batches(
    *, cutoff: datetime, batch_size: int = BATCH_SIZE, dry_run: bool = False
) -> Iterator[int]:
    """Deletes the prunable rows received before `cutoff`, one batch per step; yields each batch's count
    (with `dry_run`, the rows it would delete, deleting nothing)."""
    after = None
    while True:
        batch = list(selectors.stripe_events_prunable(cutoff=cutoff, after=after)[:batch_size])
        if not batch:
            return
        after = batch[-1]
        ids = [pk for _, pk in batch]
        yield len(ids) if dry_run else _delete(ids)


def _delete(ids: list[int]) -> int:
    # One statement re-checks what the batch's read found: a row an operator acted on meanwhile is left,
    # and one whose audit record commits during the delete fails the batch (a deferred foreign key)
    # instead of taking the record with it, as the ORM's cascade would.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_delete_sql(len(ids)), [*ids, *StripeEvent.FINISHED_STATUSES])
        deleted: int = cursor.rowcount
        return deleted


@functools.lru_cache(maxsize=8)
def _delete_sql(size: int) -> str:
    quote = connection.ops.quote_name
    inbox, actions = quote(StripeEvent._meta.db_table), quote(OperatorAction._meta.db_table)
    subject = quote(OperatorAction._meta.get_field("stripe_event").column)
    ids = ", ".join(["%s"] * size)
    statuses = ", ".join(["%s"] * len(StripeEvent.FINISHED_STATUSES))
    # Names come from the models, quoted; every value is a bound parameter.
    return (
        f"DELETE FROM {inbox} WHERE id IN ({ids}) AND status IN ({statuses}) "  # nosec B608
        f"AND NOT EXISTS (SELECT 1 FROM {actions} WHERE {actions}.{subject} = {inbox}.id)"
    )


def stripe_events_prune(
    *, older_than: timedelta, batch_size: int = BATCH_SIZE, time_budget: float | None = None
) -> Pruned:
    """Deletes processed and ignored rows received more than `older_than` ago (beat, hourly); stops after
    `time_budget` seconds, leaving the rest to the next run."""
    pruned = Pruned(cutoff=timezone.now() - older_than)
    deadline = None if time_budget is None else time.monotonic() + time_budget
    try:
        for deleted in stripe_events_prune_batches(cutoff=pruned.cutoff, batch_size=batch_size):
            pruned.deleted += deleted
            pruned.batches += 1
            if deadline is not None and time.monotonic() > deadline:
                pruned.more = True
                break
        pruned.kept_for_audit = selectors.stripe_events_kept_for_audit(cutoff=pruned.cutoff)
    except DatabaseError as exc:
        pruned.errors.append(f"{type(exc).__name__}: {exc}")
        logger.warning("pruning the webhook inbox stopped after %s rows", pruned.deleted, exc_info=True)
    if pruned.deleted:
        logger.info("pruned %s webhook inbox rows received before %s", pruned.deleted, pruned.cutoff.isoformat())
    return pruned
