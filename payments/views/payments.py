from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import Pages
from payments.models import Payment
from payments.serializers import PaymentListQuerySerializer, PaymentSerializer


def _payments_of(user):
    return Payment.objects.filter(user=user).select_related("event")


class PaymentListView(generics.ListAPIView):
    """The caller's payments, newest first, by PaymentIntent or by event."""

    serializer_class = PaymentSerializer
    pagination_class = Pages

    @extend_schema(parameters=[PaymentListQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = PaymentListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        payments = _payments_of(self.request.user)
        if "payment_intent" in query.validated_data:
            payments = payments.filter(payment_intent_id=query.validated_data["payment_intent"])
        if "event" in query.validated_data:
            payments = payments.filter(event_id=query.validated_data["event"])
        return payments.order_by("-created_at", "-id")


class PaymentDetailView(APIView):
    @extend_schema(responses={200: PaymentSerializer})
    def get(self, request, payment_id: int):
        # Another user's payment is answered 404, never 403.
        payment = get_object_or_404(_payments_of(request.user), pk=payment_id)
        return Response(PaymentSerializer(payment).data)
