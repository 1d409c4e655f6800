"""The Stripe webhooks in the OpenAPI schema. They are plain Django views (drf-spectacular documents DRF
views only), so this postprocessing hook describes them: Stripe is their only client, and each answers
200 once the event is stored, 400 for anything not correctly signed, 503 while it cannot be stored."""

STORED_SCHEMA = {
    "type": "object",
    "properties": {
        "received": {"type": "boolean", "enum": [True]},
        "duplicate": {"type": "boolean", "description": "The event id was already in the inbox; nothing was stored."},
    },
    "required": ["received", "duplicate"],
}

WEBHOOKS = {
    "/api/payments/webhook/": (
        "stripe_webhook",
        "Snapshot events (a webhook endpoint)",
        "Stripe's snapshot events, signed with a secret of `STRIPE_WEBHOOK_SECRET`: stored in the inbox "
        "(unique on the event id) and handed to the workers.",
    ),
    "/api/payments/webhook/thin/": (
        "stripe_thin_webhook",
        "Thin events (an event destination)",
        "Stripe's thin events (`v2.core.event` notifications), signed with a secret of "
        "`STRIPE_THIN_WEBHOOK_SECRET`: stored in the same inbox and handed to the workers, which fetch the "
        "related object from Stripe. With no secret configured every delivery is refused.",
    ),
}


def add_stripe_webhooks(result, generator, request, public):
    """Postprocessing hook: documents the two webhook endpoints (their errors are added by the next hook)."""
    paths = result.setdefault("paths", {})
    for path, (operation_id, summary, description) in WEBHOOKS.items():
        paths[path] = {
            "post": {
                "operationId": operation_id,
                "summary": summary,
                "description": description,
                "tags": ["payments"],
                "security": [],
                "parameters": [
                    {
                        "in": "header",
                        "name": "Stripe-Signature",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "`t=<unix time>,v1=<HMAC-SHA256 of t.body>`, as Stripe signs.",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
                },
                "responses": {
                    "200": {
                        "description": "Stored (or already stored).",
                        "content": {"application/json": {"schema": STORED_SCHEMA}},
                    }
                },
            }
        }
    return result
