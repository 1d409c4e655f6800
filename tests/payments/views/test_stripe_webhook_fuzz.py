"""Fuzzing the webhook: whatever arrives, never a 5xx, and nothing is stored unless correctly signed.

The real endpoint through Django's test client (CSRF enforced, as for a browser), the real
inbox on PostgreSQL; the broker is the test Redis database (nothing consumes these rows'
messages: their transactions are rolled back).
"""

import json
import time
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from payments import stripe_gateway
from payments.models import StripeEvent
from tests.factories import stripe_event_body

pytestmark = pytest.mark.django_db

URL = reverse("stripe-webhook")
SECRET = "whsec_test_current"
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


def _post(client, payload: bytes, signature: str | None, content_type: str = "application/json"):
    extra = {} if signature is None else {"HTTP_STRIPE_SIGNATURE": signature}
    return client.post(URL, data=payload, content_type=content_type, **extra)


def _assert_answer(response) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert ("detail" in body) if response.status_code >= 400 else body.get("received") is True


@FUZZ
@given(payload=st.binary(max_size=2048), signature=st.none() | header_text)
def test_arbitrary_bodies_and_headers_are_refused_and_never_stored(client, payload, signature):
    # given
    before = StripeEvent.objects.count()

    # when
    response = _post(client, payload, signature)

    # then
    _assert_answer(response)
    assert response.status_code == 400
    assert StripeEvent.objects.count() == before


@FUZZ
@given(
    event_id=st.text(max_size=300),
    event_type=st.text(max_size=150),
    data_object=st.dictionaries(st.text(max_size=12), json_values, max_size=6),
    extra=st.dictionaries(st.sampled_from(["livemode", "api_version", "created", "request"]), json_values),
)
def test_correctly_signed_events_of_any_content_are_stored_once_or_refused(
    client, event_id, event_type, data_object, extra
):
    # given: an event Stripe could sign, with arbitrary ids (made unique: examples share the database), types and objects
    event_id = f"{event_id}-{uuid.uuid4().hex}"
    body = {**stripe_event_body(event_type, data_object, event_id=event_id), **extra}
    payload = json.dumps(body)
    before = StripeEvent.objects.count()

    # when
    first = _post(client, payload.encode(), stripe_gateway.sign_payload(payload, SECRET))
    again = _post(client, payload.encode(), stripe_gateway.sign_payload(payload, SECRET))

    # then
    _assert_answer(first)
    _assert_answer(again)
    assert first.status_code in (200, 400)
    stored = StripeEvent.objects.count() - before
    if first.status_code == 200:
        assert again.status_code == 200 and again.json()["duplicate"] is True
        assert stored == 1
        assert StripeEvent.objects.get(stripe_id=event_id).payload == payload
    else:
        assert stored == 0


@FUZZ
@given(data_object=st.dictionaries(st.text(max_size=12), json_values, max_size=4), payload=st.binary(max_size=512))
def test_signed_bodies_that_are_not_stripe_events_are_refused(client, data_object, payload):
    # given: correctly signed, but not an event object (or not JSON, or not UTF-8)
    candidates = [payload, json.dumps(data_object).encode(), json.dumps([data_object]).encode()]

    for raw in candidates:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            signature = stripe_gateway.sign_payload(raw.decode("latin-1"), SECRET)
        else:
            signature = stripe_gateway.sign_payload(text, SECRET)
        before = StripeEvent.objects.count()

        # when
        response = _post(client, raw, signature)

        # then
        _assert_answer(response)
        if response.status_code == 200:  # only a real event object passes
            decoded = json.loads(raw)
            assert decoded["object"] == "event" and isinstance(decoded["data"]["object"], dict)
        else:
            assert response.status_code == 400
            assert StripeEvent.objects.count() == before


@FUZZ
@given(
    tamper=st.sampled_from(["other_secret", "flip_signature", "stale", "future", "drop_v1", "body_changed"]),
    skew=st.integers(min_value=301, max_value=10**6),
    position=st.integers(min_value=0, max_value=63),
)
def test_tampered_signatures_are_refused_and_nothing_is_stored(client, tamper, skew, position):
    # given: a real event, signed wrongly in one of the ways an attacker or a misconfiguration would
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_fuzz", "object": "payment_intent"})
    payload = json.dumps(body)
    now = int(time.time())
    signature = stripe_gateway.sign_payload(payload, SECRET, now)
    if tamper == "other_secret":
        signature = stripe_gateway.sign_payload(payload, "whsec_someone_else", now)
    elif tamper == "flip_signature":
        head, _, digest = signature.partition(",v1=")
        flipped = "0" if digest[position] != "0" else "1"
        signature = f"{head},v1={digest[:position]}{flipped}{digest[position + 1 :]}"
    elif tamper == "stale":
        signature = stripe_gateway.sign_payload(payload, SECRET, now - skew)
    elif tamper == "future":
        signature = stripe_gateway.sign_payload(payload, SECRET, now + skew)
    elif tamper == "drop_v1":
        signature = signature.split(",v1=")[0]
    elif tamper == "body_changed":
        payload = payload.replace("pi_fuzz", "pi_fuzy")
    assume(payload)

    # when
    response = _post(client, payload.encode(), signature)

    # then
    _assert_answer(response)
    assert response.status_code == 400
    assert not StripeEvent.objects.filter(stripe_id=body["id"]).exists()


@FUZZ
@given(
    method=st.sampled_from(["get", "put", "patch", "delete", "options"]),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
    ),
)
def test_other_methods_and_content_types_never_fail_with_5xx(client, method, content_type):
    # given
    body = stripe_event_body("payment_intent.succeeded", {"id": "pi_fuzz", "object": "payment_intent"})
    payload = json.dumps(body)
    signature = stripe_gateway.sign_payload(payload, SECRET)

    # when
    response = client.generic(method.upper(), URL, payload, content_type=content_type, HTTP_STRIPE_SIGNATURE=signature)
    posted = _post(client, payload.encode(), signature, content_type=content_type)

    # then
    assert response.status_code == 405 and response["Allow"] == "POST"
    _assert_answer(response)
    _assert_answer(posted)
    assert posted.status_code == 200  # the signature, not the declared content type, decides
