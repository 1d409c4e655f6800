"""Per-call costs, in-process: each step of the webhook and of fulfilment, ours next to the textbook's."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

from bench.events import WEBHOOK_SECRET, signed_events, succeeded_body
from bench.stack import Stack, flush_redis, seed_payments


def _timed(n: int, fn, slices: int = 5) -> tuple[float, float]:
    """Microseconds (wall, CPU) per call of fn(0) … fn(n - 1), from the slice of n / slices calls that used the
    least CPU: on a shared machine the others are slowed by whatever else ran meanwhile."""
    size = n // slices
    best = (float("inf"), float("inf"))
    for start in range(0, size * slices, size):
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(start, start + size):
            fn(i)
        sample = ((time.perf_counter() - wall) / size * 1e6, (time.process_time() - cpu) / size * 1e6)
        best = min(best, sample, key=lambda figures: figures[1])
    return best


def per_call_costs(stack: Stack, n: int = 1000, *, sweep_rows: int = 5000) -> list[tuple[str, tuple[float, float]]]:
    """Microseconds per call of each step of the webhook, ours next to the textbook's."""
    import stripe
    from celery import current_app
    from django.db import connection, transaction

    from payments import queue, stripe_gateway
    from payments.models import StripeEvent
    from payments.services import inbox

    signed = signed_events(n, "cost")
    events = [json.loads(s.body) for s in signed]
    task = current_app.tasks[queue.PROCESS_STRIPE_EVENT]
    rows: list[int] = []

    def orm_insert(i: int) -> None:
        event = events[i]
        with transaction.atomic():
            rows.append(StripeEvent.objects.create(stripe_id=event["id"] + "o", type=event["type"],
                                                   payload=signed[i].body).pk)  # fmt: skip

    connection.ensure_connection()
    results = [
        ("verify_webhook (verify_header + json.loads)",
         _timed(n, lambda i: stripe_gateway.verify_webhook(signed[i].body.encode(), signed[i].signature))),
        ("stripe.Webhook.construct_event (textbook)",
         _timed(n, lambda i: stripe.Webhook.construct_event(signed[i].body, signed[i].signature, WEBHOOK_SECRET))),
        ("Django's health check (`SELECT 1` before a request's first query; the webhook's insert skips it)",
         _timed(n, lambda i: connection.is_usable())),
        ("ORM insert in a transaction (backbone, textbook)", _timed(n, orm_insert)),
        ("Celery `delay()`, a producer from the pool per call (textbook)", _timed(n, lambda i: task.delay(rows[i]))),
        ("queue.stripe_event_process: Celery's `apply_async` (now)",
         _timed(n, lambda i: queue.stripe_event_process(stripe_event_id=rows[i]))),
        ("inbox.stripe_event_receive: INSERT … ON CONFLICT (a group of one) + the doorbell (now)",
         _timed(n, lambda i: inbox.stripe_event_receive(event=events[i], payload=signed[i].body.encode()))),
        ("inbox.stripe_event_receive, duplicate (now)",
         _timed(n, lambda i: inbox.stripe_event_receive(event=events[i], payload=signed[i].body.encode()))),
    ]  # fmt: skip
    StripeEvent.objects.all().delete()
    flush_redis(stack)
    return results + request_costs(stack, n) + sweep_costs(stack, sweep_rows)


def sweep_costs(stack: Stack, n: int = 5000) -> list[tuple[str, tuple[float, float]]]:
    """What re-sending costs per row after an outage: `n` stored rows that never reached a worker, handed
    over one at a time (a publish and an UPDATE each, as an operator's retry does) and by the sweeper
    (batches of `queue.SEND_BATCH_SIZE`: one pipeline to Redis and one UPDATE per batch)."""
    from django.utils import timezone

    from payments.models import StripeEvent
    from payments.services import inbox

    long_ago = timezone.now() - dt.timedelta(hours=1)
    StripeEvent.objects.bulk_create(
        [StripeEvent(stripe_id=f"evt_sweep_{i}", type="payment_intent.succeeded", payload=succeeded_body(
            payment_intent_id=f"pi_sweep_{i}", payment_id=i, event_id=i)) for i in range(n)],
        batch_size=1000,
    )  # fmt: skip
    ids = list(StripeEvent.objects.values_list("pk", flat=True))
    results = []
    for name, resend in [
        ("inbox.stripe_event_enqueue, one row at a time (per row)",
         lambda: [inbox.stripe_event_enqueue(stripe_event_id=pk) for pk in ids]),
        (f"inbox.stripe_events_requeue_stale, the sweeper, {n:,} rows (per row)",
         lambda: inbox.stripe_events_requeue_stale(older_than=dt.timedelta(minutes=1))),
    ]:  # fmt: skip
        StripeEvent.objects.update(status=StripeEvent.Status.RECEIVED, received_at=long_ago, enqueued_at=None)
        flush_redis(stack)
        wall, cpu = time.perf_counter(), time.process_time()
        resend()
        elapsed = ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)
        if StripeEvent.objects.filter(status=StripeEvent.Status.ENQUEUED).count() != n:
            raise RuntimeError(f"{name}: not every row was handed over")
        results.append((name, elapsed))
    StripeEvent.objects.all().delete()
    flush_redis(stack)
    return results


def request_costs(stack: Stack, n: int) -> list[tuple[str, tuple[float, float]]]:
    """Whole requests through Django's WSGI handler, in this process, one at a time: the bare view with the
    product's middleware and with only the two the webhook needs (HTTPS redirect and headers, body limit),
    and the webhook. Set against gunicorn's CPU per request under load, the difference is what serving
    them concurrently costs (threads taking turns at the GIL, gunicorn's own work)."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory, override_settings

    from payments.models import StripeEvent

    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    needed = ["django.middleware.security.SecurityMiddleware", "core.middleware.RequestBodyLimitMiddleware"]
    full = WSGIHandler()
    with override_settings(MIDDLEWARE=needed):
        own = WSGIHandler()
    cases = [
        (f"bare view, all {len(settings.MIDDLEWARE)} middleware (Django's WSGI handler)", full, "/bench/bare/"),
        (f"bare view, only the {len(needed)} middleware the webhook needs", own, "/bench/bare/"),
        ("webhook, all middleware (Django's WSGI handler)", full, "/api/payments/webhook/"),
    ]
    results = []
    for name, handler, path in cases:
        environs = [
            factory.post(path, s.body, content_type="application/json", HTTP_STRIPE_SIGNATURE=s.signature).environ
            for s in signed_events(n + 100, "request")
        ]
        for environ in environs[:100]:
            handler(environ, _start_response).close()
        results.append((name, _timed(n, lambda i, h=handler, e=environs: h(e[100 + i], _start_response).close())))
    StripeEvent.objects.all().delete()
    flush_redis(stack)
    return results


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: object = None, /
) -> Callable[[bytes], object]:
    """A WSGI server's part, which the costs leave out: the status and headers go nowhere."""
    return lambda data: None


def fulfilment_cost(n: int = 300) -> tuple[list[tuple[str, tuple[float, float]]], list[str]]:
    """The worker's side, in-process: what one `payment_intent.succeeded` costs fulfilment, and its statements."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments.models import StripeEvent
    from payments.services import fulfilment, inbox

    rows = []
    for payment_id, event_id, payment_intent_id in seed_payments(n + 1, "cost"):
        body = succeeded_body(payment_intent_id=payment_intent_id, payment_id=payment_id, event_id=event_id)
        row = inbox.stripe_event_store(event=json.loads(body), payload=body.encode())
        if row is None:
            raise RuntimeError(f"{payment_intent_id}: its event was stored before")
        rows.append(row.pk)
    with CaptureQueriesContext(connection) as queries:
        fulfilment.process_stripe_event(stripe_event_id=rows.pop())
    statements = [q["sql"] for q in queries.captured_queries]
    kinds = [sql.split()[0].upper() for sql in statements]
    costs = _timed(len(rows), lambda i: fulfilment.process_stripe_event(stripe_event_id=rows[i]))
    StripeEvent.objects.all().delete()
    summary = ", ".join(f"{kinds.count(k)} {k}" for k in sorted(set(kinds)))
    return [
        (f"fulfilment.process_stripe_event, one `succeeded` ({len(kinds)} statements: {summary})", costs)
    ], statements
