"""Prometheus metrics at `/api/metrics`, correct with any number of web and worker processes.

Two kinds of source, registered by the apps that own them (payments/apps.py):

- collectors that read shared state at scrape time (`register_collector`), such as the webhook
  inbox in the database: workers may run on other machines and die at any time, so what they
  record in rows is the one record every web process can read;
- counters a web process keeps (`PROCESS_REGISTRY`), for what only it sees (a duplicate or a
  rejected delivery never reaches the database). With several gunicorn processes set
  `PROMETHEUS_MULTIPROC_DIR` (an empty directory per host, cleared at start, before the first
  import of prometheus_client): multiprocess mode then sums every process's counters. Without
  it each scrape sees the serving process's own. A process that exits leaves its files, one more
  per gunicorn worker recycled (max_requests) and per pool child replaced: `metrics_archive_process`
  (core/metrics_multiprocess.py) adds its counts into one archive file per metric type and removes its files, so the directory
  stays as large as the live processes and a counter never goes back.

Who may scrape: a caller with `Authorization: Bearer <METRICS_TOKEN>` (Prometheus's `authorization`
scrape setting), or one whose address (core.limits.client_ip) is in `METRICS_ALLOWED_NETWORKS`. With
neither configured the endpoint is open in development and answers 404 in production; any other
caller gets the same 404, so the endpoint does not even say it exists.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from core.limits import address_in, client_ip
from core.metrics_multiprocess import ArchivedMultiProcessCollector

# Counters and histograms kept by this process (summed across processes in multiprocess mode).
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)

_collectors: list[Collector] = []

CSP_VIOLATIONS = Counter(
    "eventpay_csp_violations",
    "Content-Security-Policy violations browsers reported (core/csp.py), by directive: a script, frame or "
    "connection the pages do not declare.",
    ["directive"],
    registry=PROCESS_REGISTRY,
)

SHARED_CACHE_FALLBACKS = Counter(
    "eventpay_shared_cache_fallbacks",
    "Cache operations answered from the process's own memory because the shared cache (Redis) could not answer "
    "(core/cache.py), by operation: throttles and login lockouts counted per process meanwhile.",
    ["operation"],
    registry=PROCESS_REGISTRY,
)


def register_collector(collector: Collector) -> None:
    """Adds a collector read at every scrape (apps register theirs when Django starts)."""
    _collectors.append(collector)


def _multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def scrape_allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    networks = settings.METRICS_ALLOWED_NETWORKS
    if not token and not networks:
        return settings.DEBUG
    if token:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token.encode()):
            return True
    return address_in(client_ip(request), networks)


def metrics_view(request):
    if not scrape_allowed(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
    registry = CollectorRegistry(auto_describe=False)
    for collector in _collectors:
        registry.register(collector)
    if _multiprocess_mode():
        ArchivedMultiProcessCollector(registry)
    else:
        registry.register(PROCESS_REGISTRY)
    # Prometheus text (0.0.4) by default; OpenMetrics when the scraper asks for it.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
