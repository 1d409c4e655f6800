"""Mounted at /api/payments/offline-stripe/ by core/urls.py, in offline mode only."""

from django.urls import path

from offline.views import OfflineStripeProxyView, stand_in_script

urlpatterns = [
    # localstripe's Stripe.js stand-in, served same-origin: its own API calls then come back here.
    path("js.stripe.com/v3/", stand_in_script, name="offline-stripe-js"),
    path("<path:path>", OfflineStripeProxyView.as_view(), name="offline-stripe"),
]
