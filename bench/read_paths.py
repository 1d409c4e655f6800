"""Every read path of `make bench-scale`, timed against its target: the API lists, the metrics scrape and
the admin's lists through gunicorn; beat's selectors (sweeper, backlog check, catch-up, retention) in-process.
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta

from bench.dataset import Config, log

READ_TARGET_MS = 300
METRICS_TARGET_MS = 50


@dataclass
class Timing:
    name: str
    target_ms: float
    samples_ms: list[float]
    detail: str = ""

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def max_ms(self) -> float:
        return max(self.samples_ms)

    @property
    def met(self) -> bool:
        return self.median_ms <= self.target_ms


def time_http(port: int, path: str, headers: dict[str, str], samples: int) -> tuple[list[float], int, bytes]:
    """Sequential GETs on one keep-alive connection, after two to warm up; each must answer 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, size, body = [], 0, b""
    for i in range(samples + 2):
        started = time.perf_counter()
        conn.request("GET", path, headers={"Host": "127.0.0.1", **headers})
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
        if i >= 2:
            times.append(elapsed)
        size = len(body)
    conn.close()
    return times, size, body


def time_call(fn, samples: int) -> list[float]:
    fn()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def read_paths(port: int, config: Config, facts: dict, who: dict[str, dict[str, str]]) -> list[Timing]:
    """Every read path of the API, the metrics scrape and the admin, through gunicorn, each with the headers of
    its kind of caller (`who`)."""
    from core.pagination import MAX_PAGE_SIZE, PAGE_SIZE, BoundedPaginator
    from events.selectors import event_list_public
    from payments.models import Payment, StripeEvent

    some_row = StripeEvent.objects.filter(pk__gte=StripeEvent.objects.order_by("pk").values("pk")[:1]).order_by("pk")
    middle = some_row.filter(pk__gte=config.rows // 2).values_list("stripe_id", flat=True).first()
    payment = Payment.objects.order_by("pk").filter(pk__gte=config.events // 3).first()
    if payment is None:
        raise RuntimeError("the database holds no payment to search for")
    public_event = event_list_public().order_by("starts_at", "id").values_list("pk", flat=True).first()
    # The deepest page the paginators offer, or the last page of a database too small to reach it (a quick run).
    rows = sum(facts["inbox"].values())
    deepest = min(BoundedPaginator.MAX_OFFSET // PAGE_SIZE + 1, -(-facts["events"] // PAGE_SIZE))
    deepest_inbox = min(BoundedPaginator.MAX_OFFSET // 50 + 1, -(-rows // 50))
    inbox, payments_admin = "/admin/payments/stripeevent/", "/admin/payments/payment/"

    first_public = time_http(port, "/api/public/events/", {}, 1)[2]
    # A small database (a quick run) may hold a single public page: then there is no second page to time.
    next_public = json.loads(first_public)["next"]
    second_page = []
    if next_public:
        second_public = urllib.parse.urlsplit(next_public)
        second_page.append(("`GET /api/public/events/?cursor=…` (second page)",
                            f"{second_public.path}?{second_public.query}", "anonymous", READ_TARGET_MS))  # fmt: skip
    paths = [
        ("`GET /api/metrics`", "/api/metrics", "prometheus", METRICS_TARGET_MS),
        ("`GET /api/public/events/` (anonymous, first page)", "/api/public/events/", "anonymous", READ_TARGET_MS),
        *second_page,
        ("`GET /api/public/events/{id}/`", f"/api/public/events/{public_event}/", "anonymous", READ_TARGET_MS),
        (f"`GET /api/events/` (the organiser's own {facts['events']:,})", "/api/events/", "organiser", READ_TARGET_MS),
        (f"`GET /api/events/?page={deepest}` (the deepest page offered)", f"/api/events/?page={deepest}",
         "organiser", READ_TARGET_MS),
        (f"`GET /api/events/?page_size={MAX_PAGE_SIZE}`", f"/api/events/?page_size={MAX_PAGE_SIZE}",
         "organiser", READ_TARGET_MS),
        ("`GET /api/payments/` (the organiser's own)", "/api/payments/", "organiser", READ_TARGET_MS),
        ("admin inbox list", inbox, "operator", READ_TARGET_MS),
        ("admin inbox, `status=failed`", f"{inbox}?status__exact=failed", "operator", READ_TARGET_MS),
        ("admin inbox, search for one `evt_` id", f"{inbox}?q={middle}", "operator", READ_TARGET_MS),
        ("admin inbox, search for one `pi_` id", f"{inbox}?q={payment.payment_intent_id}", "operator", READ_TARGET_MS),
        ("admin inbox, `type=charge.refunded`", f"{inbox}?type=charge.refunded", "operator", READ_TARGET_MS),
        ("admin inbox, the deepest page offered", f"{inbox}?p={deepest_inbox}",
         "operator", READ_TARGET_MS),
        ("admin payments list", payments_admin, "operator", READ_TARGET_MS),
        ("admin payments, search for one `pi_` id", f"{payments_admin}?q={payment.payment_intent_id}",
         "operator", READ_TARGET_MS),
        ("admin events list", "/admin/events/event/", "operator", READ_TARGET_MS),
    ]  # fmt: skip
    timings = []
    for name, path, caller, target in paths:
        samples, size, _ = time_http(port, path, who[caller], config.samples)
        timings.append(Timing(name, target, samples, f"{size / 1024:.1f} KB"))
        log(f"{name}: median {timings[-1].median_ms:.1f} ms")
    return timings


def selector_paths(config: Config) -> list[Timing]:
    """The sweeper's, catch-up's and retention's reads, in-process (as beat's tasks run them)."""
    from django.db import transaction
    from django.utils import timezone

    from payments import selectors, stripe_gateway
    from payments.models import StripeEvent
    from payments.services import catch_up, inbox, retention

    known = list(StripeEvent.objects.order_by("pk").values_list("stripe_id", flat=True)[10_000:10_250])
    listed = [
        {"id": event_id, "type": "payment_intent.succeeded", "created": 0}
        for event_id in [*known, *(f"evt_missed{i:020d}" for i in range(250))]
    ]
    stripe_gateway.list_events = lambda **kwargs: iter(listed)

    def missing():
        found = list(catch_up.stripe_events_missing(since=timezone.now() - catch_up.CATCH_UP_WINDOW))
        assert len(found) == 250, len(found)

    def one_retention_batch():
        with transaction.atomic():
            batch = retention.stripe_events_prune_batches(cutoff=timezone.now() - timedelta(days=90))
            assert next(batch) == retention.BATCH_SIZE
            transaction.set_rollback(True)

    calls = [
        ("sweeper: `stripe_events_stale` (unfinished rows older than 120 s, up to 5,000)",
         lambda: list(selectors.stripe_events_stale(older_than=timedelta(seconds=120))[:5000])),
        ("backlog check: the oldest unprocessed row", inbox.stripe_event_backlog_check),
        ("catch-up: which of 500 listed events the inbox lacks", missing),
        ("retention: one batch of 1,000 rows (deleted, rolled back)", one_retention_batch),
    ]  # fmt: skip
    timings = []
    for name, fn in calls:
        timings.append(Timing(name, READ_TARGET_MS, time_call(fn, config.samples)))
        log(f"{name}: median {timings[-1].median_ms:.1f} ms")
    return timings
