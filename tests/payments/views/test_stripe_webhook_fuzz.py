"""Fuzzing the webhook: whatever arrives, never a 5xx, and nothing is stored unless correctly signed.

The real endpoint through Django's test client (CSRF enforced, as for a browser), the real
inbox on PostgreSQL; the broker is the test Redis database (nothing consumes these rows'
messages: their transactions are rolled back).
"""

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time
from hypothesis import assume, given
from hypothesis import strategies as st

from payments import stripe_gateway
from payments.models import StripeEvent
from tests.factories import stripe_event_body
from tests.payments.views.fuzzing import FUZZ, assert_answer, header_text, json_values, post_signed

pytestmark = pytest.mark.django_db

URL = reverse("stripe-webhook")
SECRET = "whsec_test_current"


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@FUZZ
@given(payload=st.binary(max_size=2048), signature=st.none() | header_text)
def test_arbitrary_bodies_and_headers_are_refused_and_never_stored(client, payload, signature):
    # given
    before = StripeEvent.objects.count()

    # when
    response = post_signed(client, URL, payload, signature)

    # then
    assert_answer(response)
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
    first = post_signed(client, URL, payload.encode(), stripe_gateway.sign_payload(payload, SECRET))
    again = post_signed(client, URL, payload.encode(), stripe_gateway.sign_payload(payload, SECRET))

    # then
    assert_answer(first)
    assert_answer(again)
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
        response = post_signed(client, URL, raw, signature)

        # then
        assert_answer(response)
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

    # when: the clock stands still at signing time, so a skew of tolerance + 1 s stays outside it
    with freeze_time(datetime.fromtimestamp(now, UTC)):
        response = post_signed(client, URL, payload.encode(), signature)

    # then
    assert_answer(response)
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
    posted = post_signed(client, URL, payload.encode(), signature, content_type=content_type)

    # then
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert_answer(response)
    assert_answer(posted)
    assert posted.status_code == 200  # the signature, not the declared content type, decides
