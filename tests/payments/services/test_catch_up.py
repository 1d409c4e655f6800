"""Catching up on events Stripe could not deliver, against localstripe (its webhooks reach nobody)."""

import json

import pytest
from django.utils import timezone

from payments.consts import StripeEventType
from payments.models import OperatorAction, StripeEvent
from payments.services import catch_up
from payments.services.audit import Actor
from tests.conftest import paid_payment

pytestmark = pytest.mark.django_db

ADA = Actor(name="ada")


def test_catch_up_stores_only_the_missing_events_and_enqueues_them(webhooks_off, enqueued):
    # given: two payments paid while the endpoint was down; the first one's event arrived after all
    started = timezone.now()
    _first, first_intent = paid_payment()
    second, second_intent = paid_payment()
    [delivered] = [
        e for e in catch_up.stripe_events_missing(since=started) if e["data"]["object"]["id"] == first_intent["id"]
    ]
    StripeEvent.objects.create(
        stripe_id=delivered["id"], type=delivered["type"], payload=json.dumps(delivered),
        payment_intent_id=first_intent["id"], status=StripeEvent.Status.PROCESSED,
    )  # fmt: skip

    # when
    result = catch_up.stripe_events_catch_up(since=started, actor=ADA)

    # then
    row = StripeEvent.objects.get(payment_intent_id=second_intent["id"])
    assert result.stored >= 1 and result.errors == []
    assert StripeEvent.objects.filter(payment_intent_id=first_intent["id"]).count() == 1
    assert row.type == StripeEventType.PAYMENT_INTENT_SUCCEEDED and row.status == StripeEvent.Status.ENQUEUED
    assert json.loads(row.payload)["data"]["object"]["metadata"]["payment_id"] == str(second.pk)
    assert row.pk in enqueued
    assert OperatorAction.objects.get(stripe_event=row).action == OperatorAction.Action.CATCH_UP
    # A second run finds nothing left to store.
    assert catch_up.stripe_events_catch_up(since=started, actor=ADA).stored == 0
