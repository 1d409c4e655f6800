"""One place that turns errors into API answers: `{"detail": "…"}` (plus field errors for 400)."""

import math

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from core.exceptions import RETRY_UNAVAILABLE_AFTER_SECONDS, ApplicationError
from core.limits import wait_in_words


def api_exception_handler(exc, context):
    response = _response(exc, context)
    if response is not None and response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response.setdefault("Retry-After", str(RETRY_UNAVAILABLE_AFTER_SECONDS))
    return response


def _response(exc, context):
    if isinstance(exc, ApplicationError):
        return Response({"detail": exc.message, **exc.extra}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DatabaseError):
        return Response(
            {"detail": "The service is temporarily unavailable; please retry."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": _first_message(data), **data}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        # The same wait in the header (rounded up, as the words are: DRF's own rounds down, which is too early)
        # and in words for a person.
        response["Retry-After"] = str(math.ceil(exc.wait))
        response.data = {"detail": f"Too many requests: try again in {wait_in_words(exc.wait)}."}
    return response


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors) or "Invalid input."
