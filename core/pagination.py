"""Every list the API serves is paginated, with a page size a client may lower but not raise past the cap,
at a cost that does not grow with the table: counts are bounded, and so is how deep a page may start."""

import math
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request

from core.db import count_or_estimate

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class BoundedPaginator(Paginator):
    """Django's paginator for tables of millions of rows (the API's numbered pages, the admin's lists).

    `count` is exact up to EXACT_COUNT_UP_TO rows and PostgreSQL's estimate beyond, instead of a
    `COUNT(*)` of every matching row; the pages offered are those that start within the first
    MAX_OFFSET rows, so that no page is a long OFFSET (filters narrow a list further)."""

    EXACT_COUNT_UP_TO = 10_000
    MAX_OFFSET = 10_000

    object_list: QuerySet[Any]  # it pages querysets only: its count is a statement of its own

    @cached_property
    def count(self) -> int:
        count, _ = count_or_estimate(self.object_list, exact_up_to=self.EXACT_COUNT_UP_TO)
        return count

    @cached_property
    def num_pages(self) -> int:
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        hits = max(1, self.count - self.orphans)
        return min(math.ceil(hits / self.per_page), self.MAX_OFFSET // self.per_page + 1)


class StrictPageSize:
    """`page_size` is an integer, as the schema says: anything else is refused, not silently ignored.
    A size over the cap is still lowered to it."""

    page_size_query_param = "page_size"

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) > 0):
            raise ValidationError({self.page_size_query_param: ["A positive whole number is required."]})
        return super().get_page_size(request)  # type: ignore[misc]


class Pages(StrictPageSize, PageNumberPagination):
    """`?page=N[&page_size=M]`: DRF's `{count, next, previous, results}`, for a caller's own lists (`count`
    exact up to 10,000, an estimate beyond; pages up to the 10,000th row)."""

    django_paginator_class = BoundedPaginator
    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count"]["description"] = (
            f"Exact up to {BoundedPaginator.EXACT_COUNT_UP_TO:,} rows, PostgreSQL's estimate beyond; pages are "
            f"offered up to the {BoundedPaginator.MAX_OFFSET:,}th row."
        )
        return schema


class Cursor(StrictPageSize, CursorPagination):
    """`?cursor=…`: `{next, previous, results}`, stable while rows are added, at the same cost on any page.

    Subclasses name their `ordering` (unique in its last field, so that no row is skipped or repeated)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
