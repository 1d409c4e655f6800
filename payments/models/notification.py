from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    LIVE = "live", "Your event is live"
    PAYMENT_FAILED = "payment_failed", "Your payment failed"
    REFUNDED = "refunded", "Your payment was refunded"
    EMAIL_VERIFICATION = "email_verification", "Confirm your email address"
    PASSWORD_RESET = "password_reset", "Set a new password"


# An account's emails: no payment, one per request.
ACCOUNT_KINDS = (NotificationKind.EMAIL_VERIFICATION, NotificationKind.PASSWORD_RESET)


class Notification(models.Model):
    """One email, written where its reason is recorded and sent by a worker, then marked sent (the outbox).
    A worker claims the row (`sending`), sends with no transaction open, then records the outcome.

    A payment's facts (live, payment failed, refunded) are unique per payment and kind, written by fulfilment
    in the transaction that changes the payment. An account's emails (verify the address, reset the password)
    have no payment: one row per request, its link made when it is sent and never stored."""

    Kind = NotificationKind
    ACCOUNT_KINDS = ACCOUNT_KINDS

    class Status(models.TextChoices):
        PENDING = "pending"
        # Claimed by a sender at `claimed_at`, outside any transaction: nobody else sends it until the claim
        # is older than NOTIFICATION_CLAIM_TIMEOUT_SECONDS (its sender died), then it is sent again.
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications")
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, related_name="notifications", null=True, blank=True
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    to_email = models.EmailField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # The email as it was sent (empty until then; the admin previews a pending one).
    subject = models.CharField(max_length=255, blank=True, default="")
    body_text = models.TextField(blank=True, default="")
    body_html = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # The last hand-over to the broker; the sweeper re-sends pending rows whose hand-over is stale.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The last claim by a sender (kept after it, for the admin).
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], name="notification_one_per_payment_and_kind"),
            # A payment's fact has its payment; an account's email has none.
            models.CheckConstraint(
                condition=models.Q(kind__in=ACCOUNT_KINDS, payment__isnull=True)
                | (~models.Q(kind__in=ACCOUNT_KINDS) & models.Q(payment__isnull=False)),
                name="notification_payment_iff_payment_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "failed"]),
                name="notification_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="sending") | models.Q(claimed_at__isnull=False),
                name="notification_sending_is_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_email or '(no address)'} ({self.status})"

    @property
    def message_id(self) -> str:
        """The same Message-ID for every attempt: a mail client shows a rare second delivery as one message."""
        return f"<eventpay-notification-{self.pk}@eventpay>"
