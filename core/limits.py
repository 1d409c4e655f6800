"""Who a client is, and what it is told when it goes over a limit.

One answer to "which address is this client" for every limit (DRF's throttles, django-axes's login
lockout, the metrics allow-list): the connecting address, or with `NUM_PROXIES` proxies of ours in
front, the address the outermost of them saw (the `NUM_PROXIES`-th entry from the right of
`X-Forwarded-For`). Entries further left are written by the client and never trusted.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """The client's address as the throttles see it (DRF's own rule, driven by `NUM_PROXIES`)."""
    return BaseThrottle().get_ident(request)


def wait_in_words(seconds: float) -> str:
    """How long to wait, as a person reads it: "52 minutes", "1 hour", "30 seconds" (rounded up)."""
    seconds = max(1, math.ceil(seconds))
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = math.ceil(seconds / size)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes's answer to a locked-out login: 429 with Retry-After, `{"detail"}` on the API."""
    # A username's own (softer, shorter) lockout says how long it has left (core/login_lockout.py).
    seconds = getattr(request, "login_lockout_seconds", None) or int(settings.AXES_COOLOFF_TIME.total_seconds())
    message = f"Too many failed logins: try again in {wait_in_words(seconds)}."
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(seconds)
    return response
