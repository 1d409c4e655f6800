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
    # Null between the row's commit and Stripe's answer (checkout calls Stripe outside any transaction).
    payment_intent_id = models.CharField(max_length=255, unique=True, null=True)
    # Random, sent with the PaymentIntent's create: a retried create (a lease taken over) gets Stripe's
    # first answer back. Null only for payments made before it existed.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, editable=False)
    # The lease of the checkout creating this payment's PaymentIntent: set while one is at Stripe, so
    # concurrent checkouts wait for it; expired or cleared, the next checkout takes the creation over.
    intent_requested_at = models.DateTimeField(null=True, blank=True)
    # When reconciliation last asked Stripe about this payment: its work goes oldest first.
    reconciled_at = models.DateTimeField(null=True, blank=True)
    amount = models.PositiveIntegerField(help_text="In the currency's minor unit.")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    last_error = models.TextField(blank=True, default="")
    # Set by fulfilment when the payment succeeds or is refunded (the receipt's date is `succeeded_at`).
    succeeded_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # What Stripe's charge says, fetched once the payment succeeded (empty where Stripe gives nothing).
    card_brand = models.CharField(max_length=32, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    receipt_url = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Refunding gives money back: an operator needs this, not just the change permission.
        permissions = [("refund_payment", "Can refund payments")]
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

    @property
    def recorded_intent_id(self) -> str:
        """The PaymentIntent's id, for the code that runs only once it is recorded (selected by it, or after
        the payment succeeded); its absence there is a bug, not a state to handle."""
        if self.payment_intent_id is None:
            raise ValueError(f"Payment {self.pk} has no PaymentIntent recorded.")
        return self.payment_intent_id

    @property
    def receipt_number(self) -> str:
        """Our receipt's number: the year it was paid and the payment's id, so it never changes."""
        return f"EP-{self.succeeded_at:%Y}-{self.pk:06d}" if self.succeeded_at else ""
