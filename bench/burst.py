"""The burst: thousands of deliveries (duplicates, out of order) sent with the workers stopped, then drained
by 2 worker processes; checked for lost, doubled and misapplied events."""

from __future__ import annotations

import datetime as dt
import json
import random
import time

from bench import batch_sizes
from bench.events import WEBHOOK_SECRET, burst_plans, sign
from bench.stack import (
    WORKER_PROCESSES,
    Config,
    Phase,
    Stack,
    cpu_meter,
    drain,
    log,
    metrics_directory,
    post_all,
    queue_empty,
    seed_payments,
)


def burst(stack: Stack, config: Config) -> dict:
    from django.conf import settings
    from django.db.models import Count

    from payments.models import Notification, Payment, StripeEvent

    rng = random.Random(config.seed)
    payments = seed_payments(config.burst_payments, "burst")
    plans = burst_plans(payments, amount=1500, currency="usd", rng=rng)
    unique = [body for plan in plans for body in plan.bodies]
    deliveries_total = round(len(unique) / (1 - config.burst_duplicate_share))
    bodies = unique + rng.choices(unique, k=deliveries_total - len(unique))
    rng.shuffle(bodies)
    deliveries = [sign(body, WEBHOOK_SECRET) for body in bodies]
    failed_before_succeeded = _failed_before_succeeded(bodies)
    burst_start = dt.datetime.now(dt.UTC)
    log(f"burst: {len(deliveries)} deliveries of {len(unique)} events for {len(plans)} payments")
    meter = cpu_meter(stack)
    web_metrics = metrics_directory(stack.tmp, "web")
    groups_before = batch_sizes.read(web_metrics, batch_sizes.HAND_OVER, rows="stripe_event")
    inserts_before = batch_sizes.read(web_metrics, batch_sizes.WEBHOOK_INSERT, rows="stripe_event")
    cpu_start = meter.snapshot()
    start = time.monotonic()
    statuses = post_all(stack, deliveries)
    ingest_seconds = time.monotonic() - start
    ingest_phase = Phase("burst ingest", len(deliveries), ingest_seconds, meter.since(cpu_start))
    burst_rows = StripeEvent.objects.filter(received_at__gte=burst_start)
    rows = burst_rows.count()
    log(f"burst stored {rows} rows in {ingest_seconds:.1f} s; draining with {WORKER_PROCESSES} worker processes")

    fulfilment_queue, emails_queue = settings.CELERY_TASK_DEFAULT_QUEUE, settings.NOTIFICATIONS_QUEUE

    def fulfilled() -> bool:
        return not burst_rows.filter(status__in=StripeEvent.UNFINISHED_STATUSES).exists() and queue_empty(
            stack, (fulfilment_queue,)
        )

    # Fulfilment first, by workers of its queue (the emails it records wait on theirs), then the emails.
    seconds, drain_phase = drain(stack, fulfilled, "burst drain", len(unique), queues=(fulfilment_queue,))
    worker_metrics = metrics_directory(stack.tmp, "worker-burst drain")
    emails = Notification.objects.filter(created_at__gte=burst_start)
    email_count = emails.count()
    log(
        f"burst fulfilled in {seconds:.1f} s; sending its {email_count} emails with {WORKER_PROCESSES} worker processes"
    )

    def sent() -> bool:
        unsent = (Notification.Status.PENDING, Notification.Status.SENDING)
        return not emails.filter(status__in=unsent).exists() and queue_empty(stack, (emails_queue,))

    email_seconds, email_phase = drain(stack, sent, "burst emails", email_count, queues=(emails_queue,))
    sizes = {
        "rows per webhook insert": batch_sizes.read(web_metrics, batch_sizes.WEBHOOK_INSERT, rows="stripe_event").minus(
            inserts_before
        ),
        "ids per message": batch_sizes.read(web_metrics, batch_sizes.HAND_OVER, rows="stripe_event").minus(
            groups_before
        ),
        "rows per batch transaction": batch_sizes.read(worker_metrics, batch_sizes.PER_TRANSACTION, path="batch"),
        "rows per transaction of their own": batch_sizes.read(
            worker_metrics, batch_sizes.PER_TRANSACTION, path="alone"
        ),
        "email ids per message": batch_sizes.read(worker_metrics, batch_sizes.HAND_OVER, rows="notification"),
    }

    expected = {plan.payment_intent_id: plan.final_status for plan in plans}
    actual = dict(Payment.objects.filter(payment_intent_id__in=expected).values_list("payment_intent_id", "status"))
    wrong_status = sum(1 for pi, status in expected.items() if actual.get(pi) != status)
    activation_mismatch = _activation_mismatches(expected)
    unique_ids = {json.loads(body)["id"] for body in unique}
    stored_ids = list(burst_rows.values_list("stripe_id", flat=True))
    by_status = dict(burst_rows.values_list("status").annotate(n=Count("id")).order_by())
    return {
        "deliveries": len(deliveries),
        "unique_events": len(unique),
        "payments": len(plans),
        "failed_before_succeeded": failed_before_succeeded,
        "non_200": sum(1 for s in statuses if s != 200),
        "ingest_seconds": ingest_seconds,
        "drain_seconds": seconds,
        "drain_rate": len(unique) / seconds,
        "emails": email_count,
        "emails_unsent": emails.exclude(status=Notification.Status.SENT).count(),
        "email_seconds": email_seconds,
        "lost": len(unique_ids - set(stored_ids))
        + sum(n for s, n in by_status.items() if s not in ("processed", "ignored")),
        "doubled": len(stored_ids) - len(set(stored_ids)),
        "wrong_final_status": wrong_status,
        "activation_mismatch": activation_mismatch,
        "rows_by_status": by_status,
        "phases": [ingest_phase, drain_phase, email_phase],
        "sizes": sizes,
    }


def _failed_before_succeeded(bodies: list[str]) -> int:
    """Payments whose first `payment_failed` delivery comes before their first `succeeded` one."""
    first: dict[tuple[str, str], int] = {}
    for i, body in enumerate(bodies):
        event = json.loads(body)
        key = (event["data"]["object"].get("id", ""), event["type"])
        first.setdefault(key, i)
    return sum(
        1
        for (pi, kind), i in first.items()
        if kind == "payment_intent.payment_failed" and i < first.get((pi, "payment_intent.succeeded"), -1)
    )


def _activation_mismatches(expected: dict[str, str]) -> int:
    from payments.models import Payment

    rows = Payment.objects.filter(payment_intent_id__in=expected).values_list("status", "event__is_active",
                                                                                "event__activated_at")  # fmt: skip
    return sum(1 for status, active, activated_at in rows
               if active != (status == "succeeded") or (active and activated_at is None))  # fmt: skip
