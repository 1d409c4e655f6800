"""What an organiser does to an event: create, edit, cancel, delete. Edits, cancellations and deletions are
recorded in the event's audit trail (`EventAction`) in the same transaction, under the event's row lock
(a deletion calls Stripe first, with no lock held: see `event_delete`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict, NotFound
from events.models import Event, EventAction


@dataclass(frozen=True)
class DeletionGuard:
    """What an app that holds something for a draft does when it is deleted. Events cannot import payments
    (dependencies run one way): payments registers its guard when Django starts.

    `release` runs outside any transaction (it may call Stripe) and raises an ApplicationError to refuse;
    `check` runs under the event's row lock in the deleting transaction and refuses what began meanwhile;
    `lease` is the longest `release` may take."""

    release: Callable[[Event], None]
    check: Callable[[Event], None]
    lease: timedelta


_deletion_guards: list[DeletionGuard] = []

EDITABLE_FIELDS = ("title", "description", "location", "starts_at")


def event_deletion_guard_register(guard: DeletionGuard) -> None:
    if guard not in _deletion_guards:
        _deletion_guards.append(guard)


@transaction.atomic
def event_create(*, owner: User, title: str, starts_at: datetime, description: str = "", location: str = "") -> Event:
    return Event.objects.create(
        owner=owner, title=title, starts_at=starts_at, description=description, location=location
    )


def _locked(*, event_id: int, owner: User) -> Event:
    # Another user's event, or a deleted one, does not exist for the caller.
    event = Event.objects.select_for_update().filter(pk=event_id, owner=owner, deleted_at__isnull=True).first()
    if event is None:
        raise NotFound("Event not found.")
    return event


def _record(*, event: Event, user: User, action: str, detail: str = "") -> None:
    EventAction.objects.create(event=event, user=user, actor=user.get_username(), action=action, detail=detail)


@transaction.atomic
def event_update(*, event_id: int, owner: User, changes: dict[str, Any]) -> Event:
    """Changes any of an event's title, description, location and start time, before or after it goes live
    (a live event's public page shows the change at once); a cancelled event is final."""
    event = _locked(event_id=event_id, owner=owner)
    if event.cancelled_at is not None:
        raise Conflict("A cancelled event cannot be edited.")
    changed = [name for name in EDITABLE_FIELDS if name in changes and getattr(event, name) != changes[name]]
    if changed:
        for name in changed:
            setattr(event, name, changes[name])
        event.save(update_fields=changed)
        _record(event=event, user=owner, action=EventAction.Action.EDIT, detail=f"Changed {', '.join(changed)}.")
    return event


@transaction.atomic
def event_cancel(*, event_id: int, owner: User) -> Event:
    """Calls off a live event: it leaves the public list, its page says cancelled. Its fee stays paid (an
    operator may refund it)."""
    event = _locked(event_id=event_id, owner=owner)
    if event.status != Event.Status.LIVE:
        raise Conflict(f"Only a live event can be cancelled; this one is {event.status}.")
    event.cancelled_at = timezone.now()
    event.save(update_fields=["cancelled_at"])
    _record(event=event, user=owner, action=EventAction.Action.CANCEL)
    return event


def event_delete(*, event_id: int, owner: User) -> None:
    """Deletes a draft that was never paid. The row stays, marked deleted, for the payments that point at it.

    No transaction or row lock is held while the guards release what other apps hold for it (payments
    cancels an open PaymentIntent at Stripe): the deletion takes a lease on the event (`deletion_started_at`),
    commits, releases, then marks the event deleted under its lock, unless something began meanwhile. A lease
    left by a deletion that died is taken over once it is older than the guards may take."""
    event, started_at = _deletion_start(event_id=event_id, owner=owner)
    try:
        for guard in _deletion_guards:
            guard.release(event)
        _deletion_finish(event_id=event_id, owner=owner, started_at=started_at)
    except Exception:
        # The next attempt need not wait for the lease.
        Event.objects.filter(pk=event_id, deletion_started_at=started_at).update(deletion_started_at=None)
        raise


def _deletion_lease() -> timedelta:
    return sum((guard.lease for guard in _deletion_guards), timedelta(seconds=5))


@transaction.atomic
def _deletion_start(*, event_id: int, owner: User) -> tuple[Event, datetime]:
    event = _locked(event_id=event_id, owner=owner)
    _check_draft(event)
    now = timezone.now()
    if event.deletion_started_at is not None and event.deletion_started_at > now - _deletion_lease():
        raise Conflict("This event is being deleted.")
    event.deletion_started_at = now
    event.save(update_fields=["deletion_started_at"])
    return event, now


@transaction.atomic
def _deletion_finish(*, event_id: int, owner: User, started_at: datetime) -> None:
    event = _locked(event_id=event_id, owner=owner)
    if event.deletion_started_at != started_at:
        raise Conflict("This event is being deleted.")  # our lease was taken over
    _check_draft(event)
    for guard in _deletion_guards:
        guard.check(event)
    event.deleted_at = timezone.now()
    event.save(update_fields=["deleted_at"])
    _record(event=event, user=owner, action=EventAction.Action.DELETE)


def _check_draft(event: Event) -> None:
    if event.activated_at is not None or event.cancelled_at is not None:
        raise Conflict("This event has been paid: it can be cancelled, not deleted.")
