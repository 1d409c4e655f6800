"""The process harness every benchmark shares: start and stop processes, wait for them, run a load generator.

The benchmark tools (bench.run, bench.scale) import it; it imports none of them, so bench/ has no import
circle.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
CONNECTIONS = 32
WRK_THREADS = 2


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


def recreate_database(database_url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
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
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()  # fmt: skip
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
