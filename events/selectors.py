from django.db.models import OuterRef, QuerySet, Subquery

from events.models import Event
from payments.models import Payment


def _with_payment_status(queryset: QuerySet[Event]) -> QuerySet[Event]:
    latest = Payment.objects.filter(event=OuterRef("pk")).order_by("-created_at", "-id").values("status")[:1]
    return queryset.annotate(payment_status=Subquery(latest))


def event_list_for_owner(*, owner) -> QuerySet[Event]:
    return _with_payment_status(Event.objects.filter(owner=owner)).order_by("-created_at", "-id")


def event_list_public() -> QuerySet[Event]:
    return Event.objects.filter(is_active=True).order_by("starts_at", "id")
