from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from core import auth_views, metrics, views

api = [
    path("health/", views.health, name="health"),
    path("ready/", views.ready, name="ready"),
    path("auth/csrf/", views.csrf, name="csrf"),
    path("auth/register/", auth_views.RegisterView.as_view(), name="register"),
    path("auth/login/", auth_views.LoginView.as_view(), name="login"),
    path("auth/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("auth/logout-everywhere/", auth_views.LogoutEverywhereView.as_view(), name="logout-everywhere"),
    path("auth/password/change/", auth_views.PasswordChangeView.as_view(), name="password-change"),
    path("auth/password/reset/", auth_views.PasswordResetRequestView.as_view(), name="password-reset"),
    path("auth/password/reset/confirm/", auth_views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("auth/email/verify/", auth_views.EmailVerifyView.as_view(), name="email-verify"),
    path("auth/email/resend/", auth_views.EmailVerificationResendView.as_view(), name="email-resend"),
    path("auth/me/", auth_views.MeView.as_view(), name="me"),
    path("auth/token/", auth_views.TokenView.as_view(), name="token"),
    path("", include("events.urls")),
    path("payments/", include("payments.urls")),
    # Development only: the browser's route to the offline Stripe stand-in (not installed in production).
    *([path("payments/offline-stripe/", include("offline.urls"))] if settings.STRIPE_OFFLINE else []),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^[\s\S]*$", views.api_not_found),  # any character, a newline (%0A) too
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    # Everything else is a client-side route of the React app.
    re_path(r"^(?!api/|admin/|static/).*$", views.frontend_app, name="frontend"),
]
