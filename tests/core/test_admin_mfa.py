"""Operators' second factor: enrolment, the code at each admin log-in, recovery codes, and the admin closed to
an operator whose session has none verified."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time

from core.mfa import RECOVERY_CODE_COUNT, recovery_codes_create
from payments.consts import StripeEventType
from payments.models import StripeEvent
from tests.core.test_deploy import production_env, run_python
from tests.factories import PaymentFactory, UserFactory, payment_intent_object, stored_stripe_event

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ENROL = reverse("mfa:enrol")
VERIFY = reverse("mfa:verify")
INBOX = reverse("admin:payments_stripeevent_changelist")
STEP = timedelta(seconds=30)


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def _wrong_code(device: TOTPDevice) -> str:
    return f"{(int(_code(device)) + 500_000) % 1_000_000:06d}"


def _password_login(client: Client, username: str) -> None:
    response = client.post(reverse("admin:login"), {"username": username, "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 302, response.content.decode()


def _enrolled_operator(**fields) -> tuple:
    operator = UserFactory(is_staff=True, is_superuser=True, **fields)
    return operator, TOTPDevice.objects.create(user=operator, name="Authenticator app", confirmed=True)


def test_an_operator_without_a_second_factor_can_neither_see_nor_act_in_the_admin(enqueued):
    # given: a superuser logged in with the password only, and a failed webhook row to retry
    row = stored_stripe_event(
        StripeEventType.PAYMENT_INTENT_SUCCEEDED,
        payment_intent_object(PaymentFactory()),
        status=StripeEvent.Status.FAILED,
    )
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    # when
    pages = [client.get(url) for url in ("/admin/", INBOX, reverse("admin:payments_stripeevent_change", args=[row.pk]))]
    posted = client.post(INBOX, {"action": "retry_processing", "_selected_action": [row.pk]})

    # then: every answer sends the operator to enrol; nothing ran
    assert {p.status_code for p in [*pages, posted]} == {302}
    assert all(p["Location"].startswith(f"{ENROL}?next=") for p in [*pages, posted])
    assert enqueued == [] and StripeEvent.objects.get(pk=row.pk).status == StripeEvent.Status.FAILED


def test_an_operator_enrols_an_app_sees_the_recovery_codes_once_then_uses_the_admin():
    # given
    operator = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    _password_login(client, operator.username)
    start = timezone.now()

    # when: the admin sends them to enrol, and they type a wrong code, then the app's
    with freeze_time(start) as clock:
        sent = client.get("/admin/")
        page = client.get(sent["Location"])
        device = TOTPDevice.objects.get(user=operator, confirmed=False)
        wrong = client.post(ENROL, {"code": _wrong_code(device), "next": "/admin/"})
        clock.tick(2)  # django-otp makes a second try after a wrong one wait a second
        right = client.post(ENROL, {"code": _code(device), "next": "/admin/"})
    with freeze_time(start + STEP):
        admin = client.get("/admin/")
        again = client.get(ENROL)

    # then: the QR code is drawn in the page (nothing fetched) with the secret beside it as text
    html = page.content.decode()
    assert page.status_code == 200 and re.search(r'<div class="mfa-qr-code"><svg [^>]*>\s*<rect', html)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count("<script") == html.count("<script src=")  # no inline script: the policy refuses them
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "".join(re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', html)[1].split()) in device.config_url
    assert wrong.status_code == 400 and "not the app" in wrong.content.decode()
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", right.content.decode())
    assert right.status_code == 200 and len(codes) == RECOVERY_CODE_COUNT
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert set(StaticDevice.objects.get(user=operator).token_set.values_list("token", flat=True)) == set(codes)
    assert admin.status_code == 200
    assert again.status_code == 302 and again["Location"].startswith(VERIFY)  # the codes are not shown again


def test_each_new_admin_log_in_asks_for_the_apps_code():
    # given
    operator, device = _enrolled_operator()
    client = Client()
    start = timezone.now()

    # when
    with freeze_time(start) as clock:
        _password_login(client, operator.username)
        asked = client.get("/admin/")
        wrong = client.post(VERIFY, {"code": _wrong_code(device), "next": "/admin/"})
        clock.tick(2)
        right = client.post(VERIFY, {"code": _code(device), "next": "/admin/"})
        admin = client.get("/admin/")
    client.post(reverse("admin:logout"))
    with freeze_time(start + STEP):
        _password_login(client, operator.username)
        asked_again = client.get("/admin/")

    # then
    assert asked.status_code == 302 and asked["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    assert wrong.status_code == 400 and "not valid" in wrong.content.decode()
    assert right.status_code == 302 and right["Location"] == "/admin/"
    assert admin.status_code == 200
    assert asked_again.status_code == 302 and asked_again["Location"].startswith(VERIFY)


def test_a_recovery_code_lets_an_operator_in_once():
    # given
    operator, _ = _enrolled_operator()
    code = recovery_codes_create(user=operator)[0]
    first, second = Client(), Client()
    _password_login(first, operator.username)
    _password_login(second, operator.username)

    # when
    used = first.post(VERIFY, {"code": code.upper(), "next": "/admin/"})
    reused = second.post(VERIFY, {"code": code, "next": "/admin/"})

    # then
    assert used.status_code == 302 and first.get("/admin/").status_code == 200
    assert reused.status_code == 400 and second.get("/admin/").status_code == 302


def test_malformed_codes_and_foreign_next_addresses_are_answered_not_followed():
    # given
    operator, device = _enrolled_operator()
    client = Client()
    _password_login(client, operator.username)

    # when
    empty = client.post(VERIFY, {})
    long = client.post(VERIFY, {"code": "9" * 500})
    right = client.post(VERIFY, {"code": _code(device), "next": "https://evil.example/"})

    # then
    assert empty.status_code == 400 and "required" in empty.content.decode()
    assert long.status_code == 400 and "at most" in long.content.decode()
    assert right.status_code == 302 and right["Location"] == "/admin/"


def test_the_second_factor_pages_are_for_logged_in_staff_only():
    organiser = Client()
    organiser.force_login(UserFactory())

    for client in (Client(), organiser):
        for url in (ENROL, VERIFY):
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    assert not TOTPDevice.objects.exists()


def test_the_demo_operator_is_exempt_only_offline_with_debug_on(settings):
    # given: as `make run` sets it up (pytest-django turns DEBUG off for tests: on again here)
    settings.DEBUG, settings.STRIPE_OFFLINE, settings.MFA_EXEMPT_USERNAME = True, True, "demo"
    client = Client()
    client.force_login(UserFactory(username="demo", is_staff=True, is_superuser=True))

    # when
    demo = client.get("/admin/")
    settings.DEBUG = False
    without_debug = client.get("/admin/")
    settings.DEBUG, settings.STRIPE_OFFLINE = True, False
    with_real_stripe = client.get("/admin/")

    # then
    assert demo.status_code == 200
    assert without_debug.status_code == 302 and without_debug["Location"].startswith(ENROL)
    assert with_real_stripe.status_code == 302 and with_real_stripe["Location"].startswith(ENROL)


@pytest.mark.parametrize(
    "overrides",
    [
        {"STRIPE_SECRET_KEY": "sk_offline_eventpay"},  # production, even with the offline key
        {"DJANGO_DEBUG": "true", "STRIPE_SECRET_KEY": "sk_test_deploy"},  # DEBUG on, but a real Stripe key
    ],
)
def test_settings_name_no_exempt_operator_outside_offline_development(overrides):
    code = "import json; from django.conf import settings as s; print(json.dumps(s.MFA_EXEMPT_USERNAME))"

    result = run_python(code, production_env(MFA_EXEMPT_USERNAME="demo", **overrides))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ""
