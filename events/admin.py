from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from core.admin import AuditTrailInline, LargeTableAdminMixin, ReadOnlyAdminMixin
from events.models import Event, EventAction


class EventActionInline(AuditTrailInline):
    model = EventAction
    fields = ("created_at", "actor", "action", "detail")


@admin.register(Event)
class EventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin[Event]):
    """Read-only: an event goes live only through payment fulfilment, never by hand; its organiser's edits,
    cancellation and deletion are listed below it."""

    list_display = [
        "title",
        "owner",
        "starts_at",
        "is_active",
        "activated_at",
        "cancelled_at",
        "deleted_at",
        "created_at",
    ]
    list_filter = [
        "is_active",
        ("cancelled_at", admin.EmptyFieldListFilter),
        ("deleted_at", admin.EmptyFieldListFilter),
    ]
    sortable_by = ["created_at"]
    search_fields = ["owner__username"]
    search_help_text = "An event number, or its organiser's user name."
    list_per_page = 50
    list_select_related = ["owner"]
    inlines = [EventActionInline]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Event], search_term: str
    ) -> tuple[QuerySet[Event], bool]:
        # Looked up on an index (the key, the organiser's): no scan of every title for a substring.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit() and int(term) < 2**63:
            return queryset.filter(pk=int(term)), False
        return queryset.filter(Q(owner__username=term)), False


@admin.register(EventAction)
class EventActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[EventAction]):
    list_display = ["created_at", "actor", "action", "event", "detail"]
    list_filter = ["action"]
    search_fields = ["actor", "event__title"]
    list_select_related = ["event"]
