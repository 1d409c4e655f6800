"""What happens when Stripe calls us, step 1 of 3: verify, store, enqueue. Nothing else.

Two endpoints, one inbox: a webhook endpoint's snapshot events (`stripe_webhook`) and an event
destination's thin events (`stripe_thin_webhook`), each with its own signing secrets, answered alike.
Next: worker/tasks.py (process_stripe_event), then payments/services/fulfilment.py.
Plain Django views, not DRF: this path is hot and needs no content negotiation.
"""

import json
import logging

from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.exceptions import RETRY_UNAVAILABLE_AFTER_SECONDS
from payments import metrics, stripe_gateway
from payments.services import inbox

logger = logging.getLogger(__name__)

# The two answers to a verified delivery, serialized once.
_STORED = json.dumps({"received": True, "duplicate": False}).encode()
_DUPLICATE = json.dumps({"received": True, "duplicate": True}).encode()


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _method_not_allowed(request) -> JsonResponse:
    response = _error(f"Method {request.method} not allowed.", 405)
    response["Allow"] = "POST"
    return response


def _stored(request, *, duplicate: bool) -> HttpResponse:
    request.stripe_event_duplicate = duplicate  # for the deliveries metric
    return HttpResponse(_DUPLICATE if duplicate else _STORED, content_type="application/json")


def _storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates (both possible in JSON escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _receive(request, *, what: str, event_id: str, event_type: str, stored_fields: tuple[str, ...], receive):
    """The answer to a verified delivery: refused if PostgreSQL cannot hold it, else stored (or found a
    duplicate) by `receive`, or 503 for Stripe to retry when the database cannot take it now."""
    if len(event_id) > 255 or not all(map(_storable, (event_id, event_type, *stored_fields))):
        return _error(f"Body is not a {what}.", 400)
    request.stripe_event_type = event_type  # for the deliveries metric

    try:
        stripe_event_id = receive()
    except DatabaseError:
        logger.exception("could not store %s %s; Stripe will retry", what, event_id)
        response = _error("Could not store the event; please retry.", 503)
        response["Retry-After"] = str(RETRY_UNAVAILABLE_AFTER_SECONDS)
        return response
    return _stored(request, duplicate=stripe_event_id is None)


@metrics.count_webhook_deliveries
@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request instead.
def stripe_webhook(request):
    if request.method != "POST":
        return _method_not_allowed(request)
    # Bodies over STRIPE_WEBHOOK_MAX_BYTES were answered 413 by core.middleware before anything read them.
    payload = request.body

    try:
        event = stripe_gateway.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook as exc:
        request.stripe_signature_mismatch = isinstance(exc, stripe_gateway.WebhookSignatureMismatch)
        return _error(str(exc), 400)
    return _receive(
        request,
        what="Stripe event",
        event_id=event["id"],
        event_type=event["type"],
        stored_fields=(inbox.payment_intent_id(event), str(event.get("api_version") or "")),
        receive=lambda: inbox.stripe_event_receive(event=event, payload=payload),
    )


@metrics.count_webhook_deliveries
@csrf_exempt  # as above: the signature authenticates the request
def stripe_thin_webhook(request):
    if request.method != "POST":
        return _method_not_allowed(request)
    payload = request.body

    try:
        notification = stripe_gateway.verify_event_notification(payload, request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook as exc:
        request.stripe_signature_mismatch = isinstance(exc, stripe_gateway.WebhookSignatureMismatch)
        return _error(str(exc), 400)
    return _receive(
        request,
        what="Stripe thin event",
        event_id=notification.id,
        event_type=notification.type,
        stored_fields=(notification.related_object_type, notification.related_object_id),
        receive=lambda: inbox.stripe_event_notification_receive(notification=notification, payload=payload),
    )
