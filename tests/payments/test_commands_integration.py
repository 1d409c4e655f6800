"""Catch-up on the real stack: events sent while the webhook endpoint was down are stored and fulfilled."""

from io import StringIO

import pytest
from django.core.management import call_command

from offline.net import free_port
from payments.models import OperatorAction, Payment, StripeEvent
from tests.conftest import BrowserLikeSession, pay_at_localstripe, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_catch_up_heals_an_endpoint_outage(live_server, localstripe, worker_process, webhook_secret):
    # given: the endpoint is down (nothing listens where localstripe sends) while the organiser pays
    down = f"http://127.0.0.1:{free_port()}/api/payments/webhook/"
    localstripe.register_webhook(down, webhook_secret)
    http = BrowserLikeSession()
    http.get(f"{live_server.url}/api/auth/csrf/").raise_for_status()
    http.post(
        f"{live_server.url}/api/auth/register/",
        json={"username": "margaret", "email": "m@example.com", "password": "a-long-enough-passphrase"},
    ).raise_for_status()
    event_id = http.post(
        f"{live_server.url}/api/events/", json={"title": "Apollo", "starts_at": "2031-05-01T19:00:00Z"}
    ).json()["id"]
    checkout = http.post(f"{live_server.url}/api/payments/create-payment-intent/", json={"event_id": event_id}).json()
    status, intent = pay_at_localstripe(checkout["clientSecret"], "4242424242424242")
    assert status == 200 and intent["status"] == "succeeded"
    dry = StringIO()
    call_command("catch_up_stripe_events", "--since", "10m", "--dry-run", stdout=dry)
    assert not StripeEvent.objects.filter(payment_intent_id=intent["id"]).exists()
    assert Payment.objects.get(pk=checkout["paymentId"]).status == Payment.Status.PENDING

    # when: the operator (or beat's hourly run) catches up
    out = StringIO()
    call_command("catch_up_stripe_events", "--since", "10m", "--actor", "ada", stdout=out)

    # then: stored, processed by the real worker, the event is live
    row = wait_until(
        lambda: StripeEvent.objects.filter(payment_intent_id=intent["id"], status=StripeEvent.Status.PROCESSED).first(),
        message="the worker to process the caught-up event",
    )
    assert "would store " + row.stripe_id in dry.getvalue()
    assert ", 0 errors" in out.getvalue()
    assert row.type == "payment_intent.succeeded"
    assert OperatorAction.objects.get(stripe_event=row).action == OperatorAction.Action.CATCH_UP
    assert http.get(f"{live_server.url}/api/events/{event_id}/").json()["is_active"] is True
    assert Payment.objects.get(pk=checkout["paymentId"]).status == Payment.Status.SUCCEEDED
