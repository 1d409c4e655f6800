from django.db.models import Q, QuerySet
from django.utils import timezone

from events.models import Event


def event_list_for_owner(*, owner) -> QuerySet[Event]:
    return Event.objects.filter(owner=owner).order_by("-created_at", "-id")


def event_list_public() -> QuerySet[Event]:
    """Live, not cancelled, not yet started: what anyone may browse."""
    return Event.objects.filter(is_active=True, cancelled_at__isnull=True, starts_at__gte=timezone.now())


def event_get_public(*, event_id: int, viewer) -> Event | None:
    """An event's public page: a live event, or one cancelled after it went live, for anyone; any other
    event only for its owner (to everyone else it does not exist)."""
    shown = Q(is_active=True) | Q(activated_at__isnull=False, cancelled_at__isnull=False)
    if viewer.is_authenticated:
        shown |= Q(owner=viewer)
    return Event.objects.filter(shown, pk=event_id).first()
