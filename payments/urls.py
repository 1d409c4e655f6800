from django.urls import path

from payments.views.config import PaymentConfigView
from payments.views.create_payment_intent import CreatePaymentIntentView
from payments.views.payments import PaymentDetailView, PaymentListView
from payments.views.stripe_webhook import stripe_thin_webhook, stripe_webhook

urlpatterns = [
    path("config/", PaymentConfigView.as_view(), name="payment-config"),
    path("create-payment-intent/", CreatePaymentIntentView.as_view(), name="create-payment-intent"),
    path("webhook/", stripe_webhook, name="stripe-webhook"),
    path("webhook/thin/", stripe_thin_webhook, name="stripe-thin-webhook"),
    path("", PaymentListView.as_view(), name="payment-list"),
    path("<int:payment_id>/", PaymentDetailView.as_view(), name="payment-detail"),
]
