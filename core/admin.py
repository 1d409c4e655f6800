"""What every app's admin shares: read-only records, and changelists that stay fast on tables of millions of rows."""

from __future__ import annotations

from typing import ClassVar

from django.contrib import admin

from core.db import distinct_values
from core.pagination import BoundedPaginator


class ReadOnlyAdminMixin:
    """For records that only the application writes (through its services): view, filter, search."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActedOnAdminMixin:
    """For records operators act on through admin actions (which call services) but never add or delete."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditTrailInline(admin.TabularInline):
    """A record's audit trail under it, newest first, read-only. Subclasses name the `model` and `fields`."""

    extra = 0
    can_delete = False
    ordering = ("-created_at", "-id")

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def shortened(text: str, length: int = 80) -> str:
    """A long text (an error) cut for a list column; the whole of it is on the record's page."""
    return text if len(text) <= length else text[: length - 1] + "…"


class LargeTableAdminMixin:
    """A changelist whose counts read a bounded number of rows: the bounded paginator, no
    "N total" count of the whole table, no facet counts. Admins using it also name the columns an index lets them sort
    by (`sortable_by`), search through indexes and filter by indexed columns."""

    paginator: ClassVar[type[BoundedPaginator]] = BoundedPaginator
    show_full_result_count = False
    # Facet counts ("Show counts") are a COUNT per filter option over the whole table.
    show_facets = admin.ShowFacets.NEVER


class IndexedValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Django's filter by each value of a column, whose values are read by a loose index scan (the column
    leads an index) instead of `SELECT DISTINCT` over the whole table."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = distinct_values(model, field.name)
