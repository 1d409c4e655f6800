"""The only module that talks to Stripe (or to its offline stand-in, localstripe).

Everything else in EventPay sees plain data (`StripeIntent`, `EventNotification`, event dicts) and the
two error kinds below. The stand-in's differences from Stripe are handled here
and nowhere else: what it rejects on create and cancel, its events' old shape
(`latest_charge` as an object, no `amount_received`), and its ignored
idempotency keys (our database guard in checkout covers that).
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

import stripe
from django.conf import settings
from stripe.params import EventListParams, PaymentIntentCancelParams, PaymentIntentCreateParams

from payments.consts import DisputeStatus, IntentStatus, StripeObjectType

# Pinned: Stripe shapes its responses and our webhook events by this version.
API_VERSION = "2026-10-28.endive"
MAX_NETWORK_RETRIES = 2


class StripeGatewayError(Exception):
    """Stripe refused a request; repeating it as it is will not help."""


class TransientStripeError(StripeGatewayError):
    """Stripe could not be reached or was briefly unavailable; retrying later may succeed."""


class StripeRateLimited(TransientStripeError):
    """Stripe answered 429: background work stops its run and leaves the rest for later."""


class InvalidWebhook(Exception):
    """A webhook delivery that is not a correctly signed, recent Stripe event."""


class WebhookSignatureMismatch(InvalidWebhook):
    """Well-formed, but signed with none of our secrets: a wrong or rotated secret, or a forgery."""


@dataclass(frozen=True)
class StripeIntent:
    """The parts of a PaymentIntent that fulfilment and checkout rely on."""

    id: str
    status: str
    amount: int
    amount_received: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)
    client_secret: str = ""
    last_error: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StripeIntent:
        status = data.get("status") or ""
        amount = _as_int(data.get("amount"))
        received = data.get("amount_received")
        # localstripe has no `amount_received`; a succeeded intent there received its amount.
        amount_received = (
            _as_int(received) if received is not None else (amount if status == IntentStatus.SUCCEEDED else 0)
        )
        last_payment_error = data.get("last_payment_error") or {}
        return cls(
            id=str(data.get("id") or ""),
            status=status,
            amount=amount,
            amount_received=amount_received,
            currency=str(data.get("currency") or "").lower(),
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            client_secret=str(data.get("client_secret") or ""),
            last_error=str(last_payment_error.get("message") or "") if isinstance(last_payment_error, dict) else "",
        )

    @property
    def payment_intent_id(self) -> str:
        return self.id


@dataclass(frozen=True)
class EventNotification:
    """A verified thin event, as an event destination delivers it: which change happened to which object.
    It carries no object: fulfilment fetches the related one as it is now (`retrieve_object`)."""

    id: str
    type: str
    livemode: bool
    related_object_type: str = ""
    related_object_id: str = ""


def payment_intent_id_of(obj: dict[str, Any]) -> str:
    """The PaymentIntent an API object is about: a PaymentIntent's own id, or the `payment_intent` of a
    Charge, Refund or Dispute (an id, or the object when expanded); "" when it names none."""
    if obj.get("object") == StripeObjectType.PAYMENT_INTENT:
        return str(obj.get("id") or "")
    payment_intent = obj.get("payment_intent")
    if isinstance(payment_intent, dict):
        payment_intent = payment_intent.get("id")
    return str(payment_intent or "")


def _as_int(value: Any) -> int:
    # localstripe echoes some amounts as strings.
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def is_offline() -> bool:
    return settings.STRIPE_OFFLINE


@functools.cache
def _client(api_key: str, api_base: str, timeouts: tuple[float, float]) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        stripe_version=API_VERSION,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=MAX_NETWORK_RETRIES,
        # (connect, read) seconds: the SDK's default waits 80 s for an answer, holding a web thread.
        http_client=stripe.RequestsClient(timeout=timeouts),
    )


def _timeouts() -> tuple[float, float]:
    return (settings.STRIPE_CONNECT_TIMEOUT_SECONDS, settings.STRIPE_READ_TIMEOUT_SECONDS)


def client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise StripeGatewayError("STRIPE_SECRET_KEY is not configured.")
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, _timeouts())


def longest_call_seconds() -> float:
    """How long one call may take at most, its retries included (checkout's lease outlasts it)."""
    attempt = settings.STRIPE_CONNECT_TIMEOUT_SECONDS + settings.STRIPE_READ_TIMEOUT_SECONDS
    return attempt * (1 + MAX_NETWORK_RETRIES) + 2 * MAX_NETWORK_RETRIES


P = ParamSpec("P")
R = TypeVar("R")


def _call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return fn(*args, **kwargs)
    except stripe.RateLimitError as exc:
        # Imported here: the metrics read the models, and the gateway is imported before Django's apps
        # are ready (the benchmarks sign their events with it).
        from payments import metrics

        metrics.count_stripe_rate_limited(call=getattr(fn, "__qualname__", "unknown"))
        raise StripeRateLimited(str(exc.user_message or exc)) from exc
    except stripe.APIConnectionError as exc:
        raise TransientStripeError(str(exc.user_message or exc)) from exc
    except stripe.APIError as exc:
        raise TransientStripeError(str(exc.user_message or exc)) from exc
    except stripe.StripeError as exc:
        if exc.http_status and exc.http_status >= 500:
            raise TransientStripeError(str(exc.user_message or exc)) from exc
        raise StripeGatewayError(str(exc.user_message or exc)) from exc


def _data(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return data


def _intent(obj: Any) -> StripeIntent:
    return StripeIntent.from_dict(_data(obj))


def create_payment_intent(
    *, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str
) -> StripeIntent:
    params: PaymentIntentCreateParams = {"amount": amount, "currency": currency, "metadata": metadata}
    if is_offline():
        # localstripe predates automatic payment methods; the pinned API version's types no longer list this.
        params["payment_method_types"] = ["card"]  # type: ignore[typeddict-unknown-key]
    else:
        params["automatic_payment_methods"] = {"enabled": True}
    obj = _call(client().v1.payment_intents.create, params, {"idempotency_key": idempotency_key})
    return _intent(obj)


def intent_accepts_payment(intent: StripeIntent) -> bool:
    """Whether the browser can still pay this intent (a new attempt after a decline included)."""
    if intent.status not in IntentStatus.PAYABLE:
        return False
    # localstripe keeps a declined charge on the intent and refuses to confirm it again; Stripe allows it.
    return not (is_offline() and intent.last_error)


def retrieve_payment_intent(payment_intent_id: str) -> StripeIntent:
    return _intent(_call(client().v1.payment_intents.retrieve, payment_intent_id))


def cancel_payment_intent(payment_intent_id: str) -> StripeIntent:
    params: PaymentIntentCancelParams = {} if is_offline() else {"cancellation_reason": "abandoned"}
    return _intent(_call(client().v1.payment_intents.cancel, payment_intent_id, params))


@dataclass(frozen=True)
class StripeCharge:
    """What a PaymentIntent's latest Charge says about the card and the refunds: for receipts and refunds.
    `refunded` is the one place "fully refunded" is decided (Stripe's flag, or every minor unit refunded)."""

    id: str
    payment_intent_id: str
    amount: int
    amount_refunded: int
    refunded: bool
    card_brand: str = ""
    card_last4: str = ""
    receipt_url: str = ""
    # A dispute's status (`DisputeStatus`) when the charge was disputed and the dispute expanded.
    dispute_status: str = ""

    @property
    def dispute_lost(self) -> bool:
        return self.dispute_status == DisputeStatus.LOST

    @classmethod
    def from_dict(cls, charge: dict[str, Any], *, payment_method: dict[str, Any] | None = None) -> StripeCharge:
        # Stripe describes the card on the charge; localstripe's charge has no `payment_method_details`,
        # only its PaymentMethod does (`payment_method.card`).
        details = charge.get("payment_method_details") or {}
        card = details.get("card") if isinstance(details, dict) else None
        if not isinstance(card, dict):
            card = (payment_method or {}).get("card") or {}
        amount = _as_int(charge.get("amount"))
        amount_refunded = _as_int(charge.get("amount_refunded"))
        dispute = charge.get("dispute")
        return cls(
            id=str(charge.get("id") or ""),
            payment_intent_id=payment_intent_id_of(charge),
            amount=amount,
            amount_refunded=amount_refunded,
            refunded=bool(charge.get("refunded")) or (amount > 0 and amount_refunded >= amount),
            card_brand=str(card.get("brand") or "")[:32],
            card_last4=str(card.get("last4") or "")[:4],
            receipt_url=str(charge.get("receipt_url") or "")[:500],
            dispute_status=str(dispute.get("status") or "") if isinstance(dispute, dict) else "",
        )


@dataclass(frozen=True)
class StripeDispute:
    """A Dispute of one of our charges, as `charge.dispute.closed` carries it or a thin event's fetch returns it."""

    id: str
    payment_intent_id: str
    status: str

    @classmethod
    def from_dict(cls, dispute: dict[str, Any]) -> StripeDispute:
        return cls(
            id=str(dispute.get("id") or ""),
            payment_intent_id=payment_intent_id_of(dispute),
            status=str(dispute.get("status") or ""),
        )

    @property
    def lost(self) -> bool:
        """The cardholder's bank took the money back, as a refund would have."""
        return self.status == DisputeStatus.LOST


@dataclass(frozen=True)
class StripeRefund:
    id: str
    status: str


def charge_events_are_sent() -> bool:
    """Whether `charge.*` webhooks bring the card of a payment (Stripe's `charge.succeeded`); localstripe sends
    none, so offline the card is read from the charge instead (`retrieve_latest_charge`)."""
    return not is_offline()


def retrieve_latest_charge(payment_intent_id: str) -> StripeCharge | None:
    """The PaymentIntent's latest Charge, with its card; None before any charge was attempted.

    One call for the card, the refunds and a dispute: offline receipts, an operator's refund read back
    (localstripe sends no `charge.*` events at all), and reconciliation's re-check of succeeded payments."""
    expand = ["latest_charge", "payment_method"]
    if not is_offline():  # the stand-in has no disputes
        expand.append("latest_charge.dispute")
    obj = _call(client().v1.payment_intents.retrieve, payment_intent_id, {"expand": expand})
    data = _data(obj)
    charge = data.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    payment_method = data.get("payment_method")
    return StripeCharge.from_dict(
        {**charge, "payment_intent": payment_intent_id},
        payment_method=payment_method if isinstance(payment_method, dict) else None,
    )


def create_refund(*, payment_intent_id: str, metadata: dict[str, str], idempotency_key: str) -> StripeRefund:
    """Refunds a PaymentIntent in full. A repeated key answers the first refund again (not offline)."""
    obj = _call(
        client().v1.refunds.create,
        {"payment_intent": payment_intent_id, "metadata": metadata},
        {"idempotency_key": idempotency_key},
    )
    data = _data(obj)
    return StripeRefund(id=str(data.get("id") or ""), status=str(data.get("status") or ""))


def livemode() -> bool:
    """Whether the configured key is a live one: events of the other mode are not ours to act on."""
    return settings.STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_"))


def retrieve_object(*, object_type: str, object_id: str) -> dict[str, Any]:
    """A thin event's related PaymentIntent, Charge or Dispute as it is now, shaped as a snapshot event's
    `data.object`.

    Fetched by type and id through the v1 API (rendered at the pinned version; localstripe serves
    PaymentIntents and Charges, not Disputes), never by following the notification's `related_object.url`:
    only the objects fulfilment acts on."""
    retrievers: dict[str, Callable[[str], stripe.StripeObject]] = {
        StripeObjectType.PAYMENT_INTENT: client().v1.payment_intents.retrieve,
        StripeObjectType.CHARGE: client().v1.charges.retrieve,
        StripeObjectType.DISPUTE: client().v1.disputes.retrieve,
    }
    if object_type not in retrievers:
        raise StripeGatewayError(f"EventPay does not fetch {object_type or 'an object without a type'} objects.")
    return _call(retrievers[object_type], object_id).to_dict()


def list_events(*, created_after: int, types: list[str] | None = None, limit: int = 100) -> Iterator[dict[str, Any]]:
    """Yields Stripe's events (as dicts) created after a Unix time, newest first."""
    params: EventListParams = {"limit": limit, "created": {"gt": created_after}}
    if not is_offline():
        params["delivery_success"] = False
        if types:
            params["types"] = types
    page = _call(client().v1.events.list, params)
    for obj in page.auto_paging_iter():
        yield obj.to_dict(for_json=True)


def verify_webhook(payload: bytes, signature_header: str | None) -> dict[str, Any]:
    """Checks `Stripe-Signature` against every configured secret and returns the event as a dict.

    The header is parsed once (`_signed_delivery`): exactly one timestamp `t=`, within the tolerance.
    stripe-python's `WebhookSignature.verify_header` then checks Stripe's HMAC on the header rebuilt from
    that parse, so it reads the same timestamp (a second `t=` could otherwise pass the tolerance check
    with a fresh time while an old signature is checked against an old one: a replay). `construct_event`
    would also build `stripe.Event` objects (~25x the cost of verifying); the webhook only needs the JSON.
    """
    secrets = settings.STRIPE_WEBHOOK_SECRETS
    body, header = _signed_delivery(payload, signature_header, secrets=secrets, kind="webhook")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(body, header, secret, tolerance)
            break
        except stripe.SignatureVerificationError:
            continue
    else:
        raise WebhookSignatureMismatch("No signature matches the payload.")
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise InvalidWebhook("Body is not JSON.") from exc
    if not (
        isinstance(event, dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and event["id"]
        and isinstance(event.get("type"), str)
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise InvalidWebhook("Body is not a Stripe event.")
    return event


def _signed_delivery(payload: bytes, signature_header: str | None, *, secrets: list[str], kind: str) -> tuple[str, str]:
    """What both endpoints check first: a secret to check with, a header, a UTF-8 body, and the header's one
    timestamp within the tolerance. Returns the body and the header as parsed (`t=<that timestamp>` and its
    `v1` signatures, Stripe's own form) for the SDK's signature check."""
    if not secrets:
        raise InvalidWebhook(f"No {kind} secret is configured.")
    if not signature_header:
        raise InvalidWebhook("Missing Stripe-Signature header.")
    try:
        body = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidWebhook("Body is not UTF-8.") from exc
    timestamp, signatures = _parse_signature_header(signature_header)
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    if abs(time.time() - timestamp) > tolerance:
        raise InvalidWebhook(f"Timestamp outside the tolerance zone ({tolerance} s).")
    return body, ",".join([f"t={timestamp}", *(f"v1={signature}" for signature in signatures)])


_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    """The one timestamp and the `v1` signatures of a `Stripe-Signature` header (`t=…,v1=…,v1=…`)."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamps.append(value.strip())
        elif key == "v1":
            signatures.append(value.strip())
    if len(timestamps) != 1:
        raise InvalidWebhook("Stripe-Signature must carry exactly one timestamp.")
    if not _TIMESTAMP.fullmatch(timestamps[0]):
        raise InvalidWebhook("Unable to read the timestamp of Stripe-Signature.")
    if not signatures:
        raise InvalidWebhook("No signature matches the payload: Stripe-Signature has no v1 signature.")
    return int(timestamps[0]), signatures


def verify_event_notification(payload: bytes, signature_header: str | None) -> EventNotification:
    """Checks an event destination's `Stripe-Signature` against every thin-event secret (±tolerance, as
    `verify_webhook`) with stripe-python's `parse_event_notification`, and returns what the row keeps.

    The header must carry exactly one timestamp (as for `verify_webhook`), which the SDK's tolerance
    and signature checks then both read. A type the SDK does not know parses too (as
    `UnknownEventNotification`): it is stored, then ignored. Parsing calls nothing at Stripe, so it
    works whatever the secret key.
    """
    secrets = settings.STRIPE_THIN_WEBHOOK_SECRETS
    body, header = _signed_delivery(payload, signature_header, secrets=secrets, kind="thin-event webhook")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
    parser = _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, _timeouts())
    for secret in secrets:
        try:
            notification = parser.parse_event_notification(body, header, secret, tolerance)
            break
        except stripe.SignatureVerificationError:
            continue
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Signed, but not a notification: a snapshot event, not JSON, a field missing or of the wrong type.
            raise InvalidWebhook(f"Body is not a Stripe thin event ({type(exc).__name__}: {exc}).") from exc
    else:
        raise WebhookSignatureMismatch("No signature matches the payload.")
    related = getattr(notification, "related_object", None)
    fields = (notification.id, notification.type, related.type if related else "", related.id if related else "")
    if not (notification.id and all(isinstance(value, str) for value in fields)):
        raise InvalidWebhook("Body is not a Stripe thin event.")
    event_id, event_type, related_type, related_id = fields
    return EventNotification(
        id=event_id,
        type=event_type,
        livemode=notification.livemode,
        related_object_type=related_type,
        related_object_id=related_id,
    )


def sign_payload(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for a payload, as Stripe would send it (tests, benchmarks, tools)."""
    header: str = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return header
