from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from events.models import Event


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: an event goes live only through payment fulfilment, never by hand."""

    list_display = ["title", "owner", "starts_at", "is_active", "activated_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["title", "owner__username", "owner__email"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
