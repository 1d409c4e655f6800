"""`Stripe-Signature` verification: one parse, one timestamp, the tolerance and the signatures checked on it.

A captured delivery must not be replayable: a header that adds a fresh `t=` to an old signature
(`v1=<old sig>, t=<now>,t=<old>`) is refused, whatever the order, spacing or number of its parts."""

import hashlib
import hmac
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import stripe_gateway
from payments.stripe_gateway import InvalidWebhook
from tests.factories import stripe_event_body

SECRET = "whsec_test_current"
PREVIOUS = "whsec_test_previous"
TOLERANCE = 300
PAYLOAD = json.dumps(stripe_event_body("payment_intent.succeeded", {"id": "pi_sig", "object": "payment_intent"}))


def _signature(timestamp: int, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{PAYLOAD}".encode(), hashlib.sha256).hexdigest()


def test_a_fresh_timestamp_added_to_a_captured_delivery_is_refused():
    # given: a delivery captured 1000 s ago, replayed with a fresh `t=` in front of the old one
    now = int(time.time())
    old = now - 1000
    header = f"v1={_signature(old)}, t={now},t={old}"

    # when / then
    with pytest.raises(InvalidWebhook, match="exactly one timestamp"):
        stripe_gateway.verify_webhook(PAYLOAD.encode(), header)


def test_a_fresh_delivery_signed_as_stripe_signs_it_is_accepted():
    header = stripe_gateway.sign_payload(PAYLOAD, SECRET)

    event = stripe_gateway.verify_webhook(PAYLOAD.encode(), header)

    assert event["data"]["object"]["id"] == "pi_sig"


# The parts a header can be built from: (key, what its value is), rendered when the test runs.
PARTS = st.sampled_from(
    [
        ("t", "now"), ("t", "old"), ("t", "future"), ("t", "not-a-number"), ("t", "+123"),
        ("v1", "sig:now"), ("v1", "sig:old"), ("v1", "sig:future"), ("v1", "previous-secret:now"),
        ("v1", "other-secret:now"), ("v1", "junk"), ("v0", "sig:now"), ("", "stray"),
    ]
)  # fmt: skip
SPACE = st.sampled_from(["", " ", "  ", "\t"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.tuples(SPACE, PARTS, SPACE), min_size=0, max_size=6))
def test_a_header_is_accepted_exactly_when_its_one_timestamp_is_recent_and_signed(parts):
    # given: a header of any shape, and the rule it must follow
    now = int(time.time())
    times = {"now": now, "old": now - 1000, "future": now + 1000}
    secrets = {"sig": SECRET, "previous-secret": PREVIOUS, "other-secret": "whsec_someone_else"}

    def render(key: str, value: str) -> str:
        if key == "t":
            return f"t={times.get(value, value)}"
        if key in ("v1", "v0"):
            secret, _, when = value.partition(":")
            return f"{key}={_signature(times[when], secrets[secret]) if when else value}"
        return value

    header = ",".join(f"{before}{render(key, value)}{after}" for before, (key, value), after in parts)
    timestamps = [value for _, (key, value), _ in parts if key == "t"]
    v1 = {value for _, (key, value), _ in parts if key == "v1"}
    valid = len(timestamps) == 1 and timestamps[0] == "now" and bool({"sig:now", "previous-secret:now"} & v1)

    # when
    try:
        stripe_gateway.verify_webhook(PAYLOAD.encode(), header)
        accepted = True
    except InvalidWebhook:
        accepted = False

    # then
    assert accepted == valid, header


@pytest.fixture(autouse=True)
def _secrets(settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET, PREVIOUS]
    settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS = TOLERANCE
