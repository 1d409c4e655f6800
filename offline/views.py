"""Offline mode only: a same-origin route from the browser to localstripe.

localstripe's Stripe.js stand-in cannot call localstripe itself (a `pk_` key gets 401 and
its CORS headers are too narrow), so the frontend's offline adapter (frontend/src/offline/)
calls this route, which checks the caller owns the PaymentIntent (its client secret) and
forwards the call with the secret key. Only the few calls a card checkout needs are allowed.
The stand-in's script is served from here too, so the browser needs no route to localstripe.
"""

import json
import re
from importlib import resources

import stripe
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ApplicationError
from payments import stripe_gateway
from payments.models import Payment

ALLOWED_CALLS = [
    ("POST", re.compile(r"^v1/payment_methods$")),
    ("GET", re.compile(r"^v1/payment_intents/(?P<intent>pi_\w+)$")),
    ("POST", re.compile(r"^v1/payment_intents/(?P<intent>pi_\w+)$")),
    ("POST", re.compile(r"^v1/payment_intents/(?P<intent>pi_\w+)/confirm$")),
]
# What the browser may set on each call; everything else is dropped.
ALLOWED_PARAMS = {"type", "card", "payment_method", "billing_details"}


def _nest(flat: dict[str, str]) -> dict:
    """Turns Stripe's form keys (`card[number]`) back into the nested params the SDK encodes."""
    nested: dict = {}
    for key, value in flat.items():
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return nested


@extend_schema(exclude=True)  # offline mode's bridge for the browser adapter, not part of the API
class OfflineStripeProxyView(APIView):
    parser_classes = [FormParser, JSONParser]

    def get(self, request, path: str):
        return self._forward(request, path, dict(request.query_params.items()))

    def post(self, request, path: str):
        return self._forward(request, path, dict(request.data.items()))

    def _forward(self, request, path: str, flat_params: dict[str, str]):
        if not stripe_gateway.is_offline():
            raise Http404
        match = next(
            (m for method, pattern in ALLOWED_CALLS if method == request.method and (m := pattern.match(path))), None
        )
        if match is None:
            raise Http404
        client_secret = flat_params.pop("client_secret", "")
        intent_id = client_secret.split("_secret_")[0]
        if match.groupdict().get("intent", intent_id) != intent_id:
            raise ApplicationError("The client secret does not belong to this PaymentIntent.", status_code=403)
        if not Payment.objects.filter(payment_intent_id=intent_id, user=request.user).exists():
            raise Http404
        intent = stripe_gateway.retrieve_payment_intent(intent_id)
        if not client_secret or intent.client_secret != client_secret:
            raise ApplicationError("Invalid client secret.", status_code=403)

        params = {k: v for k, v in _nest(flat_params).items() if k in ALLOWED_PARAMS}
        if path.endswith("/confirm"):
            params = {}  # localstripe confirms only with no parameters
        status, body = forward(request.method, path, params)
        return Response(body, status=status)


def forward(method: str, path: str, params: dict[str, object]) -> tuple[int, object]:
    """One call to localstripe with the secret key; Stripe's error body and status on refusal."""
    try:
        response = stripe_gateway.client().raw_request(method.lower(), f"/{path.lstrip('/')}", **params)
    except stripe.StripeError as exc:
        return exc.http_status or 502, exc.json_body or {"error": {"message": str(exc.user_message or exc)}}
    return 200, json.loads(response.body)


@require_GET
def stand_in_script(request):
    if not stripe_gateway.is_offline():
        raise Http404
    script = resources.files("localstripe").joinpath("localstripe-v3.js").read_bytes()
    return HttpResponse(script, content_type="text/javascript")
