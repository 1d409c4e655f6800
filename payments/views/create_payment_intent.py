from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.limits import ClientRateThrottle
from payments.serializers import CreatePaymentIntentSerializer
from payments.services.checkout import checkout_start

CHECKOUT_RESPONSE = inline_serializer(
    "Checkout",
    {
        "clientSecret": serializers.CharField(),
        "paymentId": serializers.IntegerField(),
        "amount": serializers.IntegerField(),
        "currency": serializers.CharField(),
        "publishableKey": serializers.CharField(),
    },
)


class CreatePaymentIntentView(APIView):
    """Starts (or resumes) the checkout of one event; amount and currency come from settings."""

    throttle_classes = [ClientRateThrottle]
    throttle_scope = "checkout"

    @extend_schema(request=CreatePaymentIntentSerializer, responses={201: CHECKOUT_RESPONSE, 200: CHECKOUT_RESPONSE})
    def post(self, request):
        serializer = CreatePaymentIntentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        checkout = checkout_start(user=request.user, event_id=serializer.validated_data["event_id"])
        payment = checkout.payment
        return Response(
            {
                "clientSecret": checkout.client_secret,
                "paymentId": payment.pk,
                "amount": payment.amount,
                "currency": payment.currency,
                "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
            },
            status=status.HTTP_201_CREATED if checkout.created else status.HTTP_200_OK,
        )
