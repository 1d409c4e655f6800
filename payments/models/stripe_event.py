from django.db import models


class StripeEvent(models.Model):
    """The webhook inbox: one row per Stripe event id, stored before it is acknowledged."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        ENQUEUED = "enqueued"
        PROCESSED = "processed"
        IGNORED = "ignored"
        FAILED = "failed"

    UNFINISHED_STATUSES = (Status.RECEIVED, Status.ENQUEUED)
    FINISHED_STATUSES = (Status.PROCESSED, Status.IGNORED)
    # Rows that processing, an operator's retry, re-fetch or "Mark ignored" may still act on.
    OPEN_STATUSES = (Status.FAILED, *UNFINISHED_STATUSES)

    # On PostgreSQL the migration `stripe_event_insert_cost` drops the LIKE (`varchar_pattern_ops`) indexes
    # Django adds for `stripe_id` and `payment_intent_id` (no query runs LIKE) and compresses `payload` with lz4.
    stripe_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True, default="")
    payment_intent_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # The body exactly as Stripe sent it, so fulfilment and operators see what was signed.
    payload = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)
    # The last hand-over to the broker; the sweeper re-enqueues rows whose hand-over is stale.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["type", "received_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "enqueued", "processed", "ignored", "failed"]),
                name="stripe_event_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.type}, {self.status})"
