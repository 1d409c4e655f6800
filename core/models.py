from django.conf import settings
from django.db import models


class VerifiedEmail(models.Model):
    """The address a user proved they read, by opening the emailed link. EventPay emails nothing but the
    verification itself to any other address (payments/services/notifications.py checks it)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="verified_email")
    email = models.EmailField()
    verified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.email
