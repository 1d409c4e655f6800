"""Login limits that hold: per (username, client) pair and per client, a softer one per username, on the
API and the admin, in a cache every process shares (Redis), with the client's address from the connection
unless it is a proxy of ours (TRUSTED_PROXY_NETWORKS); registration on a budget of its own."""

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.conftest import ROOT, _test_database_url
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LIMIT = 3


@pytest.fixture(autouse=True)
def _low_limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


def _login(username: str, password: str, *, ip: str = "203.0.113.7", **headers):
    return APIClient().post(
        reverse("login"), {"username": username, "password": password}, format="json", REMOTE_ADDR=ip, **headers
    )


def test_the_shared_cache_is_redis():
    # Counters in each process's memory would give every gunicorn process a budget of its own.
    assert isinstance(caches["default"], RedisCache)


def test_a_stranger_guessing_at_an_account_is_locked_out_and_its_owner_still_logs_in():
    # given: a stranger guessing at an account from one address
    owner = UserFactory()
    guesses = [_login(owner.username, "wrong-password", ip="198.51.100.1") for _ in range(LIMIT)]

    # when: the stranger, then the owner from their own address
    stranger = _login(owner.username, PASSWORD, ip="198.51.100.1")
    response = _login(owner.username, PASSWORD, ip="192.0.2.99")

    # then: the guess that reached the limit was answered 429 already
    assert [g.status_code for g in guesses] == [400] * (LIMIT - 1) + [429]
    assert stranger.status_code == 429, stranger.content
    assert "Too many failed logins" in stranger.json()["detail"]
    assert int(stranger["Retry-After"]) == int(django_settings.AXES_COOLOFF_TIME.total_seconds())
    assert response.status_code == 200, response.content


def test_guesses_during_a_lockout_do_not_extend_it(settings):
    # given: a short lockout, reached by a stranger
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    owner = UserFactory()
    for _ in range(LIMIT):
        _login(owner.username, "wrong-password", ip="198.51.100.1")

    # when: the stranger keeps guessing during the lockout, then once it has run out
    time.sleep(1)
    during = _login(owner.username, "wrong-password", ip="198.51.100.1")
    time.sleep(1.5)
    after = _login(owner.username, "wrong-password", ip="198.51.100.1")

    # then: the guess during the lockout was refused and did not start it again
    assert during.status_code == 429
    assert after.status_code == 400, after.content


def test_a_guess_spread_over_many_addresses_meets_the_softer_limit_per_username(settings):
    # given: a username limit higher than the pair's, and one guess from each of as many addresses
    settings.LOGIN_USERNAME_FAILURE_LIMIT = LIMIT + 2
    owner = UserFactory()
    with freeze_time("2031-01-01 12:00:10"):
        guesses = [_login(owner.username, "wrong-password", ip=f"198.51.100.{n}") for n in range(LIMIT + 2)]

        # when: the owner, from their own address, within the window
        locked = _login(owner.username, PASSWORD, ip="192.0.2.99")
        others = _login(UserFactory().username, PASSWORD, ip="192.0.2.99")

    # then: locked for the rest of the window only (it started at 12:00:00), then free again
    assert [g.status_code for g in guesses] == [400] * (LIMIT + 1) + [429]
    assert locked.status_code == 429, locked.content
    window = int(django_settings.LOGIN_USERNAME_LOCKOUT.total_seconds())
    assert int(locked["Retry-After"]) == window - 10
    assert others.status_code == 200
    with freeze_time("2031-01-01 12:00:00") as frozen:
        frozen.tick(window)
        assert _login(owner.username, PASSWORD, ip="192.0.2.99").status_code == 200


def test_a_client_is_locked_after_the_failure_limit_whichever_usernames_it_tries():
    # given: one address spraying a password over many accounts
    guesses = [_login(f"someone{n}", "Summer2031!").status_code for n in range(LIMIT)]
    bystander = UserFactory()

    # when: a correct login from that address
    locked = _login(bystander.username, PASSWORD)
    elsewhere = _login(bystander.username, PASSWORD, ip="192.0.2.50")

    # then: the address is locked, the account is not
    assert guesses == [400] * (LIMIT - 1) + [429]
    assert locked.status_code == 429
    assert elsewhere.status_code == 200, elsewhere.content


def test_the_token_endpoint_shares_the_lockout():
    victim = UserFactory()
    for _ in range(LIMIT):
        _login(victim.username, "wrong-password", ip="192.0.2.8")

    response = APIClient().post(
        reverse("token"), {"username": victim.username, "password": PASSWORD}, format="json", REMOTE_ADDR="192.0.2.8"
    )

    assert response.status_code == 429 and "detail" in response.json()


def test_the_admin_login_is_locked_out_too(client):
    # given
    staff = UserFactory(is_staff=True, is_superuser=True)
    for _ in range(LIMIT):
        client.post("/admin/login/", {"username": staff.username, "password": "wrong"}, REMOTE_ADDR="192.0.2.9")

    # when
    response = client.post(
        "/admin/login/?next=/admin/", {"username": staff.username, "password": PASSWORD}, REMOTE_ADDR="192.0.2.9"
    )

    # then: refused, not redirected into the admin
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_lockout_holds_in_every_process():
    # given: a client locked out by failures this process saw
    for _ in range(LIMIT):
        _login("shared-victim", "wrong-password", ip="192.0.2.77")

    # when: another process (another gunicorn worker) is asked to log it in
    code = (
        "import django; django.setup();"
        "from django.test.utils import setup_test_environment; setup_test_environment();"
        "from django.test import Client;"
        "r = Client().post('/api/auth/login/', {'username': 'shared-victim', 'password': 'x'},"
        " content_type='application/json', REMOTE_ADDR='192.0.2.77');"
        "print(r.status_code)"
    )
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "LOGIN_FAILURE_LIMIT": str(LIMIT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "429"


# Throttles and the client's address


@pytest.fixture
def tight_auth_throttle(monkeypatch, settings):
    # The throttle, not the lockout, is the subject here.
    settings.AXES_FAILURE_LIMIT = 100
    # DRF reads the rates (THROTTLE_AUTH, …) once, at import.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min", "register": "3/hour", "checkout": "30/min"}
    )


def test_a_forwarded_for_header_does_not_buy_a_client_new_budgets(tight_auth_throttle, settings):
    # given: gunicorn exposed directly (no proxy of ours): X-Forwarded-For is whatever the client wrote
    settings.TRUSTED_PROXY_NETWORKS = []

    # when: every request claims another address
    answers = [
        _login("nobody", "wrong", ip="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(4)
    ]

    # then
    assert answers == [400, 400, 400, 429]


def test_with_a_proxy_in_front_a_client_connecting_directly_is_not_believed(tight_auth_throttle, settings):
    # given: a proxy of ours in 10.0.0.0/24, and a client that reaches gunicorn without it
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/24"]

    # when: it writes the header a proxy would, naming another client each time
    answers = [
        _login("nobody", "wrong", ip="203.0.113.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(4)
    ]

    # then: one client, one budget
    assert answers == [400, 400, 400, 429]


def test_behind_a_proxy_the_address_it_saw_is_the_client(tight_auth_throttle, settings):
    # given: one proxy of ours in front; it appends the address it saw, clients may prepend anything
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/24"]
    proxy = "10.0.0.2"

    # when: one client varies what it prepends; another client comes through the same proxy
    first = [
        _login("nobody", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, 198.51.100.1").status_code
        for n in range(4)
    ]
    second = _login("nobody2", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")

    # then
    assert first == [400, 400, 400, 429]
    assert second.status_code == 400


def test_registration_has_a_per_client_budget_of_its_own(tight_auth_throttle):
    # given: one client probing which usernames exist
    taken = UserFactory()
    client = APIClient()
    body = {"username": taken.username, "email": "probe@example.com", "password": "a-long-enough-passphrase"}

    # when
    answers = [client.post(reverse("register"), body, format="json", REMOTE_ADDR="203.0.113.9") for _ in range(4)]

    # then: a few answers, then 429 for the rest of the hour
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert int(answers[3]["Retry-After"]) > 60


def test_a_taken_username_is_the_only_thing_registration_tells():
    # given: an existing account, and a registration reusing its email with a taken name
    taken = UserFactory()
    body = {"username": taken.username.upper(), "email": taken.email, "password": "a-long-enough-passphrase"}

    # when
    response = APIClient().post(reverse("register"), body, format="json")

    # then: nothing about the email, nothing echoed back
    assert response.status_code == 400
    assert response.json() == {
        "detail": "username: This username is not available.",
        "username": ["This username is not available."],
    }
