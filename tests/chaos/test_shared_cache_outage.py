"""Sign-up and log-in while the shared cache's Redis loads its data after a restart, then while it is down:
clear answers, never a 500, and the limits still hold, counted in the web process's own memory meanwhile
(core/cache.py). The web app runs under gunicorn, one process, on the chaos stack's private Redis."""

import re
import time

import pytest
import requests

from tests.conftest import BrowserLikeSession

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"
# Budgets the test reaches: two sign-ups and two failed logins per client; Redis asked again soon after a failure.
LIMITS = {"THROTTLE_REGISTER": "2/hour", "LOGIN_FAILURE_LIMIT": "2", "SHARED_CACHE_RETRY_SECONDS": "0.5"}


def _sign_up(web_url: str, username: str) -> requests.Response:
    http = BrowserLikeSession()
    http.get(f"{web_url}/api/auth/csrf/").raise_for_status()
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    return http.post(f"{web_url}/api/auth/register/", json=body)


def _token(web_url: str, username: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(f"{web_url}/api/auth/token/", json={"username": username, "password": password}, timeout=15)


def _password_reset(web_url: str) -> requests.Response:
    return requests.post(f"{web_url}/api/auth/password/reset/", json={"email": "ada@example.com"}, timeout=15)


def test_sign_up_and_log_in_answer_while_the_shared_cache_loads_or_is_down_and_the_limits_still_hold(chaos):
    chaos.env.update(LIMITS)
    web = chaos.start_web()

    # when: Redis restarts and loads its data (it answers every command with LOADING meanwhile), for long
    # enough that a sign-up and a log-in (two password hashes) end before it does on a busy machine
    chaos.redis.restart(loading_seconds=10)
    assert chaos.redis.loading()
    signed_up = _sign_up(web, "ada")
    token = _token(web, "ada")
    assert chaos.redis.loading(), "Redis had loaded before the answers"

    # then: both answer as they always do
    assert signed_up.status_code == 201, signed_up.text
    assert token.status_code == 200 and token.json()["token"], token.text

    # when: Redis has loaded (the web asks it again and finds it back), then is stopped
    chaos.redis.wait_loaded(timeout=60)
    time.sleep(0.6)
    assert _password_reset(web).status_code == 202
    chaos.redis.stop()
    reset = _password_reset(web)
    sign_ups = [_sign_up(web, username) for username in ("grace", "linus")]
    guesses = [_token(web, "ada", "wrong-password") for _ in range(2)]
    owner = _token(web, "ada")

    # then: clear answers, never a 500; the budgets hold, counted by the web process: the sign-up while Redis
    # loaded and one now fill the budget of two, the next is refused with Retry-After; the second wrong
    # password locks this client out of the account, the right one included
    assert reset.status_code == 202, reset.text
    assert [response.status_code for response in sign_ups] == [201, 429], sign_ups[-1].text
    assert int(sign_ups[-1].headers["Retry-After"]) > 0
    assert [guess.status_code for guess in guesses] == [400, 429], guesses[-1].text
    assert owner.status_code == 429 and int(owner.headers["Retry-After"]) > 0, owner.text
    assert "Too many failed logins" in owner.json()["detail"]

    # ... and the operators are told: a counter for the alert, a log line where each outage starts and ends
    metrics = requests.get(f"{web}/api/metrics", timeout=15).text
    assert re.search(r'eventpay_shared_cache_fallbacks_total\{operation="get"\} [1-9]', metrics), metrics
    log = (chaos.tmp / "web.log").read_text(errors="replace")
    for line in ("cannot answer (BusyLoadingError)", "answers again", "cannot answer (ConnectionError)"):
        assert line in log, log[-3000:]
