from rest_framework import serializers

from payments.models import Payment


class CreatePaymentIntentSerializer(serializers.Serializer):
    event_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class PaymentSerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField(read_only=True)
    event_is_active = serializers.BooleanField(source="event.is_active", read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "event_id",
            "status",
            "amount",
            "currency",
            "payment_intent_id",
            "event_is_active",
            "last_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PaymentListQuerySerializer(serializers.Serializer):
    payment_intent = serializers.RegexField(r"^pi_[A-Za-z0-9_]+$", max_length=255, required=False)
    event = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
