from django.conf import settings
from django.db import models


class RefundRequest(models.Model):
    """An operator's request to refund a payment in full: stored before Stripe is called, with the idempotency
    key every call for it carries, so a second click or a retry after a timeout never refunds twice."""

    class Status(models.TextChoices):
        REQUESTED = "requested"  # stored; Stripe has not (yet) accepted it
        # Being sent to Stripe, outside any transaction, since `updated_at`: the lease of the one sending it.
        SUBMITTING = "submitting"
        SUBMITTED = "submitted"  # Stripe created the refund
        FAILED = "failed"  # Stripe refused it

    payment = models.OneToOneField("payments.Payment", on_delete=models.PROTECT, related_name="refund_request")
    idempotency_key = models.CharField(max_length=255, unique=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150)
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    stripe_refund_id = models.CharField(max_length=255, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Refund of payment {self.payment_id} ({self.status})"
