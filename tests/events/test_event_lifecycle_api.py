"""An organiser edits, cancels and deletes events through the API; each change is audited."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from events.models import Event, EventAction
from payments.models import Payment
from tests.factories import EventFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _live(**fields) -> Event:
    return EventFactory(is_active=True, activated_at=timezone.now() - timedelta(days=1), **fields)


def _detail(event) -> str:
    return reverse("event-detail", args=[event.pk])


def _cancel(event) -> str:
    return reverse("event-cancel", args=[event.pk])


# --- edit -------------------------------------------------------------------------------------


def test_an_organiser_edits_a_draft_and_the_change_is_audited(auth_client, user):
    # given
    event = EventFactory(owner=user, title="Launch", location="Porto")

    # when
    response = auth_client.patch(
        _detail(event), {"title": "Launch party", "starts_at": "2031-06-01T18:00:00Z"}, format="json"
    )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["starts_at"], body["location"]) == ("Launch party", "2031-06-01T18:00:00Z", "Porto")
    event.refresh_from_db()
    assert event.title == "Launch party"
    action = EventAction.objects.get(event=event)
    assert (action.action, action.user, action.actor) == ("edit", user, user.username)
    assert action.detail == "Changed title, starts_at."


def test_a_live_events_edit_shows_on_its_public_page_at_once(auth_client, api_client, user):
    event = _live(owner=user, description="Talks")

    auth_client.patch(_detail(event), {"description": "Talks, then dinner"}, format="json")

    public = api_client.get(reverse("public-event-detail", args=[event.pk])).json()
    assert public["description"] == "Talks, then dinner"
    assert public["status"] == "live"


def test_an_edit_that_changes_nothing_is_not_audited(auth_client, user):
    event = EventFactory(owner=user, title="Launch")

    response = auth_client.patch(_detail(event), {"title": "Launch", "is_active": True}, format="json")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert not EventAction.objects.exists()


@freeze_time("2031-01-01T12:00:00Z")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"starts_at": "2031-01-01T11:59:00Z"}, "starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"location": None}, "location"),
    ],
)
def test_an_invalid_edit_answers_400_with_the_field_and_changes_nothing(auth_client, user, body, field):
    event = EventFactory(owner=user, title="Launch", starts_at="2031-02-01T00:00:00Z")

    response = auth_client.patch(_detail(event), body, format="json")

    assert response.status_code == 400
    assert field in response.json() and response.json()["detail"].startswith(field)
    event.refresh_from_db()
    assert event.title == "Launch"


def test_a_malformed_body_answers_400_with_a_detail(auth_client, user):
    event = EventFactory(owner=user)

    not_json = auth_client.generic("PATCH", _detail(event), "{not json", content_type="application/json")
    a_list = auth_client.patch(_detail(event), ["title"], format="json")

    assert (not_json.status_code, a_list.status_code) == (400, 400)
    assert "detail" in not_json.json() and "detail" in a_list.json()


def test_a_start_time_in_the_past_is_refused_but_a_past_live_event_can_be_retitled(auth_client, user):
    event = _live(owner=user, starts_at=timezone.now() - timedelta(hours=1))

    retitled = auth_client.patch(_detail(event), {"title": "Last night's party"}, format="json")

    assert retitled.status_code == 200
    assert retitled.json()["title"] == "Last night's party"


def test_a_cancelled_event_cannot_be_edited(auth_client, user):
    event = _live(owner=user, cancelled_at=timezone.now(), title="Launch")

    response = auth_client.patch(_detail(event), {"title": "Relaunch"}, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "A cancelled event cannot be edited."}


def test_another_users_event_is_404_to_edit_cancel_and_delete(auth_client, other_user):
    event = _live(owner=other_user, title="Theirs")

    answers = [
        auth_client.patch(_detail(event), {"title": "Mine"}, format="json").status_code,
        auth_client.post(_cancel(event)).status_code,
        auth_client.delete(_detail(event)).status_code,
    ]

    assert answers == [404, 404, 404]
    event.refresh_from_db()
    assert (event.title, event.cancelled_at, event.deleted_at) == ("Theirs", None, None)


def test_anonymous_callers_cannot_change_events(api_client):
    event = _live()

    assert api_client.patch(_detail(event), {"title": "x"}, format="json").status_code in (401, 403)
    assert api_client.post(_cancel(event)).status_code in (401, 403)
    assert api_client.delete(_detail(event)).status_code in (401, 403)


# --- cancel -----------------------------------------------------------------------------------


@freeze_time("2031-01-01T12:00:00Z")
def test_cancelling_a_live_event_takes_it_off_the_public_list_and_says_so_on_its_page(auth_client, api_client, user):
    # given
    event = _live(owner=user, starts_at="2031-03-01T19:00:00Z")
    assert [e["id"] for e in api_client.get(reverse("public-event-list")).json()["results"]] == [event.pk]

    # when
    response = auth_client.post(_cancel(event))

    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["cancelled_at"], body["is_active"]) == ("cancelled", "2031-01-01T12:00:00Z", True)
    assert api_client.get(reverse("public-event-list")).json()["results"] == []
    assert api_client.get(reverse("public-event-detail", args=[event.pk])).json()["status"] == "cancelled"
    action = EventAction.objects.get(event=event)
    assert (action.action, action.actor, action.created_at.isoformat()) == (
        "cancel",
        user.username,
        "2031-01-01T12:00:00+00:00",
    )


@pytest.mark.parametrize(
    "fields",
    [
        {},  # a draft
        {"is_active": True, "activated_at": "2030-01-01T00:00:00Z", "cancelled_at": "2030-02-01T00:00:00Z"},
        {"is_active": False, "activated_at": "2030-01-01T00:00:00Z"},  # refunded
    ],
)
def test_only_a_live_event_can_be_cancelled(auth_client, user, fields):
    event = EventFactory(owner=user, **fields)

    response = auth_client.post(_cancel(event))

    assert response.status_code == 409
    assert response.json()["detail"].startswith("Only a live event can be cancelled")
    assert not EventAction.objects.exists()


# --- delete -----------------------------------------------------------------------------------


def test_deleting_a_draft_without_payments_hides_it_from_its_owner_and_audits_it(auth_client, user):
    # given
    event = EventFactory(owner=user)

    # when
    response = auth_client.delete(_detail(event))

    # then
    assert response.status_code == 204 and response.content == b""
    assert auth_client.get(_detail(event)).status_code == 404
    assert auth_client.get(reverse("event-list")).json()["count"] == 0
    assert auth_client.delete(_detail(event)).status_code == 404
    event.refresh_from_db()
    assert event.deleted_at is not None
    assert EventAction.objects.get(event=event).action == "delete"


@pytest.mark.parametrize(
    ("event_fields", "payment_status"),
    [
        ({"is_active": True, "activated_at": "2030-01-01T00:00:00Z"}, Payment.Status.SUCCEEDED),
        ({"is_active": False, "activated_at": "2030-01-01T00:00:00Z"}, Payment.Status.REFUNDED),
        ({"is_active": True, "activated_at": "2030-01-01T00:00:00Z", "cancelled_at": "2030-02-01T00:00:00Z"}, None),
    ],
)
def test_a_paid_event_cannot_be_deleted(auth_client, user, event_fields, payment_status):
    event = EventFactory(owner=user, **event_fields)
    if payment_status:
        PaymentFactory(event=event, status=payment_status)

    response = auth_client.delete(_detail(event))

    assert response.status_code == 409
    assert response.json() == {"detail": "This event has been paid: it can be cancelled, not deleted."}
    event.refresh_from_db()
    assert event.deleted_at is None


def test_a_deleted_event_cannot_be_paid_for(auth_client, user):
    event = EventFactory(owner=user, deleted_at=timezone.now())

    response = auth_client.post(reverse("create-payment-intent"), {"event_id": event.pk}, format="json")

    assert response.status_code == 404
