from django.db.models import QuerySet

from events.models import Event


def event_list_for_owner(*, owner) -> QuerySet[Event]:
    return Event.objects.filter(owner=owner).order_by("-created_at", "-id")


def event_list_public() -> QuerySet[Event]:
    return Event.objects.filter(is_active=True).order_by("starts_at", "id")
