"""The operators' console: the webhook inbox, payments, notifications and the audit trail of every action
taken on them.

Rows are read-only here; every change goes through a service (payments/services/retries.py,
reconciliation.py, refunds.py, notifications.py) that records who did what and with which outcome in the
audit trail. A bulk
retry runs in a worker; its counts and errors are kept as a task result (django-celery-results).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.http import urlencode

from core.admin import (
    ActedOnAdminMixin,
    AuditTrailInline,
    IndexedValuesFieldListFilter,
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    shortened,
)
from core.db import count_or_estimate
from core.exceptions import ApplicationError
from core.pagination import BoundedPaginator
from payments import queue, selectors
from payments.models import Notification, OperatorAction, Payment, StripeEvent
from payments.services import notifications, reconciliation, refunds, retries, review
from payments.services.audit import Actor
from payments.stripe_gateway import API_VERSION

# Shown to every staff user: a client secret lets its holder pay (or read) the PaymentIntent, and billing
# details are the payer's personal data. The stored payload stays exactly as Stripe signed it.
REDACTED_PAYLOAD_KEYS = frozenset({"client_secret", "billing_details", "shipping", "receipt_email"})


def redacted(value):
    """A JSON value with the values of REDACTED_PAYLOAD_KEYS replaced, at any depth."""
    if isinstance(value, dict):
        return {k: "[redacted]" if k in REDACTED_PAYLOAD_KEYS else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def age_filter(field_name: str, title: str = "age"):
    """A list filter by the age of a timestamp, for spotting what is stuck."""

    class AgeFilter(admin.SimpleListFilter):
        parameter_name = f"{field_name}_age"
        ages = {
            "lt5m": ("Last 5 minutes", "lt", timedelta(minutes=5)),
            "lt1h": ("Last hour", "lt", timedelta(hours=1)),
            "lt1d": ("Last 24 hours", "lt", timedelta(days=1)),
            "gt5m": ("Older than 5 minutes", "gt", timedelta(minutes=5)),
            "gt1d": ("Older than 1 day", "gt", timedelta(days=1)),
        }

        def lookups(self, request, model_admin):
            return [(key, label) for key, (label, _, _) in self.ages.items()]

        def queryset(self, request, queryset):
            if self.value() not in self.ages:
                return queryset
            _, direction, age = self.ages[self.value()]
            cutoff = timezone.now() - age
            lookup = f"{field_name}__gte" if direction == "lt" else f"{field_name}__lt"
            return queryset.filter(**{lookup: cutoff})

    AgeFilter.title = title
    return AgeFilter


class ApiVersionFilter(admin.SimpleListFilter):
    """Snapshot events rendered at another API version than the pinned one: payloads the code was not written for."""

    title = "API version"
    parameter_name = "api_version_drift"

    def lookups(self, request, model_admin):
        return [("pinned", f"Pinned ({API_VERSION})"), ("other", "Another version (drift)")]

    def queryset(self, request, queryset):
        snapshots = queryset.filter(kind=StripeEvent.Kind.SNAPSHOT)
        if self.value() == "pinned":
            return snapshots.filter(api_version=API_VERSION)
        if self.value() == "other":
            return snapshots.exclude(api_version=API_VERSION)
        return queryset


def _summarise(admin_view, request, records: list[OperatorAction], verb: str) -> None:
    counts = Counter(record.outcome for record in records)
    message = (
        f"{verb}: {counts[OperatorAction.Outcome.DONE]} done, {counts[OperatorAction.Outcome.SKIPPED]} skipped, "
        f"{counts[OperatorAction.Outcome.ERROR]} errors."
    )
    errors = [f"{_subject(r)}: {r.detail}" for r in records if r.outcome == OperatorAction.Outcome.ERROR]
    if errors:
        message += " " + " | ".join(errors[:5])
    admin_view.message_user(request, message, messages.ERROR if errors else messages.SUCCESS)


def _subject(record: OperatorAction) -> str:
    if record.stripe_event is not None:
        return record.stripe_event.stripe_id
    if record.notification_id:
        return f"notification {record.notification_id}"
    return f"payment {record.payment_id}"


def _action_summary(record: OperatorAction | None) -> str:
    if record is None:
        return "—"
    when = timezone.localtime(record.created_at).strftime("%Y-%m-%d %H:%M")
    return f"{record.get_action_display()} by {record.actor} at {when}: {record.outcome}"


class OperatorActionInline(AuditTrailInline):
    model = OperatorAction
    fields = ("created_at", "actor", "action", "outcome", "reason", "detail")


class StripeEventActionForm(helpers.ActionForm):
    reason = forms.CharField(required=False, max_length=500, label="Reason (for Mark ignored)")


class InboxChangeList(ChangeList):
    """Finds the payments of a page's rows in one query: an annotated subquery would also run for every
    row an OFFSET skips. The payloads stay in the database (the list does not show them)."""

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer("payload")

    def get_results(self, request):
        super().get_results(request)
        rows = list(self.result_list)
        intents = {row.payment_intent_id for row in rows if row.payment_intent_id}
        payments = dict(Payment.objects.filter(payment_intent_id__in=intents).values_list("payment_intent_id", "pk"))
        for row in rows:
            row.payment_pk = payments.get(row.payment_intent_id)


@admin.register(StripeEvent)
class StripeEventAdmin(LargeTableAdminMixin, ActedOnAdminMixin, admin.ModelAdmin):
    list_display = (
        "stripe_id", "type", "status", "payment_intent_id", "received_at", "attempts", "short_error", "payment_link",
        "last_action", "api_version_flag",
    )  # fmt: skip
    # Status, type and age are answered by indexes (the partial indexes of unfinished and failed rows,
    # (type, received_at), arrival order); kind and API version narrow what those return.
    list_filter = (
        "status", ("type", IndexedValuesFieldListFilter), age_filter("received_at", "received"), "kind",
        ApiVersionFilter,
    )  # fmt: skip
    sortable_by = ("received_at",)
    search_fields = ("stripe_id", "payment_intent_id")
    search_help_text = "A whole Stripe event id (evt_…) or PaymentIntent id (pi_…), or an inbox row number."
    list_per_page = 50
    action_form = StripeEventActionForm
    actions = ("retry_processing", "refetch_and_rerun", "mark_ignored")
    fields = (
        "stripe_id", "type", "status", "payment_intent_id", "payment_link", "livemode", "api_version", "received_at",
        "kind", "api_version_flag", "related_object_type", "related_object_id",
        "enqueued_at", "processed_at", "attempts", "last_error", "payload_pretty",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (OperatorActionInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("operator_actions")

    def get_changelist(self, request, **kwargs):
        return InboxChangeList

    def get_search_results(self, request, queryset, search_term):
        # A whole id, looked up on its index (the inbox keeps no index for prefixes: see StripeEvent.Meta).
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("evt_"):
            return queryset.filter(stripe_id=term), False
        if term.startswith("pi_"):
            return queryset.filter(pk__in=selectors.stripe_events_for_payment_intent(term).values("pk")), False
        if term.isdigit() and int(term) < 2**63:
            return queryset.filter(pk=int(term)), False
        return queryset.filter(stripe_id=term), False

    def changelist_view(self, request, extra_context=None):
        failed, exact = count_or_estimate(
            StripeEvent.objects.filter(status=StripeEvent.Status.FAILED),
            exact_up_to=BoundedPaginator.EXACT_COUNT_UP_TO,
        )
        runs = reverse("admin:django_celery_results_taskresult_changelist")
        extra_context = {
            **(extra_context or {}),
            "title": f"Webhook inbox: {failed if exact else f'about {failed:,}'} failed",
            "subtitle": format_html('Bulk retries and beat\'s runs: <a href="{}">task results</a>', runs),
        }
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="last error")
    def short_error(self, obj: StripeEvent) -> str:
        return shortened(obj.last_error)

    @admin.display(description="API version")
    def api_version_flag(self, obj: StripeEvent):
        if obj.kind == StripeEvent.Kind.THIN:
            return "thin event (unversioned)"
        if obj.api_version == API_VERSION:
            return obj.api_version
        return format_html("<strong>⚠ {}</strong> (pinned: {})", obj.api_version or "none", API_VERSION)

    @admin.display(description="payment")
    def payment_link(self, obj: StripeEvent):
        if hasattr(obj, "payment_pk"):  # a changelist row (InboxChangeList)
            payment_pk = obj.payment_pk
        else:
            payment_pk = Payment.objects.filter(payment_intent_id=obj.payment_intent_id or None).values("pk").first()
            payment_pk = payment_pk and payment_pk["pk"]
        if payment_pk is None:
            return "—"
        return format_html(
            '<a href="{}">Payment {}</a>', reverse("admin:payments_payment_change", args=[payment_pk]), payment_pk
        )

    @admin.display(description="last operator action")
    def last_action(self, obj: StripeEvent) -> str:
        return _action_summary(next(iter(obj.operator_actions.all()), None))

    @admin.display(description="payload (client secrets and billing details redacted)")
    def payload_pretty(self, obj: StripeEvent):
        try:
            text = json.dumps(redacted(json.loads(obj.payload)), indent=2, sort_keys=True)
        except ValueError:
            text = "The stored payload is not JSON; it is not shown."
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", text)

    @admin.action(description="Retry processing", permissions=["change"])
    def retry_processing(self, request, queryset):
        ids = list(queryset.filter(status__in=StripeEvent.OPEN_STATUSES).values_list("pk", flat=True))
        if not ids:
            self.message_user(request, "Retry processing: no failed or unprocessed row selected.", messages.WARNING)
            return
        try:
            task_id = queue.stripe_events_retry(stripe_event_ids=ids, operator_id=request.user.pk)
        except Exception as exc:  # the broker is down; nothing was changed
            self.message_user(
                request, f"Retry processing: the broker is unavailable ({exc}); retry later.", messages.ERROR
            )
            return
        results = reverse("admin:django_celery_results_taskresult_changelist") + "?" + urlencode({"q": task_id})
        self.message_user(
            request,
            format_html(
                'Retry processing: {} rows handed to a worker; <a href="{}">its outcome</a> is kept as task {}.',
                len(ids), results, task_id,
            ),
            messages.SUCCESS,
        )  # fmt: skip

    @admin.action(description="Re-fetch from Stripe and rerun (PaymentIntent events)", permissions=["change"])
    def refetch_and_rerun(self, request, queryset):
        actor = Actor.from_user(request.user)
        records = [
            retries.stripe_event_refetch(stripe_event=row, actor=actor) for row in queryset.order_by("received_at")
        ]
        _summarise(self, request, records, "Re-fetch from Stripe")

    @admin.action(description="Mark ignored (give a reason)", permissions=["change"])
    def mark_ignored(self, request, queryset):
        actor = Actor.from_user(request.user)
        reason = request.POST.get("reason", "")
        try:
            records = [
                retries.stripe_event_ignore(stripe_event=row, actor=actor, reason=reason)
                for row in queryset.order_by("received_at")
            ]
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        _summarise(self, request, records, "Mark ignored")


class PaymentActionForm(helpers.ActionForm):
    reason = forms.CharField(required=False, max_length=500, label="Reason (to refund, reopen or accept)")


@admin.register(Payment)
class PaymentAdmin(LargeTableAdminMixin, ActedOnAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "payment_intent_id", "event_link", "user", "status", "amount", "currency", "created_at", "updated_at",
        "inbox_link", "last_action",
    )  # fmt: skip
    list_filter = ("status", age_filter("created_at", "created"), age_filter("updated_at", "last change"))
    sortable_by = ("id", "created_at")
    search_fields = ("payment_intent_id", "user__username")
    search_help_text = "A PaymentIntent id (pi_…) or the start of one, a payment or event number, or a user name."
    list_per_page = 50
    list_select_related = ("event", "user")
    action_form = PaymentActionForm
    actions = ("reconcile_now", "refund", "reopen_checkout", "accept_reviewed")
    fields = (
        "id", "payment_intent_id", "event_link", "user", "status", "amount", "currency", "last_error", "created_at",
        "updated_at", "succeeded_at", "refunded_at", "card_brand", "card_last4", "receipt_url", "refund_summary",
        "inbox_link",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (OperatorActionInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("operator_actions")

    def get_search_results(self, request, queryset, search_term):
        # Each kind of term is looked up on an index: no scan of the ledger for a substring.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("pi_"):
            return queryset.filter(payment_intent_id__startswith=term), False
        if term.isdigit() and int(term) < 2**63:
            return queryset.filter(Q(pk=int(term)) | Q(event_id=int(term))), False
        return queryset.filter(user__username=term), False

    @admin.display(description="event")
    def event_link(self, obj: Payment):
        label = f"#{obj.event_id} {obj.event.title}" + (" (active)" if obj.event.is_active else "")
        if admin.site.is_registered(type(obj.event)):
            return format_html('<a href="{}">{}</a>', reverse("admin:events_event_change", args=[obj.event_id]), label)
        return label

    @admin.display(description="webhook inbox")
    def inbox_link(self, obj: Payment):
        if not obj.payment_intent_id:
            return "—"
        url = reverse("admin:payments_stripeevent_changelist") + "?" + urlencode({"q": obj.payment_intent_id})
        return format_html('<a href="{}">Inbox rows</a>', url)

    @admin.display(description="last operator action")
    def last_action(self, obj: Payment) -> str:
        return _action_summary(next(iter(obj.operator_actions.all()), None))

    @admin.display(description="refund")
    def refund_summary(self, obj: Payment) -> str:
        request = getattr(obj, "refund_request", None)
        if request is None:
            return "—"
        when = timezone.localtime(request.created_at).strftime("%Y-%m-%d %H:%M")
        outcome = request.stripe_refund_id or request.last_error or "not answered by Stripe yet"
        return f"{request.status} (requested by {request.actor} at {when}: {request.reason}) {outcome}"

    @admin.action(description="Reconcile with Stripe now", permissions=["change"])
    def reconcile_now(self, request, queryset):
        actor = Actor.from_user(request.user)
        records = [reconciliation.payment_reconcile_now(payment=payment, actor=actor) for payment in queryset]
        _summarise(self, request, records, "Reconcile with Stripe")

    @admin.action(description="Refund (succeeded payments; give a reason, then confirm)", permissions=["refund"])
    def refund(self, request, queryset):
        # Money goes back: a permission of its own, a bounded selection ("select all" included), and a page
        # showing how many and how much before anything is refunded.
        cap = settings.ADMIN_REFUND_MAX_PER_ACTION
        selected = list(queryset.order_by("pk")[: cap + 1])
        if len(selected) > cap:
            self.message_user(
                request, f"At most {cap} payments are refunded in one action: select fewer.", messages.ERROR
            )
            return None
        if request.POST.get("confirm") != "yes":
            return self._refund_confirmation(request, selected)
        self._resolve(request, selected, refunds.payment_refund, "Refund")
        return None

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm("payments.refund_payment")

    def _refund_confirmation(self, request, payments: list[Payment]) -> TemplateResponse:
        refundable = [payment for payment in payments if payment.status == Payment.Status.SUCCEEDED]
        totals: Counter[str] = Counter()
        for payment in refundable:
            totals[payment.currency] += payment.amount
        context = {
            **self.admin_site.each_context(request),
            "title": "Refund payments: are you sure?",
            "opts": self.model._meta,
            "payments": payments,
            "refundable": refundable,
            "totals": [notifications.format_amount(amount, currency) for currency, amount in sorted(totals.items())],
            "reason": request.POST.get("reason", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payments/payment/refund_confirmation.html", context)

    @admin.action(description="Refund or cancel at Stripe and reopen checkout (give a reason)", permissions=["change"])
    def reopen_checkout(self, request, queryset):
        self._resolve(request, queryset, review.payment_reopen_checkout, "Reopen checkout")

    @admin.action(description="Accept after review: paid, event live (give a reason)", permissions=["change"])
    def accept_reviewed(self, request, queryset):
        self._resolve(request, queryset, review.payment_accept_reviewed, "Accept after review")

    def _resolve(self, request, queryset, resolve, verb: str) -> None:
        # An action on each selected payment that needs the operator's reason (kept in the audit trail).
        actor = Actor.from_user(request.user)
        reason = request.POST.get("reason", "")
        try:
            records = [resolve(payment=payment, actor=actor, reason=reason) for payment in queryset]
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        _summarise(self, request, records, verb)


@admin.register(Notification)
class NotificationAdmin(ActedOnAdminMixin, admin.ModelAdmin):
    """Every email to an organiser (a payment's facts and the account's emails), with its status (`sending`:
    claimed by a worker, since `claimed_at`); failed sends show their error and can be retried."""

    list_display = (
        "id",
        "kind",
        "to_email",
        "status",
        "attempts",
        "short_error",
        "payment_link",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "kind", age_filter("created_at", "created"))
    search_fields = ("to_email", "user__username", "payment__payment_intent_id")
    search_help_text = "An email address, a username or a PaymentIntent id (pi_…)."
    list_select_related = ("payment", "user")
    list_per_page = 50
    actions = ("retry_sending",)
    fields = (
        "id", "kind", "to_email", "status", "attempts", "last_error", "payment_link", "created_at", "enqueued_at",
        "claimed_at", "sent_at", "rendered_subject", "rendered_text", "rendered_html",
    )  # fmt: skip
    readonly_fields = fields
    inlines = (OperatorActionInline,)

    def changelist_view(self, request, extra_context=None):
        failed = Notification.objects.filter(status=Notification.Status.FAILED).count()
        extra_context = {**(extra_context or {}), "title": f"Notifications: {failed} failed"}
        return super().changelist_view(request, extra_context=extra_context)

    @admin.display(description="last error")
    def short_error(self, obj: Notification) -> str:
        return shortened(obj.last_error)

    @admin.display(description="payment")
    def payment_link(self, obj: Notification):
        if obj.payment_id is None:
            return "— (an account email)"
        url = reverse("admin:payments_payment_change", args=[obj.payment_id])
        return format_html('<a href="{}">Payment {}</a>', url, obj.payment_id)

    def _rendered(self, obj: Notification) -> tuple[str, str, str]:
        # What was sent; a notification not sent yet is shown as it would be sent now. Templates answer
        # strings marked safe, and the text parts are not HTML: each is escaped here, whatever its mark.
        parts = (obj.subject, obj.body_text, obj.body_html)
        if obj.status != Notification.Status.SENT:
            parts = notifications.notification_render(obj)
        subject, text, html = parts
        return escape(subject), escape(text), escape(html)

    @admin.display(description="subject")
    def rendered_subject(self, obj: Notification) -> str:
        return self._rendered(obj)[0]

    @admin.display(description="plain text")
    def rendered_text(self, obj: Notification):
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", self._rendered(obj)[1])

    @admin.display(description="HTML")
    def rendered_html(self, obj: Notification):
        # Shown in a sandboxed frame: the email's markup never runs in the admin's page.
        return format_html(
            '<iframe sandbox srcdoc="{}" style="width: 100%; height: 24rem; border: 1px solid #ccc;"></iframe>',
            self._rendered(obj)[2],
        )

    @admin.action(description="Retry sending (failed notifications)", permissions=["change"])
    def retry_sending(self, request, queryset):
        actor = Actor.from_user(request.user)
        records = [
            notifications.notification_retry(notification=row, actor=actor)
            for row in queryset.select_related("payment", "user").order_by("created_at", "id")
        ]
        _summarise(self, request, records, "Retry sending")


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at", "actor", "action", "outcome", "stripe_event", "payment", "notification", "reason", "detail",
    )  # fmt: skip
    list_filter = ("action", "outcome", age_filter("created_at", "when"))
    search_fields = ("actor", "stripe_event__stripe_id", "payment__payment_intent_id")
    list_select_related = ("stripe_event", "payment", "notification")
