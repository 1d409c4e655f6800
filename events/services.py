"""What an organiser does to an event: create, edit, cancel, delete. Edits, cancellations and deletions are
recorded in the event's audit trail (`EventAction`) in the same transaction, under the event's row lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.exceptions import Conflict, NotFound
from events.models import Event, EventAction

# Checks run before a draft is deleted, by the apps that hold something for it. Each raises an
# ApplicationError to refuse, or releases what it holds (payments cancels the open PaymentIntent). Events
# cannot import payments (dependencies run one way): payments registers its guard when Django starts.
DeletionGuard = Callable[[Event], None]
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


@transaction.atomic
def event_delete(*, event_id: int, owner: User) -> None:
    """Deletes a draft that was never paid. The row stays, marked deleted, for the payments that point at it;
    the guards release what other apps hold for it first (an open PaymentIntent is cancelled at Stripe)."""
    event = _locked(event_id=event_id, owner=owner)
    if event.activated_at is not None or event.cancelled_at is not None:
        raise Conflict("This event has been paid: it can be cancelled, not deleted.")
    for guard in _deletion_guards:
        guard(event)
    event.deleted_at = timezone.now()
    event.save(update_fields=["deleted_at"])
    _record(event=event, user=owner, action=EventAction.Action.DELETE)
