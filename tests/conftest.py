"""Fixtures. Integration fixtures start the real stack: localstripe, a Celery worker process
on the machine's Redis, pytest-django's live server on PostgreSQL, with localstripe's signed
webhooks pointed at the live server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from rest_framework.test import APIClient

from core import offline
from payments import stripe_gateway
from tests.factories import EventFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.1, message: str = ""):
    """Polls until `predicate()` is truthy and returns its value; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or predicate}")
        time.sleep(interval)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def event(user):
    return EventFactory(owner=user)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_throttles():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Records the inbox rows handed to the broker, instead of sending them (the queue is not the subject)."""
    from worker.tasks import process_stripe_event

    sent: list[int] = []
    monkeypatch.setattr(process_stripe_event, "delay", lambda stripe_event_id: sent.append(stripe_event_id))
    return sent


@pytest.fixture
def webhook_secret() -> str:
    return settings.STRIPE_WEBHOOK_SECRETS[0]


# --- the real stack ---------------------------------------------------------------------------


@dataclass
class LocalStripe:
    api_base: str
    process: subprocess.Popen

    def register_webhook(self, url: str, secret: str, name: str = "eventpay-tests") -> None:
        offline.register_webhook(api_base=self.api_base, name=name, url=url, secret=secret)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    port = offline.free_port()
    log = (tmp_path_factory.mktemp("localstripe") / "localstripe.log").open("w")
    process = offline.start_localstripe(port=port, state_file=None, stdout=log, stderr=subprocess.STDOUT)
    api_base = f"http://127.0.0.1:{port}"
    previous = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = api_base
    yield LocalStripe(api_base=api_base, process=process)
    settings.STRIPE_API_BASE = previous
    process.terminate()
    process.wait(timeout=10)


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql", "integration tests need PostgreSQL: run `make test`"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass
class WorkerProcess:
    process: subprocess.Popen
    env: dict[str, str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(env: dict[str, str], log_path: Path, *, concurrency: int = 2, extra: list[str] = ()) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel", "INFO",
        "--concurrency", str(concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat", *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("a"), stderr=subprocess.STDOUT)
    wait_until(lambda: "ready." in log_path.read_text(errors="replace") or process.poll() is not None, timeout=30)
    assert process.poll() is None, log_path.read_text()
    return process


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, localstripe) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_test_database_url(),
        STRIPE_API_BASE=localstripe.api_base,
        DATABASE_CONN_MAX_AGE="60",
    )
    return env


@pytest.fixture(scope="session")
def broker(worker_env):
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def worker_process(worker_env, broker, tmp_path_factory):
    """A real Celery worker (prefork, 2 processes) on the test database and the test Redis database."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker(worker_env, log_path)
    yield WorkerProcess(process=process, env=worker_env, log_path=log_path)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Stack:
    url: str
    localstripe: LocalStripe
    worker: WorkerProcess

    def session(self) -> requests.Session:
        """An HTTP client like a browser: session cookie and the CSRF header on unsafe methods."""
        http = BrowserLikeSession()
        http.get(f"{self.url}/api/auth/csrf/", timeout=10).raise_for_status()
        return http


class BrowserLikeSession(requests.Session):
    def request(self, method, url, **kwargs):
        # Django rotates the CSRF token at login: read the cookie for every request, as the frontend does.
        headers = kwargs.setdefault("headers", {})
        if "csrftoken" in self.cookies:
            headers.setdefault("X-CSRFToken", self.cookies["csrftoken"])
        kwargs.setdefault("timeout", 15)
        return super().request(method, url, **kwargs)


DISCARD_URL = "http://127.0.0.1:9/"  # nothing listens: deliveries fail, as when our endpoint is down


@pytest.fixture
def webhooks_off(localstripe, webhook_secret) -> LocalStripe:
    """localstripe works, but its webhooks reach nobody (tests that must see no delivery)."""
    localstripe.register_webhook(DISCARD_URL, webhook_secret)
    return localstripe


@pytest.fixture
def stack(live_server, localstripe, worker_process, webhook_secret) -> Stack:
    """The whole product: live server, worker process, localstripe sending signed webhooks to us."""
    localstripe.register_webhook(f"{live_server.url}/api/payments/webhook/", webhook_secret)
    return Stack(url=live_server.url, localstripe=localstripe, worker=worker_process)


def pay_at_localstripe(client_secret: str, card_number: str) -> tuple[int, dict]:
    """Does what the browser's Stripe.js does on "Pay": create a card payment method, set it, confirm."""
    intent_id = client_secret.split("_secret_")[0]
    status, method = stripe_gateway.offline_request(
        "POST",
        "v1/payment_methods",
        {"type": "card", "card": {"number": card_number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}},
    )
    assert status == 200, method
    status, body = stripe_gateway.offline_request("POST", f"v1/payment_intents/{intent_id}", {"payment_method": method["id"]})
    assert status == 200, body
    return stripe_gateway.offline_request("POST", f"v1/payment_intents/{intent_id}/confirm", {})
