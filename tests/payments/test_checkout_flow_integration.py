"""The whole flow through HTTP, on the real stack: live server, worker process, Redis, PostgreSQL, localstripe."""

import pytest

from payments.models import Payment, StripeEvent
from tests.conftest import pay_at_localstripe, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _organiser_with_event(stack, username: str):
    http = stack.session()
    response = http.post(
        f"{stack.url}/api/auth/register/",
        json={"username": username, "email": f"{username}@example.com", "password": "a-long-enough-passphrase"},
    )
    assert response.status_code == 201, response.text
    response = http.post(
        f"{stack.url}/api/events/",
        json={"title": "Launch party", "starts_at": "2031-05-01T19:00:00Z", "location": "Lisbon"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["is_active"] is False
    return http, response.json()["id"]


def test_paid_event_goes_live_through_webhook_worker_and_fulfilment(stack):
    # given
    http, event_id = _organiser_with_event(stack, "ada")
    first = http.post(f"{stack.url}/api/payments/create-payment-intent/", json={"event_id": event_id})
    again = http.post(f"{stack.url}/api/payments/create-payment-intent/", json={"event_id": event_id})
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["paymentId"] == first.json()["paymentId"]
    assert again.json()["clientSecret"] == first.json()["clientSecret"]
    assert first.json()["amount"] == 1500 and first.json()["currency"] == "usd"
    assert first.json()["publishableKey"].startswith("pk_")

    # when
    status, intent = pay_at_localstripe(first.json()["clientSecret"], "4242424242424242")

    # then
    assert status == 200 and intent["status"] == "succeeded", intent
    event = wait_until(
        lambda: (body := http.get(f"{stack.url}/api/events/{event_id}/").json())["is_active"] and body,
        message="the event to go live",
    )
    assert event["payment_status"] == "succeeded"
    assert event["activated_at"] is not None
    payment = http.get(f"{stack.url}/api/payments/?payment_intent={intent['id']}").json()["results"]
    assert [p["status"] for p in payment] == ["succeeded"] and payment[0]["event_is_active"] is True
    assert StripeEvent.objects.get(payment_intent_id=intent["id"]).status == StripeEvent.Status.PROCESSED
    public = http.get(f"{stack.url}/api/public/events/").json()["results"]
    assert [e["id"] for e in public] == [event_id]


def test_declined_card_fails_the_payment_and_the_event_stays_inactive(stack):
    # given
    http, event_id = _organiser_with_event(stack, "grace")
    checkout = http.post(f"{stack.url}/api/payments/create-payment-intent/", json={"event_id": event_id}).json()

    # when
    status, body = pay_at_localstripe(checkout["clientSecret"], "4000000000000341")

    # then
    assert status == 402 and body["error"]["code"] == "card_declined", body
    payment = wait_until(
        lambda: (
            (p := http.get(f"{stack.url}/api/payments/{checkout['paymentId']}/").json())["status"] == "failed" and p
        ),
        message="the payment to fail",
    )
    assert payment["last_error"] == "Your card was declined."
    assert payment["event_is_active"] is False
    assert http.get(f"{stack.url}/api/events/{event_id}/").json()["is_active"] is False
    # A new attempt: localstripe cannot confirm a declined intent again, so checkout opens a new payment.
    retry = http.post(f"{stack.url}/api/payments/create-payment-intent/", json={"event_id": event_id})
    assert retry.status_code == 201 and retry.json()["paymentId"] != checkout["paymentId"]
    assert Payment.objects.get(pk=checkout["paymentId"]).status == Payment.Status.CANCELED
    status, intent = pay_at_localstripe(retry.json()["clientSecret"], "4242424242424242")
    assert status == 200, intent
    wait_until(
        lambda: http.get(f"{stack.url}/api/events/{event_id}/").json()["is_active"], message="the retry to go live"
    )
