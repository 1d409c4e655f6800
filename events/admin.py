from django.contrib import admin

from core.admin import ReadOnlyAdminMixin
from events.models import Event, EventAction


class EventActionInline(admin.TabularInline):
    model = EventAction
    fields = ("created_at", "actor", "action", "detail")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
    search_fields = ["title", "owner__username", "owner__email"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    inlines = [EventActionInline]


@admin.register(EventAction)
class EventActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "event", "detail"]
    list_filter = ["action"]
    search_fields = ["actor", "event__title"]
    list_select_related = ["event"]
