"""Fuzzing the thin-event webhook: whatever arrives, never a 5xx, and nothing is stored unless it is a
correctly signed thin event (stripe-python's parser decides what is one; EventPay never answers 500 for it)."""

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from payments import stripe_gateway
from payments.models import StripeEvent
from tests.factories import thin_event_body
from tests.payments.views.fuzzing import FUZZ, assert_answer, header_text, json_values, post_signed

pytestmark = pytest.mark.django_db

URL = reverse("stripe-thin-webhook")
SECRET = "whsec_thin_current"
FIXTURES = [
    "v1.payment_intent.succeeded",
    "v1.payment_intent.payment_failed",
    "v1.charge.refunded",
    "v1.billing.meter.error_report_triggered",
    "v2.core.event_destination.ping",
]


@pytest.fixture(autouse=True)
def thin_secret(settings):
    settings.STRIPE_THIN_WEBHOOK_SECRETS = [SECRET]


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


@FUZZ
@given(payload=st.binary(max_size=2048), signature=st.none() | header_text)
def test_arbitrary_bodies_and_headers_are_refused_and_never_stored(client, payload, signature):
    before = StripeEvent.objects.count()

    response = post_signed(client, URL, payload, signature)

    assert_answer(response)
    assert response.status_code == 400
    assert StripeEvent.objects.count() == before


@FUZZ
@given(
    fixture=st.sampled_from(FIXTURES),
    changes=st.dictionaries(
        st.sampled_from(["id", "type", "object", "created", "livemode", "context", "reason", "related_object"]),
        json_values,
        max_size=3,
    ),
    related_object=st.none() | st.dictionaries(st.sampled_from(["id", "type", "url"]), json_values, max_size=3),
)
def test_correctly_signed_notifications_of_any_content_are_stored_once_or_refused(
    client, fixture, changes, related_object
):
    # given: Stripe's shape with fields replaced by anything JSON holds (ids made unique: examples share the database)
    body = {**thin_event_body(fixture), **changes}
    if related_object is not None:
        body["related_object"] = related_object
    if isinstance(body.get("id"), str):
        body["id"] = f"{body['id']}-{uuid.uuid4().hex}"
    payload = json.dumps(body)
    signature = stripe_gateway.sign_payload(payload, SECRET)
    before = StripeEvent.objects.count()

    # when
    first = post_signed(client, URL, payload.encode(), signature)
    again = post_signed(client, URL, payload.encode(), signature)

    # then
    assert_answer(first)
    assert_answer(again)
    stored = StripeEvent.objects.count() - before
    if first.status_code == 200:
        assert again.json()["duplicate"] is True
        assert stored == 1
        row = StripeEvent.objects.get(stripe_id=body["id"])
        assert (row.kind, row.type, row.payload) == (StripeEvent.Kind.THIN, body["type"][:100], payload)
    else:
        assert first.status_code == again.status_code == 400
        assert stored == 0
