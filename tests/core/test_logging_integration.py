"""The logs of a whole checkout, on the real stack, hold no secret, client secret or card number."""

import io
import json
import logging
import re

import pytest
from django.conf import settings

from core.logging import ContextFilter, JsonFormatter, TextFormatter
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CARD = "4242424242424242"
PASSWORD = "a-long-enough-passphrase"


@pytest.fixture
def app_logs():
    """Every record of this process (the live server's threads included), at DEBUG, as both formats write it."""
    root = logging.getLogger()
    streams = {"json": io.StringIO(), "text": io.StringIO()}
    handlers = []
    for name, formatter in (("json", JsonFormatter()), ("text", TextFormatter())):
        handler = logging.StreamHandler(streams[name])
        handler.setFormatter(formatter)
        handler.addFilter(ContextFilter())
        handlers.append(handler)
    server_logger = logging.getLogger("django.server")  # it does not propagate to the root
    previous_level = root.level
    root.setLevel(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
        server_logger.addHandler(handler)
    yield streams
    for handler in handlers:
        root.removeHandler(handler)
        server_logger.removeHandler(handler)
    root.setLevel(previous_level)


def test_a_whole_checkout_logs_no_secret(stack, app_logs):
    # given: an organiser signs up, creates an event and opens the payment page
    http = stack.session()
    assert (
        http.post(
            f"{stack.url}/api/auth/register/",
            json={"username": "linus", "email": "linus@example.com", "password": PASSWORD},
        ).status_code
        == 201
    )
    event_id = http.post(
        f"{stack.url}/api/events/", json={"title": "Kernel summit", "starts_at": "2031-05-01T19:00:00Z"}
    ).json()["id"]
    checkout = http.post(f"{stack.url}/api/payments/create-payment-intent/", json={"event_id": event_id}).json()
    client_secret = checkout["clientSecret"]
    intent_id = client_secret.split("_secret_")[0]
    proxy = f"{stack.url}/api/payments/offline-stripe/v1"

    # when: the browser's calls, through our same-origin route, then the return page
    method = http.post(
        f"{proxy}/payment_methods",
        data={"client_secret": client_secret, "type": "card", "card[number]": CARD, "card[exp_month]": "12",
              "card[exp_year]": "34", "card[cvc]": "123"},
    ).json()  # fmt: skip
    http.post(
        f"{proxy}/payment_intents/{intent_id}", data={"client_secret": client_secret, "payment_method": method["id"]}
    )
    confirmed = http.post(f"{proxy}/payment_intents/{intent_id}/confirm", data={"client_secret": client_secret}).json()
    http.get(f"{proxy}/payment_intents/{intent_id}", params={"client_secret": client_secret})
    http.get(
        f"{stack.url}/payments/status",
        params={
            "payment_intent": intent_id,
            "payment_intent_client_secret": client_secret,
            "redirect_status": "succeeded",
        },
    )
    wait_until(
        lambda: http.get(f"{stack.url}/api/events/{event_id}/").json()["is_active"], message="the event to go live"
    )
    http.get(f"{stack.url}/api/metrics")

    # then
    assert confirmed["status"] == "succeeded"
    processed = re.compile(rf"stripe event evt_\w+ processed.*payment_intent_id={intent_id}")
    worker_log = wait_until(
        lambda: next((log for log in [stack.worker.log()] if processed.search(log)), ""),
        message="the worker to log the processed event",
    )
    logs = {"web (json)": app_logs["json"].getvalue(), "web (text)": app_logs["text"].getvalue(), "worker": worker_log}
    secrets = {
        "client secret": client_secret,
        "client secret's secret part": client_secret.split("_secret_")[1],
        "card number": CARD,
        "Stripe secret key": settings.STRIPE_SECRET_KEY,
        "webhook secrets": settings.STRIPE_WEBHOOK_SECRETS[0],
        "previous webhook secret": settings.STRIPE_WEBHOOK_SECRETS[1],
        "Django secret key": settings.SECRET_KEY,
        "password": PASSWORD,
        "session id": http.cookies["sessionid"],
    }
    for where, text in logs.items():
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} appears in the {where} logs"
    # The logs did see the whole checkout: the request lines (redacted), the Stripe calls, the ids.
    assert f"payment_intent_client_secret={intent_id}_secret_[redacted]" in logs["web (text)"]
    assert "[redacted]" in logs["web (json)"]  # the card number in the Stripe client's debug line
    for line in logs["web (json)"].splitlines():
        json.loads(line)
