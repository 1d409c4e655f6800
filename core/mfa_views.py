"""The admin's second-factor pages: enrol an authenticator app (then see the recovery codes once), and give
a code at each log-in. core/mfa.py holds the rules and the gate that sends operators here."""

from typing import cast

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from core.mfa import (
    RECOVERY_CODE_COUNT,
    operator_device_verify,
    operator_has_device,
    totp_device_confirm,
    totp_device_pending,
    totp_qr_code_svg,
    totp_secret_text,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("admin:index")


def _page(request: HttpRequest, template: str, status: int = 200, **context: object) -> HttpResponse:
    context = {**admin.site.each_context(request), "next": _next_url(request), **context}
    return render(request, f"core/mfa/{template}", context, status=status)


def _step(request: HttpRequest, name: str) -> HttpResponse:
    return redirect(f"{reverse(name)}?{urlencode({'next': _next_url(request)})}")


def _operator(request: HttpRequest) -> AbstractBaseUser:
    # staff_member_required let only a logged-in operator in: never the anonymous user.
    return cast(AbstractBaseUser, request.user)


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required
def enrol(request: HttpRequest) -> HttpResponse:
    user = _operator(request)
    if operator_has_device(user=user):
        return _step(request, "mfa:verify")
    device = totp_device_pending(user=user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        codes = totp_device_confirm(device=device, token=form.cleaned_data["code"])
        if codes is not None:
            otp_login(request, device)
            return _page(request, "recovery_codes.html", title="Your recovery codes", codes=codes)
        form.add_error("code", "That code is not the app's current one. Check the clock of the phone and try again.")
    return _page(
        request,
        "enrol.html",
        status=400 if form.errors else 200,
        title="Set up two-factor authentication",
        form=form,
        qr_code=mark_safe(totp_qr_code_svg(device=device)),  # nosec B308 B703: SVG drawn by qrcode from our own data
        secret=totp_secret_text(device=device),
        recovery_code_count=RECOVERY_CODE_COUNT,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@staff_member_required
def verify(request: HttpRequest) -> HttpResponse:
    user = _operator(request)
    if not operator_has_device(user=user):
        return _step(request, "mfa:enrol")
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        device = operator_device_verify(user=user, token=form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            return redirect(_next_url(request))
        form.add_error("code", "That code is not valid (each recovery code works once). Wait a moment, then retry.")
    return _page(
        request, "verify.html", status=400 if form.errors else 200, title="Two-factor authentication", form=form
    )
