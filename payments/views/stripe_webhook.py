"""What happens when Stripe calls us, step 1 of 3: verify, store, enqueue. Nothing else.

Next: worker/tasks.py (process_stripe_event), then payments/services/fulfilment.py.
A plain Django view, not DRF: this path is hot and needs no content negotiation.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import stripe_gateway
from payments.services import inbox

logger = logging.getLogger(__name__)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@csrf_exempt  # Stripe cannot send a CSRF token; the signature authenticates the request instead.
@require_POST
def stripe_webhook(request):
    limit = settings.STRIPE_WEBHOOK_MAX_BYTES
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error("Invalid Content-Length.", 400)
    if declared_length > limit:
        return _error(f"Body larger than {limit} bytes.", 413)
    payload = request.read(limit + 1)
    if len(payload) > limit:
        return _error(f"Body larger than {limit} bytes.", 413)

    try:
        event = stripe_gateway.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook as exc:
        return _error(str(exc), 400)

    try:
        row = inbox.stripe_event_store(event=event, payload=payload)
    except DatabaseError:
        logger.exception("could not store stripe event %s; Stripe will retry", event["id"])
        return _error("Could not store the event; please retry.", 503)

    if row is not None:
        inbox.stripe_event_enqueue(stripe_event_id=row.pk)
    return JsonResponse({"received": True, "duplicate": row is None})
