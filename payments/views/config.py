from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class PaymentConfigView(APIView):
    """What the browser needs to load Stripe.js; in offline mode, where localstripe's stand-in lives."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "PaymentConfig",
                {
                    "publishableKey": serializers.CharField(),
                    "offline": serializers.BooleanField(),
                    "stripeJsUrl": serializers.CharField(allow_null=True),
                },
            )
        }
    )
    def get(self, request):
        offline = settings.STRIPE_OFFLINE
        return Response(
            {
                "publishableKey": settings.STRIPE_PUBLISHABLE_KEY,
                "offline": offline,
                "stripeJsUrl": reverse("offline-stripe-js") if offline else None,
            }
        )
