"""Realistic signed Stripe events (pinned API version shape, about 3 KB each, pretty-printed as Stripe sends them)."""

from __future__ import annotations

import functools
import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from payments.stripe_gateway import API_VERSION, sign_payload

WEBHOOK_SECRET = "whsec_bench_" + "0" * 24


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def payment_intent(
    *, payment_intent_id: str, payment_id: int, event_id: int, amount: int, currency: str, status: str
) -> dict:
    created = int(time.time()) - 60
    failed = status == "requires_payment_method"
    payment_method = _id("pm")
    return {
        "id": payment_intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic_async",
        "client_secret": f"{payment_intent_id}_secret_{uuid.uuid4().hex[:24]}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "description": None,
        "last_payment_error": {
            "code": "card_declined",
            "decline_code": "generic_decline",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "message": "Your card was declined.",
            "payment_method": {
                "id": payment_method,
                "object": "payment_method",
                "billing_details": {
                    "address": {
                        "city": None,
                        "country": "PT",
                        "line1": None,
                        "line2": None,
                        "postal_code": "1000-001",
                        "state": None,
                    },
                    "email": None,
                    "name": None,
                    "phone": None,
                },
                "card": {
                    "brand": "visa",
                    "checks": {"address_line1_check": None, "address_postal_code_check": "pass", "cvc_check": "pass"},
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "fingerprint": uuid.uuid4().hex[:16],
                    "funding": "credit",
                    "last4": "0002",
                    "networks": {"available": ["visa"], "preferred": None},
                },
                "created": created,
                "customer": None,
                "livemode": False,
                "metadata": {},
                "type": "card",
            },
            "type": "card_error",
        }
        if failed
        else None,
        "latest_charge": None if failed else _id("ch"),
        "livemode": False,
        "metadata": {"payment_id": str(payment_id), "event_id": str(event_id)},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None if failed else payment_method,
        "payment_method_configuration_details": {"id": _id("pmc"), "parent": None},
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            },
            "link": {"persistent_token": None},
        },
        "payment_method_types": ["card", "link"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refunded_charge(*, payment_intent_id: str, amount: int, currency: str) -> dict:
    return {
        "id": _id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount,
        "balance_transaction": _id("txn"),
        "captured": True,
        "created": int(time.time()) - 30,
        "currency": currency,
        "disputed": False,
        "livemode": False,
        "metadata": {},
        "paid": True,
        "payment_intent": payment_intent_id,
        "payment_method": _id("pm"),
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{uuid.uuid4().hex}",
        "refunded": True,
        "status": "succeeded",
    }


def event_body(event_type: str, data_object: dict, *, event_id: str | None = None) -> str:
    body = {
        "id": event_id or _id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": _id("req"), "idempotency_key": str(uuid.uuid4())},
        "type": event_type,
    }
    return json.dumps(body, indent=2)


@dataclass(frozen=True)
class SignedEvent:
    body: str
    signature: str


def sign(body: str, secret: str) -> SignedEvent:
    return SignedEvent(body=body, signature=sign_payload(body, secret))


@dataclass(frozen=True)
class PaymentPlan:
    """One payment of the burst: the unique events Stripe sends for it and the state they must lead to."""

    payment_intent_id: str
    final_status: str
    bodies: list[str]


def burst_plans(
    payments: list[tuple[int, int, str]], *, amount: int, currency: str, rng: random.Random
) -> list[PaymentPlan]:
    """Four unique events per payment, so that 2,000 payments give 8,000 events (10,000 deliveries with 20 % duplicates).

    70 % succeed after a declined first attempt (failed, processing, succeeded: any order ends succeeded),
    20 % only fail (two declines), 10 % succeed and are fully refunded. Every payment also gets an event
    type EventPay ignores. Orders are shuffled by the caller, so `payment_failed` often overtakes `succeeded`.
    """
    plans = []
    for payment_id, event_id, payment_intent_id in payments:
        intent = functools.partial(
            payment_intent, payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id,
            amount=amount, currency=currency,
        )  # fmt: skip

        roll = rng.random()
        ignored = event_body("payment_intent.created", intent(status="requires_payment_method"))
        if roll < 0.7:
            final, bodies = (
                "succeeded",
                [
                    event_body("payment_intent.payment_failed", intent(status="requires_payment_method")),
                    event_body("payment_intent.processing", intent(status="processing")),
                    event_body("payment_intent.succeeded", intent(status="succeeded")),
                ],
            )
        elif roll < 0.9:
            final, bodies = (
                "failed",
                [
                    event_body("payment_intent.payment_failed", intent(status="requires_payment_method")),
                    event_body("payment_intent.payment_failed", intent(status="requires_payment_method")),
                    event_body(
                        "charge.failed",
                        refunded_charge(payment_intent_id=payment_intent_id, amount=amount, currency=currency)
                        | {"refunded": False, "amount_refunded": 0, "status": "failed", "paid": False},
                    ),
                ],
            )
        else:
            final, bodies = (
                "refunded",
                [
                    event_body("payment_intent.succeeded", intent(status="succeeded")),
                    event_body(
                        "charge.refunded",
                        refunded_charge(payment_intent_id=payment_intent_id, amount=amount, currency=currency),
                    ),
                    event_body("payment_intent.processing", intent(status="processing")),
                ],
            )
        plans.append(PaymentPlan(payment_intent_id=payment_intent_id, final_status=final, bodies=[ignored, *bodies]))
    return plans


def write_wrk_pool(path, events: list[SignedEvent]) -> None:
    """The request pool read by bench/wrk/webhook.lua: signature line, byte length line, body."""
    with open(path, "w", encoding="utf-8") as f:
        for event in events:
            data = event.body.encode()
            f.write(f"{event.signature}\n{len(data)}\n")
            f.write(event.body)


def succeeded_body(*, payment_intent_id: str, payment_id: int, event_id: int) -> str:
    return event_body("payment_intent.succeeded", payment_intent(
        payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id, amount=1500, currency="usd",
        status="succeeded"))  # fmt: skip


def signed_events(n: int, prefix: str) -> list[SignedEvent]:
    """`payment_intent.succeeded` deliveries for PaymentIntents EventPay does not know (ingest only stores them)."""
    return [
        sign(succeeded_body(payment_intent_id=f"pi_{prefix}{uuid.uuid4().hex[:24]}", payment_id=i, event_id=i),
             WEBHOOK_SECRET)
        for i in range(n)
    ]  # fmt: skip


def ingest_pool(path: Path, size: int) -> None:
    write_wrk_pool(path, signed_events(size, "ingest"))
