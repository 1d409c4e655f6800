"""The two reference points the webhook is measured against, served by the same gunicorn.

`bare_json` is the ceiling: Django's full middleware stack, the same request body read,
a small JSON answer. `backbone_webhook` is the webhook as the backbone first shipped it
(commit 3a634d7): ORM insert in a transaction, `.delay()`, then an UPDATE to `enqueued`;
kept here only so that every run measures the before and the after side by side.
"""

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import stripe_gateway
from payments.models import StripeEvent


@csrf_exempt
@require_POST
def bare_json(request):
    return JsonResponse({"received": True, "bytes": len(request.body)})


@csrf_exempt
@require_POST
def backbone_webhook(request):
    from worker.tasks import process_stripe_event

    payload = request.body
    try:
        event = stripe_gateway.verify_webhook(payload, request.headers.get("Stripe-Signature"))
    except stripe_gateway.InvalidWebhook as exc:
        return JsonResponse({"detail": str(exc)}, status=400)
    obj = event["data"]["object"]
    try:
        with transaction.atomic():
            row = StripeEvent.objects.create(
                stripe_id=event["id"],
                type=event["type"],
                livemode=bool(event.get("livemode")),
                api_version=str(event.get("api_version") or ""),
                payment_intent_id=str(obj.get("id") or ""),
                payload=payload.decode(),
            )
    except IntegrityError:
        return JsonResponse({"received": True, "duplicate": True})
    process_stripe_event.delay(row.pk)
    StripeEvent.objects.filter(pk=row.pk).update(status=StripeEvent.Status.ENQUEUED, enqueued_at=timezone.now())
    return JsonResponse({"received": True, "duplicate": False})
