from django.db import models


class StripeEvent(models.Model):
    """The webhook inbox: one row per Stripe event id, stored before it is acknowledged.

    Both of Stripe's payloads land here: a snapshot event (a webhook endpoint's, the object as it was,
    rendered at an API version) and a thin event (an event destination's notification, naming the
    related object that fulfilment fetches)."""

    class Kind(models.TextChoices):
        SNAPSHOT = "snapshot"
        THIN = "thin"

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

    # No `unique=True`: uniqueness is the named constraint below, and on PostgreSQL no `varchar_pattern_ops`
    # copy of the id indexes (no query runs LIKE on them); `payload` is compressed with lz4 (migration 0011).
    stripe_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SNAPSHOT)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    api_version = models.CharField(max_length=64, blank=True, default="")
    payment_intent_id = models.CharField(max_length=255, blank=True, default="")
    # A thin event's `related_object` (a snapshot event's object is in its payload).
    related_object_type = models.CharField(max_length=100, blank=True, default="")
    related_object_id = models.CharField(max_length=255, blank=True, default="")
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
        # Every index costs each webhook insert a page write, and on a table of millions of rows a random
        # key (a Stripe id) writes a cold page, in full after each checkpoint. So the ids have their plain
        # B-tree only (exact lookups), not also the `varchar_pattern_ops` copy Django adds for
        # `unique=True`/`db_index=True` fields; and the PaymentIntent index leaves out the rows still
        # `enqueued`, as the webhook inserts them: the worker that closes a row writes its entry.
        # selectors.stripe_events_for_payment_intent reads both that index and the unfinished one.
        indexes = [
            models.Index(
                fields=["payment_intent_id"],
                condition=~models.Q(status="enqueued"),
                name="stripe_event_payment_intent",
            ),
            # The inbox in arrival order: the admin's list, retention's batches.
            models.Index(fields=["received_at", "id"], name="stripe_event_received"),
            models.Index(fields=["type", "received_at"]),
            # Partial indexes, as small as the backlog and the failures whatever the inbox holds: the
            # sweeper, the oldest unprocessed row, the metrics' counts, the admin's failed rows.
            models.Index(
                fields=["received_at", "id"],
                condition=models.Q(status__in=["received", "enqueued"]),
                name="stripe_event_unfinished",
            ),
            models.Index(fields=["received_at", "id"], condition=models.Q(status="failed"), name="stripe_event_failed"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["stripe_id"], name="stripe_event_stripe_id_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "enqueued", "processed", "ignored", "failed"]),
                name="stripe_event_status_valid",
            ),
            models.CheckConstraint(condition=models.Q(kind__in=["snapshot", "thin"]), name="stripe_event_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.stripe_id} ({self.type}, {self.status})"
