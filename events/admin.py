from django.contrib import admin
from django.db.models import Q

from core.admin import LargeTableAdminMixin, ReadOnlyAdminMixin
from events.models import Event


@admin.register(Event)
class EventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: an event goes live only through payment fulfilment, never by hand."""

    list_display = ["title", "owner", "starts_at", "is_active", "activated_at", "created_at"]
    list_filter = ["is_active"]
    sortable_by = ["created_at"]
    search_fields = ["owner__username"]
    search_help_text = "An event number, or its organiser's user name."
    list_per_page = 50
    list_select_related = ["owner"]

    def get_search_results(self, request, queryset, search_term):
        # Looked up on an index (the key, the organiser's): no scan of every title for a substring.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit() and int(term) < 2**63:
            return queryset.filter(pk=int(term)), False
        return queryset.filter(Q(owner__username=term)), False
