"""create-payment-intent against localstripe: one PaymentIntent per event, the fee from settings."""

import pytest
from django.urls import reverse

from payments import stripe_gateway
from payments.models import Payment
from tests.conftest import pay_at_localstripe
from tests.factories import EventFactory, PaymentFactory

pytestmark = pytest.mark.django_db

URL = reverse("create-payment-intent")


@pytest.fixture(autouse=True)
def _stripe(webhooks_off):
    return webhooks_off


def test_creates_an_intent_for_the_fee_in_settings_whatever_the_client_says(auth_client, event, settings):
    # given
    settings.EVENT_ACTIVATION_FEE = 2500
    settings.EVENT_ACTIVATION_CURRENCY = "eur"

    # when
    response = auth_client.post(URL, {"event_id": event.pk, "amount": 1, "currency": "jpy"}, format="json")

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(pk=body["paymentId"])
    assert (body["amount"], body["currency"]) == (2500, "eur")
    assert (payment.amount, payment.currency, payment.status) == (2500, "eur", Payment.Status.PENDING)
    assert body["clientSecret"].startswith(f"{payment.payment_intent_id}_secret_")
    intent = stripe_gateway.retrieve_payment_intent(payment.payment_intent_id)
    assert (intent.amount, intent.currency) == (2500, "eur")
    assert intent.metadata == {"payment_id": str(payment.pk), "event_id": str(event.pk)}


def test_the_same_call_again_reuses_the_open_payment_and_its_intent(auth_client, event):
    first = auth_client.post(URL, {"event_id": event.pk}, format="json")

    again = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert again.status_code == 200
    assert again.json()["paymentId"] == first.json()["paymentId"]
    assert again.json()["clientSecret"] == first.json()["clientSecret"]
    assert Payment.objects.filter(event=event).count() == 1


def test_a_failed_payment_is_retried_on_the_same_intent(auth_client, event):
    first = auth_client.post(URL, {"event_id": event.pk}, format="json").json()
    Payment.objects.filter(pk=first["paymentId"]).update(status=Payment.Status.FAILED, last_error="declined")

    again = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert again.status_code == 200 and again.json()["paymentId"] == first["paymentId"]
    assert Payment.objects.get(pk=first["paymentId"]).status == Payment.Status.PENDING


def test_an_event_already_active_answers_409(auth_client, user):
    event = EventFactory(owner=user, is_active=True, activated_at="2030-01-01T00:00:00Z")

    response = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == "This event is already active."


def test_a_canceled_payment_gives_way_to_a_new_one(auth_client, event):
    old = PaymentFactory(event=event, status=Payment.Status.CANCELED)

    response = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert response.status_code == 201
    assert response.json()["paymentId"] != old.pk


def test_another_users_event_answers_404(auth_client, other_user):
    event = EventFactory(owner=other_user)

    response = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert response.status_code == 404
    assert Payment.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"event_id": "abc"}, {"event_id": -1}, {"event_id": None}, {"event_id": 10**30}, [], "x"],
)
def test_bad_input_answers_400_with_a_message(auth_client, body):
    response = auth_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_unknown_event_answers_404(auth_client):
    assert auth_client.post(URL, {"event_id": 987654}, format="json").status_code == 404


def test_malformed_json_answers_400(auth_client):
    response = auth_client.post(URL, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_anonymous_caller_is_refused(api_client, event):
    assert api_client.post(URL, {"event_id": event.pk}, format="json").status_code in (401, 403)


def test_stripe_unreachable_answers_503_and_leaves_no_payment_intent(auth_client, event, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"

    response = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "Stripe" in response.json()["detail"]
    # The pending payment waits (with its idempotency key) for the next attempt; no intent is recorded.
    assert list(Payment.objects.values_list("payment_intent_id", flat=True)) == [None]


def test_after_a_decline_the_next_attempt_can_pay(auth_client, event):
    # given: the first card was declined (localstripe cannot retry a declined intent; Stripe can)
    first = auth_client.post(URL, {"event_id": event.pk}, format="json").json()
    status, _ = pay_at_localstripe(first["clientSecret"], "4000000000000341")
    assert status == 402
    Payment.objects.filter(pk=first["paymentId"]).update(status=Payment.Status.FAILED, last_error="declined")

    # when
    again = auth_client.post(URL, {"event_id": event.pk}, format="json")
    status, intent = pay_at_localstripe(again.json()["clientSecret"], "4242424242424242")

    # then: offline, the stuck intent was canceled and a new payment opened; still one open payment
    assert again.status_code == 201
    assert status == 200 and intent["status"] == "succeeded"
    assert Payment.objects.get(pk=first["paymentId"]).status == Payment.Status.CANCELED
    assert Payment.objects.filter(event=event, status__in=Payment.OPEN_STATUSES).count() == 1


def test_an_intent_canceled_at_stripe_gives_way_to_a_new_payment(auth_client, event):
    first = auth_client.post(URL, {"event_id": event.pk}, format="json").json()
    old = Payment.objects.get(pk=first["paymentId"])
    stripe_gateway.cancel_payment_intent(old.payment_intent_id)

    again = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert again.status_code == 201
    assert again.json()["paymentId"] != old.pk
    old.refresh_from_db()
    assert old.status == Payment.Status.CANCELED


def test_a_paid_intent_is_never_replaced_by_a_second_one(auth_client, event):
    # given: paid at Stripe, the webhook not processed yet
    first = auth_client.post(URL, {"event_id": event.pk}, format="json").json()
    pay_at_localstripe(first["clientSecret"], "4242424242424242")

    again = auth_client.post(URL, {"event_id": event.pk}, format="json")

    assert again.status_code == 200
    assert again.json()["paymentId"] == first["paymentId"]
    assert Payment.objects.filter(event=event).count() == 1
