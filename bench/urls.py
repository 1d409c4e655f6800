"""Benchmark-only routes in front of the product's: never part of core/urls.py."""

from django.urls import path

from bench import views
from core.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    path("bench/bare/", views.bare_json, name="bench-bare"),
    path("bench/backbone-webhook/", views.backbone_webhook, name="bench-backbone-webhook"),
    *product_urlpatterns,
]
