"""Every list the API serves is paginated, with a page size a client may lower but not raise past the cap."""

from rest_framework.pagination import CursorPagination, PageNumberPagination

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class Pages(PageNumberPagination):
    """`?page=N[&page_size=M]`: DRF's `{count, next, previous, results}`, for a caller's own lists."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class Cursor(CursorPagination):
    """`?cursor=…`: `{next, previous, results}`, stable while rows are added, at the same cost on any page.

    Subclasses name their `ordering` (unique in its last field, so that no row is skipped or repeated)."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
