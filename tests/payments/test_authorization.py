"""Object-level authorization on every endpoint that names an event or a payment: another
organiser's objects answer 404 (never 403, never their data), and lists hold only the caller's."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from events.models import Event
from payments.models import Payment
from tests.factories import EventFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _stripe(webhooks_off):
    return webhooks_off


@pytest.fixture
def mallory(other_user):
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@pytest.fixture
def victims(user):
    """The organiser's event with an open payment, and one already paid."""
    open_payment = PaymentFactory(event=EventFactory(owner=user))
    paid = PaymentFactory(event=EventFactory(owner=user, is_active=True, activated_at="2030-01-01T00:00:00Z"),
                          status=Payment.Status.SUCCEEDED)  # fmt: skip
    return open_payment, paid


def _assert_not_found(response) -> None:
    assert response.status_code == 404, response.content
    assert set(response.json()) == {"detail"}


def test_another_users_event_detail_answers_404(mallory, victims):
    for payment in victims:
        _assert_not_found(mallory.get(reverse("event-detail", args=[payment.event_id])))


def test_another_users_payment_detail_answers_404(mallory, victims):
    for payment in victims:
        _assert_not_found(mallory.get(reverse("payment-detail", args=[payment.pk])))


def test_checkout_for_another_users_event_answers_404_and_creates_nothing(mallory, victims):
    # given
    before = Payment.objects.count()

    for payment in victims:
        # when
        response = mallory.post(reverse("create-payment-intent"), {"event_id": payment.event_id}, format="json")

        # then
        _assert_not_found(response)
    assert Payment.objects.count() == before


def test_lists_hold_only_the_callers_objects(mallory, victims, other_user):
    # given
    own = PaymentFactory(event=EventFactory(owner=other_user))

    # when
    events = mallory.get(reverse("event-list")).json()["results"]
    payments = mallory.get(reverse("payment-list")).json()["results"]
    by_intent = [
        mallory.get(reverse("payment-list"), {"payment_intent": payment.payment_intent_id}).json()["results"]
        for payment in victims
    ]
    by_event = [mallory.get(reverse("payment-list"), {"event": p.event_id}).json()["results"] for p in victims]

    # then
    assert [e["id"] for e in events] == [own.event_id]
    assert [p["id"] for p in payments] == [own.pk]
    assert by_intent == [[], []] and by_event == [[], []]


def test_offline_stripe_route_refuses_another_users_intent_even_with_its_client_secret(mallory, auth_client, user):
    # given: the organiser's real checkout at localstripe, and its client secret (leaked to mallory)
    event = EventFactory(owner=user)
    checkout = auth_client.post(reverse("create-payment-intent"), {"event_id": event.pk}, format="json").json()
    intent_id = checkout["clientSecret"].split("_secret_")[0]
    path = reverse("offline-stripe", args=[f"v1/payment_intents/{intent_id}"])

    # when
    read = mallory.get(path, {"client_secret": checkout["clientSecret"]})
    confirm = mallory.post(f"{path}/confirm", {"client_secret": checkout["clientSecret"]}, format="json")

    # then
    _assert_not_found(read)
    _assert_not_found(confirm)
    assert Payment.objects.get(pk=checkout["paymentId"]).status == Payment.Status.PENDING


def test_the_public_list_shows_only_active_events_and_no_owner_data(api_client, victims):
    # when
    public = api_client.get(reverse("public-event-list")).json()["results"]

    # then
    active = Event.objects.get(pk=victims[1].event_id)
    assert [e["id"] for e in public] == [active.pk]
    assert set(public[0]) == {"id", "title", "description", "location", "starts_at", "activated_at", "status"}
