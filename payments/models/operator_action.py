from django.conf import settings
from django.db import models


class OperatorAction(models.Model):
    """The audit trail: one row per operator action on an inbox row or a payment, with its outcome, and
    one per change beat's jobs make to a payment on their own (`automatic`)."""

    class Action(models.TextChoices):
        RETRY = "retry", "Retry processing"
        REFETCH = "refetch", "Re-fetch from Stripe and rerun"
        IGNORE = "ignore", "Mark ignored"
        RECONCILE = "reconcile", "Reconcile with Stripe"
        CATCH_UP = "catch_up", "Catch up missed Stripe event"
        CANCEL = "cancel", "Cancel abandoned payment"
        REOPEN = "reopen", "Close at Stripe and reopen checkout"
        ACCEPT = "accept", "Accept after review"

    class Outcome(models.TextChoices):
        DONE = "done"
        SKIPPED = "skipped"
        ERROR = "error"

    # Null for commands and beat: `actor` still names who acted.
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150)
    # A scheduled job acted on its own, not a person (then `actor` names the job).
    automatic = models.BooleanField(default=False)
    action = models.CharField(max_length=16, choices=Action.choices)
    stripe_event = models.ForeignKey(
        "payments.StripeEvent", null=True, blank=True, on_delete=models.CASCADE, related_name="operator_actions"
    )
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.CASCADE, related_name="operator_actions"
    )
    reason = models.TextField(blank=True, default="")
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor}: {self.outcome}"
