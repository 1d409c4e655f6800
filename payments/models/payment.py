from django.conf import settings
from django.db import models


class Payment(models.Model):
    """The ledger of one attempt to pay an event's activation fee: one Stripe PaymentIntent."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"
        REFUNDED = "refunded"

    # Open payments are reused by checkout: at most one per event (a database constraint below).
    OPEN_STATUSES = (Status.PENDING, Status.FAILED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="payments")
    # Null only inside checkout's transaction, between the row's insert and Stripe's answer.
    payment_intent_id = models.CharField(max_length=255, unique=True, null=True)
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "updated_at"]),
            # Newest first: the admin's list, and each organiser's payment history.
            models.Index(fields=["created_at", "id"], name="payment_created"),
            models.Index(fields=["user", "created_at", "id"], name="payment_user_created"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event"],
                condition=models.Q(status__in=["pending", "failed"]),
                name="payment_one_open_per_event",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "succeeded", "failed", "canceled", "refunded"]),
                name="payment_status_valid",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"Payment {self.pk} ({self.payment_intent_id}, {self.status})"
