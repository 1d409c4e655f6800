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
            "card_brand",
            "card_last4",
            "receipt_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ReceiptEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    starts_at = serializers.DateTimeField()


class ReceiptOrganiserSerializer(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.CharField()


class ReceiptSerializer(serializers.Serializer):
    """Our own receipt for a payment that went through (succeeded, or refunded since)."""

    receipt_number = serializers.CharField()
    payment_id = serializers.IntegerField(source="pk")
    event = ReceiptEventSerializer()
    organiser = ReceiptOrganiserSerializer(source="user")
    amount = serializers.IntegerField()
    currency = serializers.CharField()
    paid_at = serializers.DateTimeField(source="succeeded_at")
    card_brand = serializers.CharField()
    card_last4 = serializers.CharField()
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    stripe_receipt_url = serializers.CharField(source="receipt_url")


class PaymentListQuerySerializer(serializers.Serializer):
    payment_intent = serializers.RegexField(r"^pi_[A-Za-z0-9_]+$", max_length=255, required=False)
    event = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
