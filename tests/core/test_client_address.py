"""Who the client is (core.limits.client_ip) and which forwarded headers reach Django: a peer in
TRUSTED_PROXY_NETWORKS is a proxy of ours and is believed; anyone else's forwarded headers are dropped."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from core.limits import ForwardedHeadersMiddleware, client_ip

PROXIES = ["10.0.0.0/24", "fd00::/8"]


@pytest.fixture(autouse=True)
def _proxies(settings):
    settings.TRUSTED_PROXY_NETWORKS = PROXIES


def _request(peer: str, forwarded_for: str | None = None, **headers):
    if forwarded_for is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", REMOTE_ADDR=peer, **headers)


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # not a proxy of ours: its header is its own words
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "1.2.3.4, 198.51.100.1", "198.51.100.1"),  # the client prepended 1.2.3.4
        ("10.0.0.2", "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two proxies of ours
        ("10.0.0.2", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # from inside: the furthest of ours
        ("10.0.0.2", None, "10.0.0.2"),  # a health check from the proxy itself
        ("10.0.0.2", "not-an-address, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "not-an-address", "10.0.0.2"),  # a broken header names the last hop we vouch for
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),  # an IPv4 proxy seen by a dual-stack socket
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("", "198.51.100.1", ""),
    ],
)
def test_the_client_is_the_first_address_not_of_ours_from_the_right(peer, forwarded_for, client):
    assert client_ip(_request(peer, forwarded_for)) == client


def test_with_no_proxy_configured_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXY_NETWORKS = []

    assert client_ip(_request("10.0.0.2", "198.51.100.1")) == "10.0.0.2"


@pytest.mark.parametrize(("peer", "kept"), [("203.0.113.7", False), ("10.0.0.2", True)])
def test_forwarded_headers_reach_django_only_from_a_proxy_of_ours(settings, peer, kept):
    # given: production behind a TLS proxy that says https in X-Forwarded-Proto
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    request = _request(peer, "198.51.100.1", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_HOST="evil.example")
    seen = {}

    def view(request):
        seen.update(secure=request.is_secure(), headers={k for k in request.META if "FORWARDED" in k})
        return HttpResponse()

    # when
    ForwardedHeadersMiddleware(view)(request)

    # then: a client reaching gunicorn directly cannot claim https (nor an address, nor a host)
    assert seen["secure"] is kept
    assert bool(seen["headers"]) is kept


def test_the_csp_report_budget_is_per_client_behind_a_proxy(monkeypatch, settings):
    # given: a proxy of ours in front, and a budget of one report a minute per client
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "csp_report": "1/min"}
    )
    client = APIClient()

    def report(client_address: str):
        return client.post(
            reverse("csp-report"), {}, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client_address
        )

    # when
    first, again, other = report("198.51.100.1"), report("198.51.100.1"), report("198.51.100.2")

    # then: one client's reports do not spend another's budget
    assert first.status_code != 429 and other.status_code != 429
    assert again.status_code == 429
