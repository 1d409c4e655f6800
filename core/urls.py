from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import metrics, mfa_views, views
from core.csp import CspReportView

api = [
    path("health/", views.health, name="health"),
    path("ready/", views.ready, name="ready"),
    path("auth/csrf/", views.csrf, name="csrf"),
    path("auth/", include("accounts.urls")),
    path("", include("events.urls")),
    path("payments/", include("payments.urls")),
    # Development only: the browser's route to the offline Stripe stand-in (not installed in production).
    *([path("payments/offline-stripe/", include("offline.urls"))] if settings.STRIPE_OFFLINE else []),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("csp-report/", CspReportView.as_view(), name="csp-report"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's set-up script as a file: the policy admits no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^[\s\S]*$", views.api_not_found),  # any character, a newline (%0A) too
]

mfa = [
    path("enrol/", mfa_views.enrol, name="enrol"),
    path("verify/", mfa_views.verify, name="verify"),
]

urlpatterns = [
    # Before the admin's own: its pages send an operator without a verified second factor here.
    path("admin/mfa/", include((mfa, "mfa"))),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    # Everything else is a client-side route of the React app.
    re_path(r"^(?!api/|admin/|static/).*$", views.frontend_app, name="frontend"),
]
