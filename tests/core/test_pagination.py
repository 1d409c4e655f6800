"""Numbered pages at the size of a production table: a bounded count, no page deeper than the bound, and the
envelopes the OpenAPI schema documents."""

from __future__ import annotations

import pytest
from django.db import connection

from core.pagination import BoundedPaginator
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/events/"


@pytest.fixture
def bounds(monkeypatch):
    """Bounds small enough for a test table: exact counts up to 10 rows, pages up to the 10th row."""
    monkeypatch.setattr(BoundedPaginator, "EXACT_COUNT_UP_TO", 10)
    monkeypatch.setattr(BoundedPaginator, "MAX_OFFSET", 10)


def test_the_count_is_exact_up_to_the_bound(auth_client, user, bounds):
    # given
    EventFactory.create_batch(9, owner=user)

    # when
    page = auth_client.get(EVENTS, {"page_size": 5}).json()

    # then
    assert page["count"] == 9 and page["next"] is not None


def test_beyond_the_bound_the_count_is_an_estimate_and_the_pages_stop(auth_client, user, bounds):
    # given
    EventFactory.create_batch(30, owner=user)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")

    # when
    first = auth_client.get(EVENTS, {"page_size": 5}).json()
    last = auth_client.get(EVENTS, {"page_size": 5, "page": 3}).json()
    beyond = auth_client.get(EVENTS, {"page_size": 5, "page": 4})

    # then: page 3 starts at the 10th row, the last one offered
    assert 10 < first["count"] <= 300
    assert len(last["results"]) == 5 and last["next"] is None
    assert beyond.status_code == 404 and beyond.json() == {"detail": "Invalid page."}


def test_the_schema_documents_both_envelopes_and_the_public_page(client):
    # when
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    # then
    def envelope(path: str) -> dict:
        ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]

    numbered, cursor = envelope("/api/events/"), envelope("/api/public/events/")
    assert set(numbered["properties"]) == {"count", "next", "previous", "results"}
    assert "estimate" in numbered["properties"]["count"]["description"]
    assert set(cursor["properties"]) == {"next", "previous", "results"}
    assert set(envelope("/api/payments/")["properties"]) == {"count", "next", "previous", "results"}
    public = schema["paths"]["/api/public/events/{event_id}/"]["get"]["responses"]
    assert public["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PublicEvent")
    assert "404" in public or "4XX" in public
