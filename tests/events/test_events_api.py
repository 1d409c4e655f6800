from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_create_event_answers_201_inactive(auth_client, user):
    response = auth_client.post(
        reverse("event-list"),
        {"title": "Launch", "starts_at": "2031-05-01T19:00:00+02:00", "location": "Porto", "description": "Drinks"},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_active"] is False and body["activated_at"] is None and body["payment_status"] is None
    assert body["starts_at"] == "2031-05-01T17:00:00Z"
    assert Event.objects.get(pk=body["id"]).owner == user
    assert set(body) == {
        "id", "title", "description", "location", "starts_at", "created_at", "is_active", "activated_at", "payment_status",
        "status", "cancelled_at",
    }  # fmt: skip
    assert body["status"] == "draft" and body["cancelled_at"] is None


def test_clients_cannot_activate_an_event_themselves(auth_client):
    response = auth_client.post(
        reverse("event-list"),
        {
            "title": "Launch",
            "starts_at": "2031-05-01T19:00:00Z",
            "is_active": True,
            "activated_at": "2031-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201
    assert Event.objects.get(pk=response.json()["id"]).is_active is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"starts_at": "2031-05-01T19:00:00Z"}, "title"),
        ({"title": "", "starts_at": "2031-05-01T19:00:00Z"}, "title"),
        ({"title": "x" * 201, "starts_at": "2031-05-01T19:00:00Z"}, "title"),
        ({"title": "Launch"}, "starts_at"),
        ({"title": "Launch", "starts_at": "next tuesday"}, "starts_at"),
        ({"title": "Launch", "starts_at": "2031-05-01T19:00:00Z", "location": "x" * 201}, "location"),
        ({"title": "Launch", "starts_at": "2000-01-01T00:00:00Z"}, "starts_at"),
        ({"title": "Launch", "starts_at": "0507-01-14T00:00:00Z"}, "starts_at"),
        ({"title": 42, "starts_at": "2031-05-01T19:00:00Z"}, "title"),
        ({"title": "Launch", "starts_at": "2031-05-01T19:00:00Z", "description": 7}, "description"),
    ],
)
def test_invalid_event_answers_400_with_field_errors(auth_client, body, field):
    response = auth_client.post(reverse("event-list"), body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert response.json()["detail"].startswith(field)


def test_list_shows_only_the_callers_events_newest_first_with_payment_status(auth_client, user, other_user):
    older = EventFactory(owner=user)
    newer = EventFactory(owner=user, payment_status="failed")
    EventFactory(owner=other_user)

    body = auth_client.get(reverse("event-list")).json()

    assert body["count"] == 2 and body["next"] is None
    assert [e["id"] for e in body["results"]] == [newer.pk, older.pk]
    assert [e["payment_status"] for e in body["results"]] == ["failed", None]


def test_another_users_event_answers_404(auth_client, other_user):
    event = EventFactory(owner=other_user)

    response = auth_client.get(reverse("event-detail", args=[event.pk]))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_public_list_shows_live_upcoming_events_to_anyone(api_client):
    live = EventFactory(is_active=True, activated_at="2030-01-01T00:00:00Z")
    EventFactory()  # a draft
    EventFactory(is_active=True, activated_at="2030-01-01T00:00:00Z", cancelled_at="2030-02-01T00:00:00Z")
    EventFactory(is_active=True, activated_at="2020-01-01T00:00:00Z", starts_at="2020-02-01T00:00:00Z")  # past

    response = api_client.get(reverse("public-event-list"))

    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [live.pk]
    assert response.json()["results"][0]["status"] == "live"


def test_anonymous_callers_get_no_private_lists(api_client):
    assert api_client.get(reverse("event-list")).status_code in (401, 403)
    assert api_client.post(reverse("event-list"), {}, format="json").status_code in (401, 403)


def _live(**fields):
    return EventFactory(is_active=True, activated_at="2030-01-01T00:00:00Z", **fields)


def test_the_callers_list_is_paged_and_a_client_cannot_raise_the_cap(auth_client, user):
    EventFactory.create_batch(105, owner=user)

    first = auth_client.get(reverse("event-list")).json()
    widest = auth_client.get(reverse("event-list"), {"page_size": 1000}).json()

    assert (first["count"], len(first["results"])) == (105, 20) and "page=2" in first["next"]
    assert len(widest["results"]) == 100


def test_the_public_cursor_neither_skips_nor_repeats_while_events_go_live(api_client):
    # given: a first page read, then events going live before and after the cursor
    base = timezone.now() + timedelta(days=10)
    events = [_live(starts_at=base + timedelta(hours=i)) for i in range(5)]
    first = api_client.get(reverse("public-event-list"), {"page_size": 2}).json()
    _live(starts_at=base - timedelta(hours=1))  # before the cursor: not shown on later pages
    late = _live(starts_at=base + timedelta(hours=10))

    # when: the rest is read page by page
    seen = [e["id"] for e in first["results"]]
    url = first["next"]
    while url:
        page = api_client.get(url).json()
        seen += [e["id"] for e in page["results"]]
        url = page["next"]

    # then
    assert seen == [e.pk for e in events] + [late.pk]


@pytest.mark.parametrize(
    ("fields", "anyone_sees_it"),
    [
        ({"is_active": True, "activated_at": "2030-01-01T00:00:00Z"}, True),
        ({"is_active": True, "activated_at": "2030-01-01T00:00:00Z", "cancelled_at": "2030-02-01T00:00:00Z"}, True),
        ({}, False),  # a draft
        ({"is_active": False, "activated_at": "2030-01-01T00:00:00Z"}, False),  # refunded: no longer live
    ],
)
def test_an_events_public_page_is_for_anyone_only_once_it_went_live(
    api_client, auth_client, user, other_user, fields, anyone_sees_it
):
    mine = EventFactory(owner=user, **fields)
    theirs = EventFactory(owner=other_user, **fields)

    as_visitor = api_client.get(reverse("public-event-detail", args=[theirs.pk]))
    as_stranger = auth_client.get(reverse("public-event-detail", args=[theirs.pk]))
    as_owner = auth_client.get(reverse("public-event-detail", args=[mine.pk]))

    expected = 200 if anyone_sees_it else 404
    assert (as_visitor.status_code, as_stranger.status_code, as_owner.status_code) == (expected, expected, 200)
    assert as_owner.json()["status"] == mine.status


@pytest.mark.parametrize("page_size", ["abc", "1.5", "-3", "0"])
def test_a_page_size_that_is_not_a_positive_integer_is_refused(auth_client, page_size):
    response = auth_client.get(reverse("event-list"), {"page_size": page_size})

    assert response.status_code == 400
    assert response.json()["detail"].startswith("page_size")
