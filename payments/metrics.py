"""The payments app's metrics: webhook deliveries counted by the web process that answered them, and
the inbox, the payments and the audit trail read from the database at scrape time.
Registered with core/metrics.py when Django starts (payments/apps.py)."""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from core.metrics import PROCESS_REGISTRY
from payments import selectors
from payments.consts import StripeEventType
from payments.models import OperatorAction, Payment, StripeEvent

logger = logging.getLogger(__name__)

FULFILMENT_LATENCY_BUCKETS = (0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)

WEBHOOK_DELIVERIES = Counter(
    "eventpay_webhook_deliveries",
    "Webhook deliveries received, by Stripe event type (`unverified` before the signature is checked) and result.",
    ["type", "result"],
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
        else:
            result = _RESULT_BY_STATUS.get(response.status_code, str(response.status_code))
        _count_delivery(request, result)
        return response

    return wrapper


def _count_delivery(request, result: str) -> None:
    event_type = str(getattr(request, "stripe_event_type", "") or "unverified")[:100]
    WEBHOOK_DELIVERIES.labels(type=event_type, result=result).inc()


class DatabaseCollector:
    """Reads the inbox, the payments and the audit trail at scrape time (a handful of aggregate queries)."""

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

        by_status = dict(StripeEvent.objects.order_by().values_list("status").annotate(n=Count("id")))
        rows = GaugeMetricFamily("eventpay_stripe_events", "Webhook inbox rows by status.", labels=["status"])
        for status in StripeEvent.Status.values:
            rows.add_metric([status], by_status.get(status, 0))
        yield rows

        oldest = selectors.stripe_event_oldest_unprocessed()
        oldest_age = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        age = GaugeMetricFamily(
            "eventpay_stripe_event_oldest_unprocessed_age_seconds",
            "Age of the oldest inbox row not yet processed (received or enqueued); 0 when there is none.",
        )
        age.add_metric([], oldest_age)
        yield age

        latency = ExpressionWrapper(F("processed_at") - F("received_at"), output_field=DurationField())
        bucket_counts = {
            f"le_{index}": Count("id", filter=Q(latency__lte=timedelta(seconds=bound)))
            for index, bound in enumerate(FULFILMENT_LATENCY_BUCKETS)
        }
        processed = (
            StripeEvent.objects.filter(status=StripeEvent.Status.PROCESSED, processed_at__isnull=False)
            .annotate(latency=latency)
            .aggregate(count=Count("id"), total=Sum("latency"), **bucket_counts)
        )
        histogram = HistogramMetricFamily(
            "eventpay_stripe_event_fulfilment_latency_seconds",
            "Time from an event's arrival in the inbox to its processing, over all processed rows.",
            buckets=[
                *(
                    (str(float(bound)), processed[f"le_{index}"])
                    for index, bound in enumerate(FULFILMENT_LATENCY_BUCKETS)
                ),
                ("+Inf", processed["count"]),
            ],
            sum_value=processed["total"].total_seconds() if processed["total"] else 0.0,
        )
        yield histogram

        attempts = StripeEvent.objects.filter(attempts__gt=1).aggregate(retries=Sum(F("attempts") - 1))["retries"] or 0
        retries = CounterMetricFamily(
            "eventpay_stripe_event_task_retries",
            "Processing attempts of inbox rows beyond the first (task retries and operator retries).",
        )
        retries.add_metric([], attempts)
        yield retries

        payments_by_status = dict(Payment.objects.order_by().values_list("status").annotate(n=Count("id")))
        payments = GaugeMetricFamily("eventpay_payments", "Payments by status.", labels=["status"])
        for status in Payment.Status.values:
            payments.add_metric([status], payments_by_status.get(status, 0))
        yield payments

        # Fulfilment refuses a succeeded intent that does not match our payment (amount, currency,
        # metadata): it fails the inbox row and puts the same reason on the payment.
        mismatched = (
            StripeEvent.objects.filter(status=StripeEvent.Status.FAILED, type=StripeEventType.PAYMENT_INTENT_SUCCEEDED)
            .filter(
                Exists(
                    Payment.objects.filter(
                        payment_intent_id=OuterRef("payment_intent_id"), last_error=OuterRef("last_error")
                    ).exclude(status=Payment.Status.SUCCEEDED)
                )
            )
            .count()
        )
        mismatches = GaugeMetricFamily(
            "eventpay_payment_mismatches",
            "Succeeded PaymentIntents not applied because their amount, currency or metadata did not match the payment.",
        )
        mismatches.add_metric([], mismatched)
        yield mismatches

        actions = CounterMetricFamily(
            "eventpay_operator_actions", "Operator actions recorded in the audit trail.", labels=["action", "outcome"]
        )
        for action, outcome, n in (
            OperatorAction.objects.order_by().values_list("action", "outcome").annotate(n=Count("id"))
        ):
            actions.add_metric([action, outcome], n)
        yield actions

        alerts = GaugeMetricFamily(
            "eventpay_alert",
            "1 while the condition needs an operator: failed inbox rows, a backlog older than "
            f"{settings.STRIPE_EVENT_BACKLOG_ALERT_SECONDS} s, a payment mismatch.",
            labels=["alert"],
        )
        alerts.add_metric(["stripe_event_failed"], int(by_status.get(StripeEvent.Status.FAILED, 0) > 0))
        alerts.add_metric(["stripe_event_backlog"], int(oldest_age > settings.STRIPE_EVENT_BACKLOG_ALERT_SECONDS))
        alerts.add_metric(["payment_mismatch"], int(mismatched > 0))
        yield alerts
