from rest_framework import serializers

from events.models import Event


class EventCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    starts_at = serializers.DateTimeField()
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    location = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class EventSerializer(serializers.ModelSerializer):
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


class PublicEventSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Event.Status.choices, read_only=True)

    class Meta:
        model = Event
        fields = ["id", "title", "description", "location", "starts_at", "activated_at", "status"]
        read_only_fields = fields
