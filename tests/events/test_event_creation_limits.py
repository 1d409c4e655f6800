"""Event creation has a budget per organiser (each event can open a checkout, a PaymentIntent at Stripe)."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EVENT = {"title": "Launch", "starts_at": "2031-01-01T10:00:00Z"}


@pytest.fixture
def tight_event_budget(monkeypatch):
    # DRF reads the rates (THROTTLE_EVENT_CREATE, …) once, at import.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "event_create": "3/hour"}
    )


def test_an_organiser_creating_events_in_bulk_is_throttled_per_account(tight_event_budget, auth_client):
    # when
    answers = [auth_client.post(reverse("event-list"), EVENT, format="json") for _ in range(4)]

    # then
    assert [a.status_code for a in answers] == [201, 201, 201, 429]
    assert "detail" in answers[3].json() and int(answers[3]["Retry-After"]) > 60
    # Reading the list is not counted, and another organiser has a budget of their own.
    assert auth_client.get(reverse("event-list")).status_code == 200
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.post(reverse("event-list"), EVENT, format="json").status_code == 201
