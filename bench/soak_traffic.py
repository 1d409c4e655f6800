"""The soak's steady mixed traffic, from threads of the harness process, each at a bounded rate.

- organisers sign up through the API, take a token, create an event, open a checkout and pay at
  localstripe (a declined card one time in four; half of those try again with a good card), whose
  signed webhooks reach the product as Stripe's would;
- a stream of signed webhooks for payments seeded in the database, as the burst does (bench/events.py):
  declines, successes, full refunds and ignored types, with duplicates and in shuffled order;
- anonymous visitors read the public list; an operator re-runs failed inbox rows and reconciles.

Every answer is counted by status class; webhook latencies are kept per sampling window. What was sent
is kept in a ledger, so that the end can count what was lost or doubled.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import random
import re
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import requests

from bench.events import PaymentPlan, burst_plans, sign
from bench.harness import BIN, ROOT
from bench.soak_stack import WEBHOOK_SECRET, SoakStack

GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
DUPLICATE_SHARE = 0.2
STREAM_PAYMENTS_PER_BATCH = 5  # 20 unique events, 25 deliveries


@dataclass(frozen=True)
class ServerError:
    """One 5xx answer: when (seconds since the ledger started, and the clock), to what, and whether it said
    when to try again."""

    at_s: float
    clock: str
    what: str
    status: int
    retry_after: bool

    def __str__(self) -> str:
        said = ", Retry-After" if self.retry_after else ", no Retry-After"
        return f"{self.clock} (minute {self.at_s / 60:.1f}) {self.what} {self.status}{said}"


@dataclass
class Ledger:
    """What the traffic did, counted as it went; shared by every traffic thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.monotonic)
    statuses: Counter[str] = field(default_factory=Counter)  # "2xx", "4xx", "5xx", "error" (no answer)
    server_errors: list[ServerError] = field(default_factory=list)
    unanswered: Counter[str] = field(default_factory=Counter)  # requests that got no answer, by what they were
    webhook_ms: list[float] = field(default_factory=list)
    plans: dict[str, PaymentPlan] = field(default_factory=dict)  # the stream's payments by PaymentIntent
    event_ids: set[str] = field(default_factory=set)  # the stream's unique Stripe event ids
    deliveries: int = 0
    paid_events: dict[int, bool] = field(default_factory=dict)  # organisers' events: should be live?
    organiser_failures: Counter[str] = field(default_factory=Counter)
    operator_runs: Counter[str] = field(default_factory=Counter)

    def answered(self, what: str, response: requests.Response | None, ms: float | None = None) -> None:
        with self.lock:
            if response is None:
                self.statuses["error"] += 1
                self.unanswered[what] += 1
            else:
                status = response.status_code
                self.statuses[f"{status // 100}xx"] += 1
                if status >= 500:
                    self.server_errors.append(ServerError(
                        at_s=time.monotonic() - self.started, clock=time.strftime("%H:%M:%S"), what=what,
                        status=status, retry_after="Retry-After" in response.headers,
                    ))  # fmt: skip
            if ms is not None:
                self.webhook_ms.append(ms)

    def take_webhook_window(self) -> tuple[float | None, float | None]:
        """p50 and p99 of the webhook deliveries answered since the last call."""
        with self.lock:
            window, self.webhook_ms = self.webhook_ms, []
        if len(window) < 2:
            return (window[0], window[0]) if window else (None, None)
        cuts = statistics.quantiles(window, n=100)
        return cuts[49], cuts[98]


_local = threading.local()


def _http() -> requests.Session:
    """One keep-alive session per thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _call(ledger: Ledger, what: str, method: str, url: str, **kwargs) -> requests.Response | None:
    try:
        response = _http().request(method, url, timeout=15, **kwargs)
    except requests.RequestException:
        ledger.answered(what, None)
        return None
    ledger.answered(what, response)
    return response


def post_delivery(stack: SoakStack, ledger: Ledger, body: str) -> int | None:
    """One signed delivery, signed as it leaves (the product refuses a timestamp over 300 s old)."""
    delivery = sign(body, WEBHOOK_SECRET)
    start = time.perf_counter()
    try:
        response = _http().post(f"http://127.0.0.1:{stack.web_port}/api/payments/webhook/", data=body.encode(),
                                headers={"Content-Type": "application/json", "Stripe-Signature": delivery.signature},
                                timeout=15)  # fmt: skip
    except requests.RequestException:
        ledger.answered("webhook", None)
        return None
    ledger.answered("webhook", response, (time.perf_counter() - start) * 1000)
    return response.status_code


def seed_payments(count: int, prefix: str) -> list[tuple[int, int, str]]:
    """Pending payments for new events of the stream's organiser, as checkout would have left them."""
    from django.contrib.auth import get_user_model
    from django.db import close_old_connections
    from django.utils import timezone

    from events.models import Event
    from payments.models import Payment

    close_old_connections()  # this thread's connection may have been cut by a fault since its last use
    from core.models import VerifiedEmail

    user, _ = get_user_model().objects.get_or_create(username="soak-stream", defaults={"email": "stream@soak.test"})
    VerifiedEmail.objects.get_or_create(user=user, defaults={"email": user.email})
    starts = timezone.now() + dt.timedelta(days=30)
    events = Event.objects.bulk_create(
        [Event(owner=user, title=f"{prefix} {i}", starts_at=starts) for i in range(count)]
    )
    payments = Payment.objects.bulk_create([
        Payment(user=user, event=e, payment_intent_id=f"pi_{prefix}{uuid.uuid4().hex[:20]}", amount=1500, currency="usd")
        for e in events
    ])  # fmt: skip
    return [(p.pk, p.event_id, p.payment_intent_id or "") for p in payments]


def stream_deliveries(ledger: Ledger, payments: int, rng: random.Random, prefix: str) -> list[str]:
    """Seeded payments' events with duplicates, shuffled; recorded in the ledger before any is sent."""
    plans = burst_plans(seed_payments(payments, prefix), amount=1500, currency="usd", rng=rng)
    unique = [body for plan in plans for body in plan.bodies]
    bodies = unique + rng.choices(unique, k=round(len(unique) / (1 - DUPLICATE_SHARE)) - len(unique))
    rng.shuffle(bodies)
    with ledger.lock:
        ledger.plans.update((plan.payment_intent_id, plan) for plan in plans)
        ledger.event_ids.update(_event_id(body) for body in unique)
        ledger.deliveries += len(bodies)
    return bodies


def _event_id(body: str) -> str:
    # bench/events.py writes the id on the second line: `  "id": "evt_…",`
    return body.split('"id": "', 1)[1].split('"', 1)[0]


def organiser(stack: SoakStack, ledger: Ledger, rng: random.Random) -> None:
    """One organiser's whole path, as the frontend and Stripe.js take it."""
    from offline.views import forward

    base = f"http://127.0.0.1:{stack.web_port}/api"
    name = f"org{uuid.uuid4().hex[:12]}"
    password = f"Soak-{uuid.uuid4().hex}"
    csrf = _call(ledger, "csrf", "GET", f"{base}/auth/csrf/")
    token_cookie = csrf.cookies.get("csrftoken") if csrf is not None else None
    if token_cookie is None:
        ledger.organiser_failures["csrf"] += 1
        return
    # Production cookies are Secure: a plain-HTTP client sends them by hand, as a proxy in front would pass them.
    registered = _call(ledger, "register", "POST", f"{base}/auth/register/",
                       json={"username": name, "email": f"{name}@soak.test", "password": password},
                       headers={"X-CSRFToken": token_cookie, "Cookie": f"csrftoken={token_cookie}"})  # fmt: skip
    token = _call(ledger, "token", "POST", f"{base}/auth/token/", json={"username": name, "password": password})
    if registered is None or registered.status_code != 201 or token is None or token.status_code != 200:
        ledger.organiser_failures["sign-up"] += 1
        return
    auth = {"Authorization": f"Token {token.json()['token']}"}
    key = _verification_key(stack, f"{name}@soak.test")
    verified = key and _call(ledger, "verify email", "POST", f"{base}/auth/email/verify/", json={"key": key})
    if not verified or verified.status_code != 204:
        ledger.organiser_failures["verify email"] += 1
        return
    starts = (dt.datetime.now(dt.UTC) + dt.timedelta(days=rng.randint(2, 90))).isoformat()
    event = _call(ledger, "create event", "POST", f"{base}/events/", headers=auth,
                  json={"title": f"Soak {name}", "starts_at": starts, "location": "Lisbon"})  # fmt: skip
    if event is None or event.status_code != 201:
        ledger.organiser_failures["create event"] += 1
        return
    event_id = event.json()["id"]
    cards = [DECLINED_CARD, GOOD_CARD] if rng.random() < 0.25 else [GOOD_CARD]
    if len(cards) == 2 and rng.random() < 0.5:
        cards = [DECLINED_CARD]
    paid = False
    for card in cards:
        checkout = _call(ledger, "checkout", "POST", f"{base}/payments/create-payment-intent/", headers=auth,
                         json={"event_id": event_id})  # fmt: skip
        if checkout is None or checkout.status_code not in (200, 201):
            ledger.organiser_failures["checkout"] += 1
            break
        intent_id = checkout.json()["clientSecret"].split("_secret_")[0]
        _, method = forward("POST", "v1/payment_methods", {"type": "card", "card": {
            "number": card, "exp_month": "12", "exp_year": "2034", "cvc": "123"}})  # fmt: skip
        forward("POST", f"v1/payment_intents/{intent_id}", {"payment_method": cast(dict[str, Any], method)["id"]})
        status, _ = forward("POST", f"v1/payment_intents/{intent_id}/confirm", {})
        paid = status == 200
        if not paid:
            # The page polls the payment until the webhook has told the product.
            _wait_payment_failed(ledger, f"{base}/payments/{checkout.json()['paymentId']}/", auth)
    with ledger.lock:
        ledger.paid_events[event_id] = paid
    _call(ledger, "my events", "GET", f"{base}/events/", headers=auth)


def _verification_key(stack: SoakStack, address: str, timeout: float = 60) -> str | None:
    """The key of the verification link a worker emailed to `address`, read from the SMTP server's Maildir:
    every message received since the sign-up is read once (payments' emails may arrive by the hundred
    meanwhile, in a burst)."""
    deadline = time.monotonic() + timeout
    since = time.time() - 5  # the sign-up's request, and the clock's granularity
    seen: set[Path] = set()
    while time.monotonic() < deadline:
        arrived = [path for path in (stack.maildir / "new").glob("*") if path not in seen and _mtime(path) >= since]
        for path in sorted(arrived, key=_mtime, reverse=True):
            seen.add(path)
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                body = message.get_body(("plain",))
                found = re.search(r"/verify-email/(\S+)", body.get_content()) if body else None
                return found[1] if found else None
        time.sleep(1)
    return None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _wait_payment_failed(ledger: Ledger, url: str, auth: dict[str, str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = _call(ledger, "payment", "GET", url, headers=auth)
        if response is not None and response.status_code == 200 and response.json()["status"] == "failed":
            return
        time.sleep(1)


def public_reads(stack: SoakStack, ledger: Ledger) -> None:
    """A visitor's look at the public list: the first page and, when there is one, the next."""
    first = _call(ledger, "public list", "GET", f"http://127.0.0.1:{stack.web_port}/api/public/events/")
    if first is not None and first.status_code == 200 and (following := first.json().get("next")):
        _call(ledger, "public list", "GET", following)


def operator(stack: SoakStack, ledger: Ledger) -> None:
    """What an operator runs now and then: failed inbox rows processed again, pending payments reconciled."""
    for command in (["retry_stripe_events", "--failed"], ["reconcile_payments"]):
        done = subprocess.run([str(BIN / "python"), "manage.py", *command, "--actor", "soak"], cwd=ROOT, env=stack.env,
                              capture_output=True, timeout=300, check=False)  # fmt: skip
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] if done.returncode else []
        with ledger.lock:
            ledger.operator_runs[" ".join([command[0], f"exit {done.returncode}", *why])[:160]] += 1


def every(interval: float, stop: threading.Event, action: Callable[[], None], pool: ThreadPoolExecutor) -> None:
    """Starts `action` on the pool every `interval` seconds (not waiting for it) until `stop` is set."""
    next_at = time.monotonic()
    while not stop.is_set():
        pool.submit(action)
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))


@dataclass
class Traffic:
    """The steady mix, started and stopped as one. `rate` is the stream's webhook deliveries per second."""

    stack: SoakStack
    rate: float
    organiser_interval: float = 4.0
    public_interval: float = 0.5
    scrape_interval: float = 15.0
    operator_interval: float = 300.0
    ledger: Ledger = field(default_factory=Ledger)
    stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(12, thread_name_prefix="soak"))

    def start(self) -> None:
        rng = random.Random(24)
        batches = iter(range(10**9))
        loops: list[tuple[float, Callable[[], None]]] = [
            (STREAM_PAYMENTS_PER_BATCH * 5 / self.rate, lambda: self._send_batch(next(batches), rng)),
            (self.organiser_interval, lambda: organiser(self.stack, self.ledger, rng)),
            (self.public_interval, lambda: public_reads(self.stack, self.ledger)),
            (self.scrape_interval, self._scrape),
            (self.operator_interval, lambda: operator(self.stack, self.ledger)),
        ]
        for interval, action in loops:
            thread = threading.Thread(target=every, args=(interval, self.stop, self._logged(action), self._pool),
                                      daemon=True)  # fmt: skip
            thread.start()
            self._threads.append(thread)

    def _logged(self, action: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                action()
            except Exception as exc:  # a traffic thread must outlive one failed step; the ledger says it failed
                with self.ledger.lock:
                    self.ledger.organiser_failures[type(exc).__name__] += 1

        return run

    def _send_batch(self, batch: int, rng: random.Random) -> None:
        """A few payments' deliveries, spread over the batch's share of a second so that the rate is steady."""
        bodies = stream_deliveries(self.ledger, STREAM_PAYMENTS_PER_BATCH, rng, f"s{batch}x")
        for body in bodies:
            post_delivery(self.stack, self.ledger, body)
            time.sleep(0.8 / self.rate)  # the rest of the second is the request's own time

    def _scrape(self) -> None:
        for name, url in self.stack.metrics_urls().items():
            _call(
                self.ledger,
                f"metrics {name}",
                "GET",
                url,
                headers={"Authorization": f"Bearer {self.stack.metrics_token}"},
            )

    def burst(self, deliveries: int, rng: random.Random) -> dict[str, int]:
        """`deliveries` at once from 16 threads (a fifth of them duplicates): their answers by status."""
        bodies = stream_deliveries(self.ledger, max(1, round(deliveries * (1 - DUPLICATE_SHARE) / 4)), rng,
                                   f"b{uuid.uuid4().hex[:4]}x")  # fmt: skip
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda body: post_delivery(self.stack, self.ledger, body), bodies))
        return dict(Counter(str(s) for s in statuses))

    def finish(self, timeout: float = 60) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
