"""Reads of the ledger, the webhook inbox and the notifications outbox that services, commands, beat and
the admin share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from payments.models import Notification, OperatorAction, Payment, StripeEvent


def stripe_events_stale(*, older_than: timedelta) -> QuerySet:
    """Ids of unprocessed rows stored or last handed to the broker more than `older_than` ago, oldest first."""
    cutoff = timezone.now() - older_than
    return (
        StripeEvent.objects.filter(status__in=StripeEvent.UNFINISHED_STATUSES, received_at__lt=cutoff)
        .exclude(enqueued_at__gte=cutoff)
        .order_by("received_at", "id")
        .values_list("pk", flat=True)
    )


def notifications_stale(*, older_than: timedelta, claim_timeout: timedelta) -> QuerySet:
    """Ids of the notifications to hand to the workers again, oldest first: pending ones created, and last
    handed to the broker, more than `older_than` ago; and `sending` ones claimed more than `claim_timeout`
    ago (their sender died), not handed over since."""
    now = timezone.now()
    cutoff, claim_cutoff = now - older_than, now - claim_timeout
    pending = Q(status=Notification.Status.PENDING, created_at__lt=cutoff) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=cutoff)
    )
    abandoned = Q(status=Notification.Status.SENDING, claimed_at__lt=claim_cutoff) & (
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=claim_cutoff)
    )
    return Notification.objects.filter(pending | abandoned).order_by("created_at", "id").values_list("pk", flat=True)


def stripe_event_oldest_unprocessed() -> datetime | None:
    return StripeEvent.objects.filter(status__in=StripeEvent.UNFINISHED_STATUSES).aggregate(t=Min("received_at"))["t"]


def stripe_events_for_payment_intent(payment_intent_id: str) -> QuerySet[StripeEvent]:
    """Every inbox row about a PaymentIntent, each branch on its index: the rows handed to a worker on the
    PaymentIntent index (which leaves out `enqueued` rows, see StripeEvent.Meta), the enqueued ones on
    the unfinished rows' index. Filtering on `payment_intent_id` alone would read the whole inbox."""
    rows = StripeEvent.objects.filter(payment_intent_id=payment_intent_id)
    return rows.exclude(status=StripeEvent.Status.ENQUEUED) | rows.filter(status=StripeEvent.Status.ENQUEUED)


def stripe_events_prunable(*, cutoff: datetime, after: tuple[datetime, int] | None = None) -> QuerySet:
    """`(received_at, pk)` of the rows retention deletes, oldest first (after `after`, a key from an earlier
    batch): processed or ignored, received before `cutoff`, and no operator action points to them.
    Read in the order of the (received_at, id) index, so each batch starts where the last one ended."""
    rows = StripeEvent.objects.filter(status__in=StripeEvent.FINISHED_STATUSES, received_at__lt=cutoff)
    if after is not None:
        received_at, pk = after
        rows = rows.filter(received_at__gte=received_at).exclude(Q(received_at=received_at, pk__lte=pk))
    return (
        rows.filter(~Exists(OperatorAction.objects.filter(stripe_event=OuterRef("pk"))))
        .order_by("received_at", "id")
        .values_list("received_at", "pk")
    )


def stripe_events_kept_for_audit(*, cutoff: datetime) -> int:
    """Processed or ignored rows received before `cutoff` that retention keeps because an operator acted on them."""
    return (
        OperatorAction.objects.filter(
            stripe_event__status__in=StripeEvent.FINISHED_STATUSES, stripe_event__received_at__lt=cutoff
        )
        .values("stripe_event")
        .distinct()
        .count()
    )


def stripe_events_for_retry(
    *,
    failed_only: bool = False,
    ids: Iterable[str] = (),
    types: Iterable[str] = (),
    since: datetime | None = None,
) -> QuerySet[StripeEvent]:
    """Rows a retry applies to, oldest first: failed ones, and with `failed_only` off also stuck ones.

    `ids` are Stripe event ids (`evt_…`) or inbox row numbers; rows named by id are returned
    whatever their status, so the caller can report those that had nothing to retry.
    """
    ids = list(ids)
    if ids:
        numbers = [int(i) for i in ids if i.isdigit()]
        rows = StripeEvent.objects.filter(
            stripe_id__in=[i for i in ids if not i.isdigit()]
        ) | StripeEvent.objects.filter(pk__in=numbers)
    else:
        rows = StripeEvent.objects.filter(
            status__in=(StripeEvent.Status.FAILED,) if failed_only else StripeEvent.OPEN_STATUSES
        )
    if ids and failed_only:
        rows = rows.filter(status=StripeEvent.Status.FAILED)
    types = list(types)
    if types:
        rows = rows.filter(type__in=types)
    if since is not None:
        rows = rows.filter(received_at__gte=since)
    return rows.order_by("received_at", "id")


def payments_for_reconcile(*, older_than: timedelta) -> QuerySet[Payment]:
    """Pending payments with a PaymentIntent, unchanged for `older_than`: what beat's reconciliation and
    `manage.py reconcile_payments` ask Stripe about, least recently asked first.

    A payment Stripe has nothing new about is asked ever less often: again only once it has waited,
    since it was last asked, as long as it had existed then (10 minutes, 20, 40, …), so an abandoned
    checkout costs a handful of calls in its day, not one every run."""
    now = timezone.now()
    cutoff = now - older_than
    next_ask = ExpressionWrapper(
        F("reconciled_at") + (F("reconciled_at") - F("created_at")), output_field=DateTimeField()
    )
    return (
        Payment.objects.filter(status=Payment.Status.PENDING, updated_at__lt=cutoff, payment_intent_id__isnull=False)
        .alias(next_ask=next_ask)
        .filter(Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=cutoff, next_ask__lte=now))
        .order_by(F("reconciled_at").asc(nulls_first=True), "updated_at", "id")
    )


def payments_abandoned(*, older_than: timedelta) -> QuerySet[Payment]:
    """Open payments (pending or failed) with a PaymentIntent, untouched for `older_than`, oldest first."""
    cutoff = timezone.now() - older_than
    return Payment.objects.filter(
        status__in=Payment.OPEN_STATUSES, updated_at__lt=cutoff, payment_intent_id__isnull=False
    ).order_by("updated_at", "id")


def payments_abandoned_without_intent(*, older_than: timedelta) -> QuerySet[Payment]:
    """Pending payments whose PaymentIntent was never recorded (Stripe failed, nobody came back), untouched
    and unleased for `older_than`."""
    cutoff = timezone.now() - older_than
    return Payment.objects.filter(
        Q(intent_requested_at__isnull=True) | Q(intent_requested_at__lt=cutoff),
        status=Payment.Status.PENDING,
        payment_intent_id__isnull=True,
        updated_at__lt=cutoff,
    ).order_by("updated_at", "id")


def payments_for_charge_recheck(*, within: timedelta, every: timedelta) -> QuerySet[Payment]:
    """Succeeded payments of the last `within` not re-checked for `every`, least recently checked first: a
    refund or a lost dispute whose webhook never reached us is found by asking about their charges."""
    now = timezone.now()
    return (
        Payment.objects.filter(
            status=Payment.Status.SUCCEEDED, created_at__gte=now - within, payment_intent_id__isnull=False
        )
        .filter(Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=now - every))
        .order_by(F("reconciled_at").asc(nulls_first=True), "id")
    )


def payment_receipt_for(*, user, payment_id: int) -> Payment | None:
    """The caller's payment that went through (succeeded, or refunded since), with what its receipt shows."""
    return (
        Payment.objects.filter(
            pk=payment_id,
            user=user,
            status__in=(Payment.Status.SUCCEEDED, Payment.Status.REFUNDED),
            succeeded_at__isnull=False,
        )
        .select_related("event", "user")
        .first()
    )
