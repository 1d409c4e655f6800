from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from events.models import Event


class StrictCharField(serializers.CharField):
    """A string, as the schema says: a number or a boolean is refused rather than turned into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class FutureDateTimeField(serializers.DateTimeField):
    """The one rule for an event's start time, on create and on edit: it must be in the future."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Must be in the future.")
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime:
        moment = super().to_internal_value(value)
        if moment <= timezone.now():
            raise serializers.ValidationError("The start time must be in the future.")
        return moment


class EventCreateSerializer(serializers.Serializer[Any]):
    title = StrictCharField(max_length=200, min_length=1)
    starts_at = FutureDateTimeField()
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=10_000)
    location = StrictCharField(required=False, allow_blank=True, default="", max_length=200)


class EventUpdateSerializer(serializers.Serializer[Any]):
    """A PATCH: any of the editable fields; others (is_active, status, …) are not the organiser's to set."""

    title = StrictCharField(max_length=200, min_length=1, required=False)
    starts_at = FutureDateTimeField(required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000)
    location = StrictCharField(required=False, allow_blank=True, max_length=200)


class EventSerializer(serializers.ModelSerializer[Event]):
    status = serializers.ChoiceField(choices=Event.Status.choices, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "title",
            "description",
            "location",
            "starts_at",
            "created_at",
            "is_active",
            "activated_at",
            "payment_status",
            "status",
            "cancelled_at",
        ]
        read_only_fields = fields


class PublicEventSerializer(serializers.ModelSerializer[Event]):
    status = serializers.ChoiceField(choices=Event.Status.choices, read_only=True)

    class Meta:
        model = Event
        fields = ["id", "title", "description", "location", "starts_at", "activated_at", "status"]
        read_only_fields = fields
