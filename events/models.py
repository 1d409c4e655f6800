from django.conf import settings
from django.db import models


class Event(models.Model):
    """An organiser's event. It goes live (`is_active`) only through payment fulfilment."""

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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["is_active", "starts_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_active=False) | models.Q(activated_at__isnull=False),
                name="event_active_has_activated_at",
            ),
        ]

    def __str__(self) -> str:
        return self.title
