from django.db import models


class Notification(models.Model):
    """One email to an organiser about one fact of one payment: unique per payment and kind, written by
    fulfilment in the transaction that changes the payment, sent by a worker, then marked sent."""

    class Kind(models.TextChoices):
        LIVE = "live", "Your event is live"
        PAYMENT_FAILED = "payment_failed", "Your payment failed"
        REFUNDED = "refunded", "Your payment was refunded"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    payment = models.ForeignKey("payments.Payment", on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
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
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["payment", "kind"], name="notification_one_per_payment_and_kind"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sent", "failed"]), name="notification_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.to_email or '(no address)'} ({self.status})"

    @property
    def message_id(self) -> str:
        """The same Message-ID for every attempt: a mail client shows a rare second delivery as one message."""
        return f"<eventpay-notification-{self.pk}@eventpay>"
