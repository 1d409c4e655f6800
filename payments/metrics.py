"""The payments app's metrics, each of which costs the same whatever the size of the inbox.

- Counters and histograms kept where things happen, by the process they happen in (prometheus_client,
  multiprocess mode with several processes): webhook deliveries in the web processes; inbox rows closed,
  fulfilment latency, task retries and operator actions wherever they run, mostly Celery workers, which
  serve theirs on an exporter of their own (worker/metrics.py): workers run on other hosts, whose files
  no web process can read. Prometheus adds the two up (`sum without (instance, job)`).
- `DatabaseCollector`: what only the database knows, read at scrape time through partial indexes as
  small as the backlog and the failures (open inbox rows, the oldest unprocessed one, open payments,
  mismatches): no query reads the whole inbox or the whole ledger.

Registered with core/metrics.py when Django starts (payments/apps.py).
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from core.db import counts_or_estimates
from core.metrics import PROCESS_REGISTRY
from payments import selectors
from payments.consts import StripeEventType
from payments.models import Notification, Payment, StripeEvent

logger = logging.getLogger(__name__)

FULFILMENT_LATENCY_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
# Counts read at scrape time are exact up to this many rows, PostgreSQL's estimate beyond (a bounded read).
EXACT_COUNT_UP_TO = 10_000

WEBHOOK_DELIVERIES = Counter(
    "eventpay_webhook_deliveries",
    "Webhook deliveries received, by Stripe event type (`unverified` before the signature is checked) and result.",
    ["type", "result"],
    registry=PROCESS_REGISTRY,
)

STRIPE_EVENT_API_VERSION_DRIFT = Counter(
    "eventpay_stripe_event_api_version_drift",
    "Snapshot events stored whose api_version differs from the pinned one, by their version: payloads "
    "the code was not written for (a Dashboard upgrade; localstripe's old version offline).",
    ["api_version"],
    registry=PROCESS_REGISTRY,
)

_RESULT_BY_STATUS = {400: "invalid", 405: "method_not_allowed", 413: "too_large", 503: "unavailable"}


def count_webhook_deliveries(view):
    """Counts each delivery's result from the view's answer; the view names the verified type on the request,
    and whether a delivery answered 200 was a duplicate (`request.stripe_event_duplicate`)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Exception:
            _count_delivery(request, "error")
            raise
        if response.status_code == 200:
            result = "duplicate" if getattr(request, "stripe_event_duplicate", False) else "stored"
        elif getattr(request, "stripe_signature_mismatch", False):
            result = "signature_mismatch"  # apart from `invalid`: a wrong or rotated secret rejects every delivery
        else:
            result = _RESULT_BY_STATUS.get(response.status_code, str(response.status_code))
        _count_delivery(request, result)
        return response

    return wrapper


def _count_delivery(request, result: str) -> None:
    event_type = str(getattr(request, "stripe_event_type", "") or "unverified")[:100]
    WEBHOOK_DELIVERIES.labels(type=event_type, result=result).inc()


STRIPE_RATE_LIMITED = Counter(
    "eventpay_stripe_rate_limited",
    "Stripe API calls answered 429, by the call (checkout's and background jobs' alike).",
    ["call"],
    registry=PROCESS_REGISTRY,
)


def count_stripe_rate_limited(*, call: str) -> None:
    STRIPE_RATE_LIMITED.labels(call=call[:100]).inc()


STRIPE_EVENTS_CLOSED = Counter(
    "eventpay_stripe_events_closed",
    "Inbox rows closed, by Stripe event type and the status they closed with (processed, ignored, failed).",
    ["type", "status"],
    registry=PROCESS_REGISTRY,
)

# Every metric here has labels: its values (files, in multiprocess mode) are created when first counted,
# never at import, which lets a worker empty its multiprocess directory as it starts (worker/metrics.py).
FULFILMENT_LATENCY = Histogram(
    "eventpay_stripe_event_fulfilment_latency_seconds",
    "Time from an event's arrival in the inbox to its processing, by Stripe event type, observed as each row "
    "is processed.",
    ["type"],
    buckets=FULFILMENT_LATENCY_BUCKETS,
    registry=PROCESS_REGISTRY,
)

# Powers of two up to the largest group: an insert or a batch (WEBHOOK_INSERT_MAX_ROWS, FULFILMENT_BATCH_MAX_ROWS: 100).
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 100, 250)

HAND_OVER_GROUP_SIZE = Histogram(
    "eventpay_hand_over_group_size",
    "Row ids per message handed to the workers, by the kind of row: the webhook's inbox rows (the web's grouped "
    "hand-over) and the emails one transaction recorded: how much grouping the traffic allows.",
    ["rows"],
    buckets=BATCH_SIZE_BUCKETS,
    registry=PROCESS_REGISTRY,
)

WAKE_UPS = Counter(
    "eventpay_stripe_event_wake_ups_total",
    "What the web did to wake a worker for the rows it stored: a message sent, none because a wake-up was "
    "already waiting (its worker claims these rows too), or refused by the broker (the sweeper re-sends).",
    ["result"],
    registry=PROCESS_REGISTRY,
)

WEBHOOK_INSERT_SIZE = Histogram(
    "eventpay_webhook_rows_per_insert",
    "Inbox rows one statement of a web process stored (its concurrent requests' rows, a group commit): how much "
    "grouping the traffic allows before the hand-over.",
    ["rows"],
    buckets=BATCH_SIZE_BUCKETS,
    registry=PROCESS_REGISTRY,
)

FULFILMENT_TRANSACTION_SIZE = Histogram(
    "eventpay_stripe_events_per_transaction",
    "Inbox rows closed by one transaction: `batch` by the set-based path, `alone` by a row's own transaction "
    "(thin events, refunds, disputes, retries, operators' actions).",
    ["path"],
    buckets=BATCH_SIZE_BUCKETS,
    registry=PROCESS_REGISTRY,
)


def count_hand_over_group(*, rows: str, size: int) -> None:
    HAND_OVER_GROUP_SIZE.labels(rows=rows).observe(size)


def count_wake_up(*, result: str) -> None:
    WAKE_UPS.labels(result=result).inc()


def count_webhook_insert(*, size: int) -> None:
    WEBHOOK_INSERT_SIZE.labels(rows="stripe_event").observe(size)


def count_fulfilment_transaction(*, path: str, size: int) -> None:
    _on_commit(lambda: FULFILMENT_TRANSACTION_SIZE.labels(path=path).observe(size))


TASK_RETRIES = Counter(
    "eventpay_stripe_event_task_retries",
    "Processing attempts that raised a transient error and are retried by the task, by the error's class.",
    ["error"],
    registry=PROCESS_REGISTRY,
)

OPERATOR_ACTIONS = Counter(
    "eventpay_operator_actions",
    "Operator actions recorded in the audit trail, by action and outcome.",
    ["action", "outcome"],
    registry=PROCESS_REGISTRY,
)


def _on_commit(count) -> None:
    # Only what the database kept: a rolled-back change is not counted.
    transaction.on_commit(count)


def count_stripe_event_closed(*, event_type: str, status: str, received_at: datetime, processed_at: datetime) -> None:
    def count():
        STRIPE_EVENTS_CLOSED.labels(type=event_type[:100], status=status).inc()
        if status == StripeEvent.Status.PROCESSED:
            FULFILMENT_LATENCY.labels(type=event_type[:100]).observe(
                max(0.0, (processed_at - received_at).total_seconds())
            )

    _on_commit(count)


def count_task_retry(*, error: str) -> None:
    """`error` as the task records it: `ExceptionClass: message`."""
    _on_commit(TASK_RETRIES.labels(error=error.partition(":")[0][:100]).inc)


def count_operator_action(*, action: str, outcome: str) -> None:
    _on_commit(OPERATOR_ACTIONS.labels(action=action, outcome=outcome).inc)


_UNSENT_NOTIFICATIONS = (Notification.Status.PENDING, Notification.Status.SENDING, Notification.Status.FAILED)


class DatabaseCollector:
    """What only the database knows, read at scrape time; every query is answered by a partial index
    (stripe_event_unfinished, stripe_event_failed, payment_one_open_per_event) or the notifications' status
    index, and reads at most EXACT_COUNT_UP_TO rows of it."""

    def collect(self):
        try:
            families = list(self._families())
        except DatabaseError:
            logger.exception("metrics: the database could not be read")
            families = []
        up = GaugeMetricFamily("eventpay_metrics_database_up", "1 if this scrape could read the database.")
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families

    def _families(self):
        now = timezone.now()

        # Every count in one statement: a scrape's cost is its round trips more than its reads.
        counts = counts_or_estimates(
            {
                **{f"inbox {s}": StripeEvent.objects.filter(status=s) for s in StripeEvent.OPEN_STATUSES},
                **{f"payments {s}": Payment.objects.filter(status=s) for s in Payment.OPEN_STATUSES},
                **{f"notifications {s}": Notification.objects.filter(status=s) for s in _UNSENT_NOTIFICATIONS},
                # Fulfilment refuses a succeeded intent that does not match our payment (amount, currency,
                # metadata): it fails the inbox row and puts the same reason on the payment, which stays open.
                "mismatched": Payment.objects.filter(status__in=Payment.OPEN_STATUSES)
                .exclude(last_error="")
                .filter(
                    Exists(
                        StripeEvent.objects.filter(
                            payment_intent_id=OuterRef("payment_intent_id"),
                            last_error=OuterRef("last_error"),
                            status=StripeEvent.Status.FAILED,
                            type=StripeEventType.PAYMENT_INTENT_SUCCEEDED,
                        )
                    )
                ),
            },
            exact_up_to=EXACT_COUNT_UP_TO,
        )

        rows = GaugeMetricFamily(
            "eventpay_stripe_events",
            "Open webhook inbox rows by status (received, enqueued, failed); exact up to "
            f"{EXACT_COUNT_UP_TO}, PostgreSQL's estimate beyond. Closed rows: eventpay_stripe_events_closed_total.",
            labels=["status"],
        )
        for status in StripeEvent.OPEN_STATUSES:
            rows.add_metric([status], counts[f"inbox {status}"][0])
        yield rows

        oldest = selectors.stripe_event_oldest_unprocessed()
        oldest_age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        age = GaugeMetricFamily(
            "eventpay_stripe_event_oldest_unprocessed_age_seconds",
            "Age of the oldest inbox row not yet processed (received or enqueued); 0 when there is none.",
        )
        age.add_metric([], oldest_age)
        yield age

        payments = GaugeMetricFamily(
            "eventpay_payments",
            "Open payments (pending, failed: checkout may still complete them) by status; exact up to "
            f"{EXACT_COUNT_UP_TO}, PostgreSQL's estimate beyond.",
            labels=["status"],
        )
        for status in Payment.OPEN_STATUSES:
            payments.add_metric([status], counts[f"payments {status}"][0])
        yield payments

        notifications = GaugeMetricFamily(
            "eventpay_notifications",
            "Emails not sent yet (pending), claimed by a worker sending them (sending) or given up on after "
            f"their retries (failed), by status; exact up to {EXACT_COUNT_UP_TO}, PostgreSQL's estimate beyond.",
            labels=["status"],
        )
        for status in _UNSENT_NOTIFICATIONS:
            notifications.add_metric([status], counts[f"notifications {status}"][0])
        yield notifications

        mismatched = counts["mismatched"][0]
        mismatches = GaugeMetricFamily(
            "eventpay_payment_mismatches",
            "Succeeded PaymentIntents not applied because their amount, currency or metadata did not match the payment.",
        )
        mismatches.add_metric([], mismatched)
        yield mismatches

        alerts = GaugeMetricFamily(
            "eventpay_alert",
            "1 while the condition needs an operator: failed inbox rows, a backlog older than "
            f"{settings.STRIPE_EVENT_BACKLOG_ALERT_SECONDS} s, a payment mismatch.",
            labels=["alert"],
        )
        alerts.add_metric(["stripe_event_failed"], int(counts[f"inbox {StripeEvent.Status.FAILED}"][0] > 0))
        alerts.add_metric(["stripe_event_backlog"], int(oldest_age > settings.STRIPE_EVENT_BACKLOG_ALERT_SECONDS))
        alerts.add_metric(["payment_mismatch"], int(mismatched > 0))
        yield alerts
