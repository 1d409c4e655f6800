from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.models import Payment
from payments.serializers import PaymentListQuerySerializer, PaymentSerializer


def _payments_of(user):
    return Payment.objects.filter(user=user).select_related("event")


class PaymentListView(APIView):
    @extend_schema(parameters=[PaymentListQuerySerializer], responses={200: PaymentSerializer(many=True)})
    def get(self, request):
        query = PaymentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        payments = _payments_of(request.user)
        if "payment_intent" in query.validated_data:
            payments = payments.filter(payment_intent_id=query.validated_data["payment_intent"])
        return Response(PaymentSerializer(payments[:100], many=True).data)


class PaymentDetailView(APIView):
    @extend_schema(responses={200: PaymentSerializer})
    def get(self, request, payment_id: int):
        # Another user's payment is answered 404, never 403.
        payment = get_object_or_404(_payments_of(request.user), pk=payment_id)
        return Response(PaymentSerializer(payment).data)
