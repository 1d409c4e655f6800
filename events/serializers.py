from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from events.models import Event


class EventCreateSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200)
    starts_at = serializers.DateTimeField()
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    location = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class EventUpdateSerializer(serializers.Serializer[Any]):
    """A PATCH: any of the editable fields; others (is_active, status, …) are not the organiser's to set."""

    title = serializers.CharField(max_length=200, required=False)
    starts_at = serializers.DateTimeField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    location = serializers.CharField(required=False, allow_blank=True, max_length=200)

    def validate_starts_at(self, value: datetime) -> datetime:
        if value <= timezone.now():
            raise serializers.ValidationError("The start time must be in the future.")
        return value


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
