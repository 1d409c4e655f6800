"""What every app's admin shares: read-only records, and changelists that stay fast on tables of millions of rows."""

from __future__ import annotations

import math

from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from core.db import count_or_estimate, distinct_values


class ReadOnlyAdminMixin:
    """For records that only the application writes (through its services): view, filter, search."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EstimatedCountPaginator(Paginator):
    """Counts exactly up to EXACT_COUNT_UP_TO rows and uses PostgreSQL's estimate beyond, instead of a
    `COUNT(*)` of the whole table on every page; offers at most MAX_PAGES pages, so that no page is a
    long OFFSET (filters and search narrow a list further)."""

    EXACT_COUNT_UP_TO = 10_000
    MAX_PAGES = 200

    @cached_property
    def count(self) -> int:
        count, _ = count_or_estimate(self.object_list, exact_up_to=self.EXACT_COUNT_UP_TO)
        return count

    @cached_property
    def num_pages(self) -> int:
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        hits = max(1, self.count - self.orphans)
        return min(math.ceil(hits / self.per_page), self.MAX_PAGES)


class LargeTableAdminMixin:
    """A changelist whose counts read a bounded number of rows: the estimated paginator above, no
    "N total" count of the whole table, no facet counts. Admins using it also name the columns an index lets them sort
    by (`sortable_by`), search through indexes and filter by indexed columns."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts ("Show counts") are a COUNT per filter option over the whole table.
    show_facets = admin.ShowFacets.NEVER


class IndexedValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Django's filter by each value of a column, whose values are read by a loose index scan (the column
    leads an index) instead of `SELECT DISTINCT` over the whole table."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = distinct_values(model, field.name)
