"""The process harness every benchmark shares: its databases, a private Redis, gunicorn, waiting for them,
stopping them, a load generator, the machine's facts and the one rendering of a verdict.

The benchmark tools and their scenarios import it; it imports none of them, so bench/ has no import circle.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.events import WEBHOOK_SECRET
from offline import processes
from offline.net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
CONNECTIONS = 32
WRK_THREADS = 2


def logger(tool: str) -> Callable[[str], None]:
    """A tool's progress lines on stdout, stamped with its name and the time."""

    def log(message: str) -> None:
        print(f"[{tool} {time.strftime('%H:%M:%S')}] {message}", flush=True)

    return log


def environment(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """What the in-process Django and the benchmark's gunicorn and workers share: production's settings
    (`DJANGO_DEBUG=false`) on the benchmark's database and Redis, one secret key (an admin session made in
    process is read by gunicorn), Stripe unreachable (nothing the benchmarks run calls it)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",
        "REDIS_URL": redis_url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_API_BASE": "http://127.0.0.1:9",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # Each payment that succeeds emails its organiser: rendered by the worker, then sent nowhere.
        "EMAIL_URL": "dummymail://",
        **extra,
    }


def start_redis(tmp: Path, exit_stack: ExitStack) -> tuple[subprocess.Popen[bytes], str]:
    """A private Redis server (the broker), stopped when the exit stack closes; the process and its URL."""
    port = free_port()
    process = processes.start_redis(port=port, directory=tmp / "redis", log_path=tmp / "redis.log")
    exit_stack.callback(stop, process)
    return process, f"redis://127.0.0.1:{port}/0"


def start_web(env: dict[str, str], tmp: Path, name: str, exit_stack: ExitStack) -> tuple[subprocess.Popen[bytes], int]:
    """Gunicorn with bench/gunicorn.conf.py, stopped when the exit stack closes; the process and its port,
    once it answers its health check."""
    port = free_port()
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(BENCH / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=(tmp / f"gunicorn-{name}.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    exit_stack.callback(stop, web)
    wait_for_port(port, process=web)
    wait_http(port, "/api/health/")
    return web, port


def tasks_queued(client, queues: tuple[str, ...] = ()) -> int:
    """Tasks waiting in the broker on `queues`, or on every queue the workers consume (core/settings.py,
    CELERY_TASK_QUEUES) when none are named."""
    from django.conf import settings

    return sum(client.llen(name) for name in queues or [queue.name for queue in settings.CELERY_TASK_QUEUES])


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stops a process politely, then for good if it has not ended within 20 s."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_http(port: int, path: str, timeout: float = 30) -> None:
    """Waits until GET path on the local port answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{path} did not answer 200 within {timeout} s")


def run_measured(command: list[str], *, timeout: float, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    """Runs a load generator to its end: its exit code, its output and the CPU seconds it used (wait4)."""
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            _, status, rusage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return process.returncode, out.read(), rusage.ru_utime + rusage.ru_stime


def run_wrk(port: int, path: str, pool: Path, seconds: int) -> dict[str, float]:
    """wrk against the local port, each request a delivery from the pool; its figures and the CPU it used."""
    command = [
        "wrk", f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s", "--latency",
        "-s", str(BENCH / "wrk" / "webhook.lua"), f"http://127.0.0.1:{port}{path}",
        "--", str(pool), path, str(WRK_THREADS),
    ]  # fmt: skip
    code, output, cpu = run_measured(command, timeout=seconds + 60)
    line = next((ln for ln in output.splitlines() if ln.startswith("{")), None)
    if code != 0 or line is None:
        raise RuntimeError(f"wrk failed: {output}")
    figures: dict[str, float] = json.loads(line)
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(v for k, v in figures.items() if k.startswith("errors_"))
    figures["load_cpu"] = cpu
    return figures


def admin_url(database_url: str) -> tuple[str, str]:
    """The URL of the server's `postgres` database (to create or drop others from) and the database's name."""
    parsed = urllib.parse.urlparse(database_url)
    return parsed._replace(path="/postgres").geturl(), parsed.path.lstrip("/")


def drop_database(database_url: str) -> None:
    import psycopg

    url, name = admin_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate_database(database_url: str) -> None:
    import psycopg

    drop_database(database_url)
    url, name = admin_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def machine_facts() -> dict[str, str]:
    """The machine, the software and the commit a report was measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        sync_commit = cursor.fetchone()[0]
    import redis

    redis_version = redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")["redis_version"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    # What the benchmarks write themselves (a report, its plots and flame graph) does not make the code dirty.
    outputs = [f":(exclude)bench/{path}" for path in ("BENCHMARKS.md", "SOAK.md", "soak", "profile-webhook.svg")]
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *outputs], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0:1]
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "machine": f"{platform.node()}: {os.cpu_count()} cores ({cpu}), "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, {platform.system()} {platform.release()}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "software": f"Python {platform.python_version()}, PostgreSQL {pg_version} (synchronous_commit={sync_commit}), "
        f"Redis {redis_version} (private server, AOF on), {(wrk_version or ['wrk ?'])[0].split(' [')[0]}",
    }


def verdict(ok: bool) -> str:
    """The one rendering of a target's outcome in every report."""
    return "**met**" if ok else "**missed**"
