from rest_framework import status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from payments.serializers import CreatePaymentIntentSerializer
from payments.services.checkout import checkout_start
from payments.views.config import publishable_key


class CreatePaymentIntentView(APIView):
    """Starts (or resumes) the checkout of one event; amount and currency come from settings."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "checkout"

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
                "publishableKey": publishable_key(),
            },
            status=status.HTTP_201_CREATED if checkout.created else status.HTTP_200_OK,
        )
