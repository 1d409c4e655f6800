"""Fixtures. Integration fixtures start the real stack: localstripe, Celery worker processes
on the machine's Redis, pytest-django's live server on PostgreSQL, with localstripe's signed
webhooks pointed at the live server, and an SMTP server process the workers send email to.
Processes are started by offline/processes.py, as the benchmarks start theirs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from offline import localstripe as offline_localstripe
from offline import processes
from offline import smtp as offline_smtp
from offline.net import free_port
from offline.views import forward
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


def operator_login(client: Client, operator) -> TOTPDevice:
    """Logs a staff user in to the admin as it asks: the password, then a confirmed authenticator app
    verified in the session (core/mfa.py)."""
    device = TOTPDevice.objects.create(user=operator, name="Authenticator app", confirmed=True)
    client.force_login(operator)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture
def operator_user(db):
    return UserFactory(username="olga", is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(operator_user) -> Client:
    """A superuser's admin session with a verified second factor."""
    client = Client()
    operator_login(client, operator_user)
    return client


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Each test starts with no throttle count and no login lockout: the shared cache's keys are deleted
    (only those: the cache shares the test Redis database with the broker, so no FLUSHDB)."""
    cache = settings.CACHES["default"]
    client = redis.Redis.from_url(cache["LOCATION"])
    try:
        keys = list(client.scan_iter(f"{cache['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _no_wake_up_waiting():
    """Each test starts with the workers' doorbell unrung: a wake-up a test sent and nobody took (the broker's
    messages are not consumed) must not keep the next test's rows from waking a worker."""
    from payments.services import inbox

    inbox.stripe_events_answer_wake_up()


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Records the inbox rows handed to the broker, instead of sending them (the queue is not the subject):
    the rows the webhook wakes the workers for and the single sends of the sweeper and the operators."""
    from payments import queue
    from payments.services import inbox

    sent: list[int] = []
    monkeypatch.setattr(inbox, "stripe_events_wake_workers", lambda ids: sent.extend(ids))
    monkeypatch.setattr(queue, "stripe_event_process", lambda *, stripe_event_id: sent.append(stripe_event_id))
    return sent


@pytest.fixture
def tasks_in_process():
    """Tasks sent by name run at once, in this process (Celery's eager mode): for what a task does,
    where the queue is not the subject. Combine with `enqueued` to keep the inbox's own tasks."""
    from celery import current_app

    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = False


@pytest.fixture
def payment_tasks_in_process(monkeypatch):
    """The tasks fulfilment hands over after its commit (the email, the card's details) run at once in this
    process, through the services the worker's tasks call: for what a payment's change leads to."""
    from payments import queue
    from payments.services import notifications, receipts

    monkeypatch.setattr(
        queue,
        "notification_send",
        lambda *, notification_id: notifications.notification_send(notification_id=notification_id),
    )
    monkeypatch.setattr(
        queue,
        "charge_details_fetch",
        lambda *, payment_id: receipts.payment_charge_details_fetch(payment_id=payment_id),
    )


@pytest.fixture
def broker_down(monkeypatch):
    """The broker refuses every task, as Redis does when it is down."""
    from kombu.exceptions import OperationalError

    from payments import queue

    def refuse(**kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(queue, "stripe_event_process", refuse)
    monkeypatch.setattr(queue, "stripe_events_process", refuse)
    monkeypatch.setattr(queue, "stripe_events_retry", refuse)
    monkeypatch.setattr(queue, "notification_send", refuse)
    monkeypatch.setattr(queue, "notifications_send", refuse)


@pytest.fixture
def webhook_secret() -> str:
    return settings.STRIPE_WEBHOOK_SECRETS[0]


# --- the real stack ---------------------------------------------------------------------------


@dataclass
class LocalStripe:
    api_base: str
    process: subprocess.Popen

    def register_webhook(self, url: str, secret: str, name: str = "eventpay-tests") -> None:
        offline_localstripe.register_webhook(api_base=self.api_base, name=name, url=url, secret=secret)


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    port = free_port()
    process = processes.start_localstripe(
        port=port, log_path=tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    )
    api_base = f"http://127.0.0.1:{port}"
    previous = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = api_base
    yield LocalStripe(api_base=api_base, process=process)
    settings.STRIPE_API_BASE = previous
    processes.stop(process)


@dataclass
class SmtpServer:
    """A real SMTP server process (aiosmtpd) that keeps every message it receives."""

    port: int
    maildir: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self, *, to: str | None = None) -> list:
        return [m for m in offline_smtp.messages(self.maildir) if to is None or m["To"] == to]


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory) -> SmtpServer:
    directory = tmp_path_factory.mktemp("smtp")
    port = free_port()
    process = processes.start_smtp(port=port, maildir=directory / "mail", log_path=directory / "smtp.log")
    yield SmtpServer(port=port, maildir=directory / "mail", process=process)
    processes.stop(process)


@pytest.fixture
def smtp(smtp_server, settings) -> SmtpServer:
    """Email sent from this process goes to the SMTP server process (pytest-django's default is locmem)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    return smtp_server


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


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker, localstripe, smtp_server) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=_test_database_url(),
        STRIPE_API_BASE=localstripe.api_base,
        DATABASE_CONN_MAX_AGE="60",
        EMAIL_URL=smtp_server.url,
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
    process = processes.start_celery_worker(env=worker_env, log_path=log_path)
    yield WorkerProcess(process=process, env=worker_env, log_path=log_path)
    processes.stop(process)


@pytest.fixture
def celery_workers(tmp_path):
    """Starts Celery worker processes with a given environment; kills whatever still runs at the end.

    `celery_workers(env, name, concurrency=1, extra_args=())` returns the WorkerProcess once it consumes."""
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str], name: str, concurrency: int = 1, extra_args: tuple[str, ...] = ()) -> WorkerProcess:
        log_path = tmp_path / f"{name}.log"
        process = processes.start_celery_worker(
            env=env, log_path=log_path, name=name, concurrency=concurrency, extra_args=extra_args
        )
        started.append(process)
        return WorkerProcess(process=process, env=env, log_path=log_path)

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


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
    status, method = forward(
        "POST",
        "v1/payment_methods",
        {"type": "card", "card": {"number": card_number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}},
    )
    assert status == 200, method
    status, body = forward("POST", f"v1/payment_intents/{intent_id}", {"payment_method": method["id"]})
    assert status == 200, body
    return forward("POST", f"v1/payment_intents/{intent_id}/confirm", {})


def paid_payment(card: str = "4242424242424242"):
    """A new event's checkout, paid at localstripe as the browser would; returns (payment, intent)."""
    from payments.services import checkout

    event = EventFactory()
    started = checkout.checkout_start(user=event.owner, event_id=event.pk)
    status, intent = pay_at_localstripe(started.client_secret, card)
    assert status == 200, intent
    return started.payment, intent


def live_payment():
    """Paid at localstripe and applied through fulfilment: the event is live."""
    from payments.models import Payment
    from payments.services import reconciliation

    payment, _ = paid_payment()
    reconciliation.payment_reconcile(payment=payment)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and payment.event.is_active
    return payment
