"""The OpenAPI schema (drf-spectacular): every operation documents the API's one error shape."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,  # a 400 also names the fields that failed
}
ERROR_RESPONSES = {
    "4XX": "The request was refused (bad input, not authenticated, not yours, too large, throttled).",
    "503": "A dependency (database, Stripe) is briefly unavailable; retry.",
}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: each operation may answer `{"detail": …}` with a 4xx or a 503."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_RESPONSES.items():
                responses.setdefault(status, {"description": description, "content": reference})
    return result
