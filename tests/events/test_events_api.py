import pytest
from django.urls import reverse

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
    }  # fmt: skip


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

    assert [e["id"] for e in body] == [newer.pk, older.pk]
    assert [e["payment_status"] for e in body] == ["failed", None]


def test_another_users_event_answers_404(auth_client, other_user):
    event = EventFactory(owner=other_user)

    response = auth_client.get(reverse("event-detail", args=[event.pk]))

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_public_list_shows_active_events_to_anyone(api_client):
    live = EventFactory(is_active=True, activated_at="2030-01-01T00:00:00Z")
    EventFactory()

    response = api_client.get(reverse("public-event-list"))

    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == [live.pk]


def test_anonymous_callers_get_no_private_lists(api_client):
    assert api_client.get(reverse("event-list")).status_code in (401, 403)
    assert api_client.post(reverse("event-list"), {}, format="json").status_code in (401, 403)
