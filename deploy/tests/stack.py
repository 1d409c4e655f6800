"""The compose stack under test, driven from the host: `docker compose` for the services, HTTP to the
published port for the product, psql inside the postgres container for the ledger."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.5, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or condition}")
        time.sleep(interval)


@dataclass
class Stack:
    env: dict[str, str]
    web_url: str
    localstripe_url: str
    figures: dict[str, object] = field(default_factory=dict)
    webhook_secret: str = ""

    # --- docker compose ---------------------------------------------------------------------------

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["docker", "compose", *self.env_file_args(), *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}"
            )
        return result

    def env_file_args(self) -> list[str]:
        return [arg for path in self.env["EVENTPAY_COMPOSE_ENV_FILES"].split(":") for arg in ("--env-file", path)]

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}")
        return result

    def containers(self, service: str) -> list[str]:
        out = self.compose("ps", "--all", "--quiet", service).stdout.split()
        return sorted(out)

    def container_name(self, container_id: str) -> str:
        return self.docker("inspect", "-f", "{{.Name}}", container_id).stdout.strip().lstrip("/")

    def logs(self, *services: str, tail: int | None = None) -> str:
        args = ["logs", "--no-color", "--no-log-prefix"]
        if tail:
            args += ["--tail", str(tail)]
        return self.compose(*args, *services, check=False).stdout

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query run by psql in the postgres container (the ledger as PostgreSQL holds it)."""
        result = self.compose(
            "exec", "-T", "postgres", "psql", "-U", "eventpay", "-d", "eventpay", "-X", "-A", "-t", "-F", "\t",
            "-v", "ON_ERROR_STOP=1", "-c", query,
        )  # fmt: skip
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def emails(self, to: str) -> str:
        """The emails the offline profile's SMTP server kept for one address, with their plain text."""
        lister = ["python", "-m", "offline.smtp", "/var/lib/eventpay-mail", "--to", to, "--body"]
        return self.compose("exec", "-T", "mail", *lister).stdout

    def psql_in_background(self, script: str) -> subprocess.Popen:
        """A psql session that runs `script` (e.g. holds a lock for a while), left running."""
        process = subprocess.Popen(
            ["docker", "compose", *self.env_file_args(), "exec", "-T", "postgres",
             "psql", "-U", "eventpay", "-d", "eventpay", "-X", "-q", "-v", "ON_ERROR_STOP=1"],
            cwd=ROOT, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        process.stdin.write(script)
        process.stdin.close()
        return process

    # --- HTTP ---------------------------------------------------------------------------------------

    def ready(self) -> requests.Response:
        return requests.get(f"{self.web_url}/api/ready/", timeout=10)

    def organiser(self) -> Organiser:
        return Organiser(self)

    def deliver(self, event: dict, timeout: float = 30) -> requests.Response:
        """POSTs one Stripe event to the webhook, signed as Stripe (and localstripe) sign it."""
        payload = json.dumps(event).encode()
        timestamp = int(time.time())
        signature = hmac.new(self.webhook_secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
        return requests.post(
            f"{self.web_url}/api/payments/webhook/",
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": f"t={timestamp},v1={signature.hexdigest()}",
            },
            timeout=timeout,
        )

    def stripe(self, method: str, path: str, **params) -> dict:
        """localstripe's API, with the offline secret key, as the app's server side calls it."""
        response = requests.request(
            method, f"{self.localstripe_url}/v1/{path}", auth=(self.env["OFFLINE_STRIPE_SECRET_KEY"], ""),
            data=params if method != "GET" else None, params=params if method == "GET" else None, timeout=30,
        )  # fmt: skip
        assert response.status_code < 500, response.text
        return response.json()

    def point_localstripe_webhook_at(self, url: str) -> None:
        response = requests.post(
            f"{self.localstripe_url}/_config/webhooks/eventpay",
            data={"url": url, "secret": self.webhook_secret}, timeout=10,
        )  # fmt: skip
        response.raise_for_status()

    def pay(self, intent_id: str, card: str) -> dict:
        method = self.stripe(
            "POST", "payment_methods", type="card", **{"card[number]": card, "card[exp_month]": "12",
                                                       "card[exp_year]": "2034", "card[cvc]": "123"},
        )  # fmt: skip
        self.stripe("POST", f"payment_intents/{intent_id}", payment_method=method["id"])
        return self.stripe("POST", f"payment_intents/{intent_id}/confirm")

    def stripe_events_for(self, intent_ids: set[str]) -> list[dict]:
        events, params = [], {"limit": 100}
        while True:
            page = self.stripe("GET", "events", **params)
            events += [e for e in page["data"] if e["data"]["object"].get("id") in intent_ids]
            if not page.get("has_more") or not page["data"]:
                return events
            params["starting_after"] = page["data"][-1]["id"]

    # --- the ledger -----------------------------------------------------------------------------------

    def inbox(self, stripe_ids: set[str]) -> dict[str, tuple[str, int]]:
        """stripe event id → (status, attempts), for the given ids."""
        ids = ",".join(f"'{i}'" for i in sorted(stripe_ids) if re.fullmatch(r"evt_\w+", i))
        rows = self.sql(f"SELECT stripe_id, status, attempts FROM payments_stripeevent WHERE stripe_id IN ({ids})")
        return {row[0]: (row[1], int(row[2])) for row in rows}

    def inbox_finished(self, stripe_ids: set[str]) -> bool:
        rows = self.inbox(stripe_ids)
        return len(rows) == len(stripe_ids) and all(status in ("processed", "ignored") for status, _ in rows.values())

    def payments(self, intent_ids: set[str]) -> dict[str, tuple[str, bool, str]]:
        """PaymentIntent id → (payment status, event is_active, event activated_at)."""
        ids = ",".join(f"'{i}'" for i in sorted(intent_ids) if re.fullmatch(r"pi_\w+", i))
        rows = self.sql(
            "SELECT p.payment_intent_id, p.status, e.is_active, coalesce(e.activated_at::text, '') "
            f"FROM payments_payment p JOIN events_event e ON e.id = p.event_id WHERE p.payment_intent_id IN ({ids})"
        )
        return {row[0]: (row[1], row[2] == "t", row[3]) for row in rows}

    def applications(self, stripe_ids: set[str], container: str | None = None) -> dict[str, int]:
        """How many times the workers (or one worker container) applied each event: fulfilment logs one
        line per application ("stripe event evt_… processed: …"), in whichever worker ran it."""
        counts = dict.fromkeys(stripe_ids, 0)
        if container:
            result = self.docker("logs", container)
            logs = result.stdout + result.stderr
        else:
            logs = self.logs("worker")
        for line in logs.splitlines():
            match = re.search(r'"message": "stripe event (evt_\w+) (processed|ignored)', line)
            if match and match.group(1) in counts:
                counts[match.group(1)] += 1
        return counts


def unfinished_tasks(logs: str) -> set[str]:
    """Celery task ids (a group of inbox rows, or one) a worker's log shows received and never finished."""
    received, finished = set(), set()
    for line in logs.splitlines():
        match = re.search(
            r"Task worker\.tasks\.process_stripe_events?\[([0-9a-f-]+)\] (received|succeeded|raised|retry)", line
        )
        if match:
            (received if match.group(2) == "received" else finished).add(match.group(1))
    return received - finished


class Organiser:
    """A browser-like API client: session cookie and CSRF token, over plain http to the published port.

    Production settings mark both cookies Secure; a browser still sends them to localhost over http, and so
    does this client (requests' own cookie handling would not), keeping them itself."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.cookies: dict[str, str] = {}
        self.username = f"organiser-{uuid.uuid4().hex[:10]}"

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"X-CSRFToken": self.cookies.get("csrftoken", "")}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = requests.request(method, f"{self.stack.web_url}{path}", headers=headers, timeout=30, **kwargs)
        self.cookies.update(response.cookies.get_dict())
        return response

    def post(self, path: str, body: dict | None = None, **kwargs) -> requests.Response:
        return self._request("POST", path, json=body, **kwargs)

    def get(self, path: str) -> requests.Response:
        return self._request("GET", path)

    def register(self) -> dict:
        assert self.get("/api/auth/csrf/").status_code == 204
        response = self.post(
            "/api/auth/register/",
            {"username": self.username, "email": f"{self.username}@example.com", "password": "a-long-Passphrase-42"},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def create_event(self, title: str) -> dict:
        starts_at = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        response = self.post("/api/events/", {"title": title, "starts_at": starts_at, "location": "Hall 1"})
        assert response.status_code == 201, response.text
        return response.json()

    def checkout(self, event_id: int) -> dict:
        response = self.post("/api/payments/create-payment-intent/", {"event_id": event_id})
        assert response.status_code in (200, 201), response.text
        return response.json()

    def event(self, event_id: int) -> dict:
        response = self.get(f"/api/events/{event_id}/")
        assert response.status_code == 200, response.text
        return response.json()
