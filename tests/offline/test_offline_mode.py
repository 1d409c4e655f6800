"""Offline mode (the stand-in's browser route, the demo superuser) is switched on by the stand-in's own
key only: never with a Stripe test or live key, whatever STRIPE_API_BASE says."""

import importlib
import runpy

import pytest
from django.test import Client
from django.urls import clear_url_caches, resolve

import core.urls
from core import settings as settings_module
from offline import SECRET_KEY
from offline import run as make_run

KEYS = ["sk_test_51Real", "sk_live_51Real"]


def _settings_with(monkeypatch, **env) -> dict:
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(settings_module.__file__)


@pytest.mark.parametrize("key", KEYS)
def test_settings_never_switch_offline_mode_on_for_a_stripe_key(monkeypatch, key):
    # given: a real key, even with the stand-in's address configured
    values = _settings_with(monkeypatch, STRIPE_SECRET_KEY=key, STRIPE_API_BASE="http://127.0.0.1:8420")

    # then
    assert values["STRIPE_OFFLINE"] is False
    assert values["STRIPE_PUBLISHABLE_KEY"] == ""


def test_the_stand_ins_own_key_switches_offline_mode_on(monkeypatch):
    values = _settings_with(monkeypatch, STRIPE_SECRET_KEY=SECRET_KEY)

    assert values["STRIPE_OFFLINE"] is True
    assert values["STRIPE_API_BASE"] == "http://127.0.0.1:8420"


@pytest.fixture
def urls_reloaded(settings):
    """core/urls.py read again with the settings under test, and as it was afterwards."""

    def reload():
        importlib.reload(core.urls)
        clear_url_caches()

    yield reload
    settings.STRIPE_OFFLINE = True
    reload()


@pytest.mark.django_db
@pytest.mark.parametrize("key", KEYS)
def test_with_a_stripe_key_the_browser_route_to_the_stand_in_is_not_mounted(settings, urls_reloaded, key):
    # given: the URLconf as production loads it with a real key
    settings.STRIPE_SECRET_KEY, settings.STRIPE_OFFLINE = key, False
    urls_reloaded()
    path = "/api/payments/offline-stripe/v1/payment_intents/pi_1"

    # when
    match = resolve(path)
    response = Client().get(path)
    script = Client().get("/api/payments/offline-stripe/js.stripe.com/v3/")

    # then: the API's catch-all answers, not the proxy
    assert match.url_name != "offline-stripe"
    assert response.status_code == script.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_in_offline_mode_the_route_is_mounted(settings, urls_reloaded):
    settings.STRIPE_SECRET_KEY, settings.STRIPE_OFFLINE = SECRET_KEY, True
    urls_reloaded()

    assert resolve("/api/payments/offline-stripe/v1/payment_intents/pi_1").url_name == "offline-stripe"


# `make run` (offline/run.py)


@pytest.mark.parametrize("key", KEYS)
def test_make_run_creates_no_demo_superuser_with_a_stripe_key(key):
    # when
    commands = make_run.setup_commands("python", {"STRIPE_SECRET_KEY": key})

    # then: migrations only
    assert commands == [["python", "manage.py", "migrate", "--no-input"]]
    assert make_run.offline_mode({"STRIPE_SECRET_KEY": key}) is False


@pytest.mark.parametrize("env", [{}, {"STRIPE_SECRET_KEY": ""}, {"STRIPE_SECRET_KEY": SECRET_KEY}])
def test_make_run_creates_the_demo_login_offline(env):
    commands = make_run.setup_commands("python", env)

    assert ["python", "-m", "offline.demo", make_run.DEMO_USERNAME, make_run.DEMO_PASSWORD] in commands
