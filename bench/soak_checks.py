"""The soak's end state, counted: every paid event live, every fact one email, nothing lost or doubled."""

from __future__ import annotations

import time
from collections import Counter

from bench.harness import tasks_queued
from bench.soak_stack import SoakStack
from bench.soak_traffic import Ledger
from offline import smtp

# The email each payment state must have led to (a payment's facts, payments/models/notification.py).
FACT_OF_STATUS = {"succeeded": "live", "refunded": "refunded", "failed": "payment_failed"}


def settled(stack: SoakStack) -> bool:
    """Nothing left to do: no task queued, no inbox row or email unfinished. Tasks a SIGKILLed worker held
    stay in Redis's `unacked` until the visibility timeout restores them: their rows are swept again
    meanwhile, so they are counted at the end, not waited for."""
    import redis

    from payments.models import Notification, StripeEvent

    client = redis.Redis.from_url(stack.redis_url)
    return (
        tasks_queued(client) == 0
        and not StripeEvent.objects.filter(status__in=StripeEvent.UNFINISHED_STATUSES).exists()
        and not Notification.objects.filter(
            status__in=(Notification.Status.PENDING, Notification.Status.SENDING)
        ).exists()
    )


def wait_settled(stack: SoakStack, timeout: float) -> float | None:
    """Seconds until settled() holds after the last delivery, or None if it did not within `timeout`."""
    from django.db import connection

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        connection.close()  # a fault may have cut this process's connection too
        if settled(stack):
            return time.monotonic() - start
        time.sleep(2)
    return None


def end_state(stack: SoakStack, ledger: Ledger) -> dict[str, int]:
    import redis
    from django.db import connection
    from django.db.models import Count

    from events.models import Event
    from payments.models import Notification, Payment, StripeEvent

    connection.close()
    with ledger.lock:
        plans = dict(ledger.plans)
        event_ids = set(ledger.event_ids)
        paid_events = dict(ledger.paid_events)
    # The stream: each payment in the state its events lead to, its event live exactly then.
    payments = {p.payment_intent_id: p for p in Payment.objects.filter(payment_intent_id__in=plans)}
    live = set(Event.objects.filter(is_active=True, payments__payment_intent_id__in=plans)
               .values_list("payments__payment_intent_id", flat=True))  # fmt: skip
    wrong_status = sum(
        1 for pi, plan in plans.items() if pi not in payments or payments[pi].status != plan.final_status
    )
    wrong_activation = sum(1 for pi, plan in plans.items() if (pi in live) != (plan.final_status == "succeeded"))
    # The organisers: live exactly when they paid at localstripe.
    active = dict(Event.objects.filter(pk__in=paid_events).values_list("pk", "is_active"))
    paid_not_live = sum(1 for pk, paid in paid_events.items() if paid and not active.get(pk))
    unpaid_live = sum(1 for pk, paid in paid_events.items() if not paid and active.get(pk))
    # The inbox: each unique event sent stored once and finished.
    stored = Counter(StripeEvent.objects.filter(stripe_id__in=event_ids).values_list("stripe_id", flat=True))
    unfinished = StripeEvent.objects.filter(stripe_id__in=event_ids).exclude(status__in=("processed", "ignored"))
    # The emails: every payment's fact recorded once and received once by the SMTP server.
    notifications = Notification.objects.exclude(kind__in=Notification.ACCOUNT_KINDS)
    received = Counter(message["Message-ID"] for message in smtp.messages(stack.maildir))
    sent_ids = {n.message_id for n in notifications.only("id")}
    facts = set(notifications.values_list("payment_id", "kind"))
    missing_facts = sum(
        1 for pk, status in Payment.objects.filter(status__in=FACT_OF_STATUS).values_list("pk", "status")
        if (pk, FACT_OF_STATUS[status]) not in facts
    )  # fmt: skip
    return {
        "stream payments": len(plans),
        "stream unique events": len(event_ids),
        "stream deliveries": ledger.deliveries,
        "organisers' events": len(paid_events),
        "organisers' events paid": sum(paid_events.values()),
        "payments in the wrong state": wrong_status,
        "events live when they should not be, or not live when they should": wrong_activation,
        "paid organisers' events not live": paid_not_live,
        "unpaid organisers' events live": unpaid_live,
        "events lost (never stored)": len(event_ids - set(stored)),
        "events doubled (stored twice)": sum(1 for n in stored.values() if n > 1),
        "events stored but not finished": unfinished.count(),
        "facts without their email": missing_facts,
        "emails not sent": notifications.exclude(status=Notification.Status.SENT).count(),
        "emails never received": len(sent_ids - set(received)),
        "emails received twice or more": sum(1 for mid in sent_ids if received[mid] > 1),
        "emails received": sum(received[mid] for mid in sent_ids),
        "tasks still unacknowledged in Redis": redis.Redis.from_url(stack.redis_url).hlen("unacked"),
        **{
            f"inbox rows {s}": n
            for s, n in StripeEvent.objects.values_list("status").annotate(n=Count("id")).order_by()
        },
    }


# What must be zero for the end-state verdict.
MUST_BE_ZERO = (
    "payments in the wrong state",
    "events live when they should not be, or not live when they should",
    "paid organisers' events not live",
    "unpaid organisers' events live",
    "events lost (never stored)",
    "events doubled (stored twice)",
    "events stored but not finished",
    "facts without their email",
    "emails not sent",
    "emails never received",
    "emails received twice or more",
)
