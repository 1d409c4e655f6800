"""The OpenAPI schema (drf-spectacular): every operation documents the API's one error shape, its 503 with
Retry-After, and every operation behind a limit its 429 with Retry-After."""

from drf_spectacular.openapi import AutoSchema

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,  # a 400 also names the fields that failed
}
ERROR_REFERENCE = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_RESPONSES = {
    "4XX": "The request was refused (bad input, not authenticated, not yours, too large, throttled).",
    "503": "A dependency (database, Stripe) is briefly unavailable; retry.",
}
UNAVAILABLE_RETRY_AFTER = {
    "description": "Seconds after which to try again.",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
THROTTLED_RESPONSE = {
    "description": "Over a limit (core/limits.py): `detail` says in words when to try again.",
    "headers": {
        "Retry-After": {
            "description": "Seconds until the limit lets the caller in again.",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
    "content": ERROR_REFERENCE,
}


class ApiSchema(AutoSchema):
    """drf-spectacular's schema of one operation, plus its 429 when the view has a throttle for that method."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self.view.get_throttles():
            operation["responses"]["429"] = THROTTLED_RESPONSE
        return operation


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: each operation may answer `{"detail": …}` with a 4xx or a 503."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(status, {"description": description, "content": ERROR_REFERENCE})
            responses["503"].setdefault("headers", {"Retry-After": UNAVAILABLE_RETRY_AFTER})
    return result
