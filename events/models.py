from django.conf import settings
from django.db import models


class Event(models.Model):
    """An organiser's event. It goes live (`is_active`) only through payment fulfilment.

    Its `status` for people: a draft until paid, live once paid, cancelled when its organiser calls
    it off (it stays paid: `is_active` follows the payment, not the organiser's decision).

    A deleted draft keeps its row (`deleted_at`): its payments are a ledger that still points at it.
    Every read for people leaves deleted events out; fulfilment and the admin still see them."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        LIVE = "live"
        CANCELLED = "cancelled"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="events")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    location = models.CharField(max_length=200, blank=True, default="")
    starts_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    # The status of the event's latest payment (null before the first checkout), kept by the payment
    # services in the transaction that changes the payment; `is_active` is set the same way.
    payment_status = models.CharField(max_length=16, null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # A deletion in progress (its lease): set while payments cancel the draft's PaymentIntent at Stripe.
    deletion_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"]),
            # Newest first, for everyone's events: the admin's list.
            models.Index(fields=["created_at", "id"], name="event_created"),
            # The public list: live, not cancelled, upcoming, in start order.
            models.Index(
                fields=["starts_at", "id"],
                condition=models.Q(is_active=True, cancelled_at__isnull=True),
                name="event_public_upcoming",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_active=False) | models.Q(activated_at__isnull=False),
                name="event_active_has_activated_at",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def status(self) -> str:
        if self.cancelled_at is not None:
            return self.Status.CANCELLED
        return self.Status.LIVE if self.is_active else self.Status.DRAFT


class EventAction(models.Model):
    """The audit trail of what an organiser did to an event: who, when, and what changed."""

    class Action(models.TextChoices):
        EDIT = "edit"
        CANCEL = "cancel"
        DELETE = "delete"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="actions")
    # Null once the account is gone: `actor` still names who acted.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=Action.choices)
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of event {self.event_id} by {self.actor}"
