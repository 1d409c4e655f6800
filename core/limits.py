"""Who a client is, and what it is told when it goes over a limit.

One answer to "which address is this client" for every limit (DRF's throttles, django-axes's login
lockout, the metrics allow-list): the connecting address, unless it is a proxy of ours (a peer in
`TRUSTED_PROXY_NETWORKS`); then `X-Forwarded-For` is read from the right, each proxy of ours having
appended the address it saw, and the first address that is not a proxy of ours is the client. Entries
further left are written by the client and never trusted, and a peer outside those networks has its
forwarded headers dropped before anything reads them (ForwardedHeadersMiddleware).
"""

from __future__ import annotations

import ipaddress
import math
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework.throttling import ScopedRateThrottle

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_FORWARDED")


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; networks are written as a.b.c.d/n.
    return address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address


def address_in(address: str, cidrs: list[str]) -> bool:
    """Whether `address` is in one of the networks `cidrs` (never for anything that is not an address)."""
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in _networks(tuple(cidrs)))


def is_trusted_proxy(address: str) -> bool:
    return address_in(address, settings.TRUSTED_PROXY_NETWORKS)


def client_ip(request) -> str:
    """The client's address for every limit: the peer, or behind proxies of ours the address they saw."""
    address = request.META.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(address):
        return address
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        if _address(hop) is None:
            break  # our proxies write addresses: stop at the last one they vouch for
        address = hop.strip()
        if not is_trusted_proxy(address):
            break
    return address


class ForwardedHeadersMiddleware:
    """Drops the forwarded headers of a peer that is not a proxy of ours, before Django (SECURE_PROXY_SSL_HEADER)
    or anything else reads them: a client reaching gunicorn directly could otherwise claim https or an address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_trusted_proxy(request.META.get("REMOTE_ADDR", "")):
            for header in FORWARDED_HEADERS:
                request.META.pop(header, None)
        return self.get_response(request)


class ClientRateThrottle(ScopedRateThrottle):
    """DRF's per-scope throttle (per user once logged in), naming an anonymous client by client_ip."""

    def get_ident(self, request) -> str:
        return client_ip(request)


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
