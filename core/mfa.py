"""Operators' second factor (django-otp): an authenticator app (TOTP) and single-use recovery codes.

Staff who are logged in to the admin with a password are sent to enrol a device (core/mfa_views.py) or, once
they have one, to give a code; until the session is verified no other admin page or action answers them.
Each admin log-in asks again: logging out ends the session and the device recorded in it.
"""

import base64
import functools
from collections.abc import Callable

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import devices_for_user, verify_token
from django_otp.middleware import OTPMiddleware
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_COUNT = 10
TOTP_DIGITS = 6
DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def operator_is_exempt(*, user: AbstractBaseUser | AnonymousUser) -> bool:
    """The demo login of `make run` keeps its one-line log-in: only with DEBUG on and the offline Stripe
    stand-in's key, so a production site (DEBUG off, a real key) exempts nobody whatever the setting says."""
    username = settings.MFA_EXEMPT_USERNAME
    return bool(username) and settings.DEBUG and settings.STRIPE_OFFLINE and user.get_username() == username


def operator_has_device(*, user: AbstractBaseUser) -> bool:
    return any(isinstance(d, TOTPDevice) for d in devices_for_user(user, confirmed=True))


def totp_device_pending(*, user: AbstractBaseUser) -> TOTPDevice:
    """The device being enrolled: its secret stays the same across reloads of the page until confirmed."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, confirmed=False, defaults={"name": DEVICE_NAME})
    return device


def totp_secret_text(*, device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_code_svg(*, device: TOTPDevice) -> str:
    """The device's otpauth:// address as an inline SVG QR code, drawn here (nothing is fetched)."""
    # On white whatever the admin's theme, so that a phone's camera reads it.
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathFillImage)
    return str(image.to_string(encoding="unicode"))


@transaction.atomic
def totp_device_confirm(*, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirms the device if the code is right, and gives the operator new recovery codes (returned this
    once; earlier ones stop working). None if the code is wrong."""
    if not device.verify_token(token.strip()):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_create(user=device.user)


@transaction.atomic
def recovery_codes_create(*, user: AbstractBaseUser) -> list[str]:
    recovery, _ = StaticDevice.objects.get_or_create(user=user, defaults={"name": RECOVERY_DEVICE_NAME})
    recovery.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    return codes


def operator_device_verify(*, user: AbstractBaseUser, token: str) -> Device | None:
    """The device that accepts the code: the app's current code, or a recovery code (deleted as it is used,
    so each works once). Each device slows down repeated failures (django-otp's throttling)."""
    token = token.strip().replace(" ", "").lower()
    # A code tried only where it can match: a wrong try slows the device down.
    kind = TOTPDevice if token.isdigit() and len(token) == TOTP_DIGITS else StaticDevice
    for device in devices_for_user(user, confirmed=True):
        if not isinstance(device, kind):
            continue
        verified: Device | None = verify_token(user, device.persistent_id, token)
        if verified is not None:
            return verified
    return None


class AdminSecondFactorMiddleware(OTPMiddleware):
    """django-otp's middleware (request.user.is_verified()), plus the admin's gate: a logged-in operator
    whose session has no verified device is sent to enrol one or to give a code, whatever admin page or
    action was asked for (a POST runs nothing)."""

    async_capable = False  # the gate below is synchronous; Django adapts around it under ASGI

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(functools.partial(self.require_second_factor, get_response))

    @staticmethod
    def require_second_factor(
        get_response: Callable[[HttpRequest], HttpResponse], request: HttpRequest
    ) -> HttpResponse:
        if not request.path.startswith(reverse("admin:index")):  # every other request (the webhook's): one reverse
            return get_response(request)
        if request.path in {reverse(name) for name in ("mfa:enrol", "mfa:verify", "admin:login", "admin:logout")}:
            return get_response(request)
        user = request.user
        if (
            not (user.is_authenticated and user.is_staff)
            or getattr(user, "otp_device", None) is not None  # what OTPMiddleware's user.is_verified() reads
            or operator_is_exempt(user=user)
        ):
            return get_response(request)
        step = "mfa:verify" if operator_has_device(user=user) else "mfa:enrol"
        return redirect(f"{reverse(step)}?{urlencode({'next': request.get_full_path()})}")
