from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.utils import timezone

from events.models import Event


def event_list_for_owner(*, owner: User) -> QuerySet[Event]:
    """The caller's events, newest first; deleted drafts are gone for their owner."""
    return Event.objects.filter(owner=owner, deleted_at__isnull=True).order_by("-created_at", "-id")


def event_list_public() -> QuerySet[Event]:
    """Live, not cancelled, not yet started: what anyone may browse (a deleted event never went live)."""
    return Event.objects.filter(is_active=True, cancelled_at__isnull=True, starts_at__gte=timezone.now())


def event_get_public(*, event_id: int, viewer: User | AnonymousUser) -> Event | None:
    """An event's public page: a live event, or one cancelled after it went live, for anyone; any other
    event only for its owner (to everyone else it does not exist)."""
    shown = Q(is_active=True) | Q(activated_at__isnull=False, cancelled_at__isnull=False)
    if viewer.is_authenticated:
        shown |= Q(owner=viewer)
    return Event.objects.filter(shown, pk=event_id, deleted_at__isnull=True).first()
