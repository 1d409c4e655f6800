"""The events admin on a large table: a fixed number of queries per page, search through indexes only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import EventFactory, UserFactory

pytestmark = pytest.mark.django_db

EVENTS = reverse("admin:events_event_changelist")


@pytest.fixture
def operator(operator_client):
    """The admin's session (password and a verified second factor) of a superuser, olga."""
    return operator_client


def _queries(client, params: dict) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(EVENTS, params)
    assert response.status_code == 200
    return len(queries.captured_queries), response.content.decode()


@pytest.mark.parametrize("params", [{}, {"is_active__exact": "1"}, {"q": "organiser"}])
def test_a_page_costs_the_same_number_of_queries_whatever_the_table_holds(operator, params):
    # given
    owner = UserFactory(username="organiser")
    EventFactory.create_batch(2, owner=owner)
    small, _ = _queries(operator, params)
    EventFactory.create_batch(60, owner=owner, is_active=False)

    # when
    large, page = _queries(operator, params)

    # then
    assert large == small
    assert "_facets" not in page and "created_at__year" not in page  # no facet counts, no date hierarchy


def test_search_by_event_number_or_organiser_never_by_title(operator):
    # given
    launch = EventFactory(title="Launch party", owner=UserFactory(username="ana"))
    other = EventFactory(title="Quiet dinner", owner=UserFactory(username="bruno"))

    # when
    by_number = _queries(operator, {"q": str(launch.pk)})[1]
    by_organiser = _queries(operator, {"q": "bruno"})[1]
    by_title = _queries(operator, {"q": "Launch"})[1]

    # then
    assert "Launch party" in by_number and "Quiet dinner" not in by_number
    assert "Quiet dinner" in by_organiser and "Launch party" not in by_organiser
    assert "Launch party" not in by_title and other.title not in by_title
