"""`make run`: the whole product on one machine (web, Celery worker and beat), offline when no keys are set.

Starts what is missing: an embedded Redis when REDIS_URL is unset, the offline Stripe stand-in
(localstripe, its signed webhooks pointed at us) when STRIPE_SECRET_KEY is unset, and a local SMTP server
(aiosmtpd, keeping emails in var/mail) when EMAIL_URL is unset. honcho runs the
processes, prefixes their output, and stops all of them on Ctrl-C or SIGTERM, or when one exits.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import environ
from honcho.manager import Manager

from offline import SECRET_KEY, embedded_redis, localstripe, smtp
from offline.net import port_is_free, port_is_open
from offline.processes import WORKER_OPTIONS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = BASE_DIR / "var"
LOCALSTRIPE_PORT = 8420
EMBEDDED_REDIS_PORT = 6380
SMTP_PORT = 8025
WORKER_METRICS_PORT = 8421
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "eventpay-demo"  # nosec B105: the local demo's login, printed for the user
WAIT_REPORT_EVERY = 5.0


def fail(message: str) -> None:
    print(f"make run: {message}", file=sys.stderr)
    sys.exit(1)


def require_free(port: int, what: str) -> None:
    if not port_is_free(port):
        fail(f"port {port} ({what}) is already in use; stop what holds it or set another port.")


def offline_mode(env: Mapping[str, str]) -> bool:
    """Offline (localstripe and the demo login) with no Stripe key or the stand-in's own; never with a
    test or live key (`sk_test_…`, `sk_live_…`): those talk to Stripe, and get no demo superuser."""
    return env.get("STRIPE_SECRET_KEY", "") in ("", SECRET_KEY)


def setup_commands(python: str, env: Mapping[str, str]) -> list[list[str]]:
    """What runs before the processes start: migrations, and in offline mode only, the demo login."""
    commands = [[python, "manage.py", "migrate", "--no-input"]]
    if offline_mode(env):
        commands.append([python, "-m", "offline.demo", DEMO_USERNAME, DEMO_PASSWORD])
    return commands


def _webhook_secret() -> str:
    path = VAR / "offline-webhook-secret"
    if not path.exists():
        path.write_text(f"whsec_{secrets.token_hex(24)}")
    return path.read_text().strip()


def _announce_when_ready(manager: Manager, ports: dict[str, int], banner: list[str]) -> None:
    """Prints the banner once every service listens; until then, every few seconds, what is awaited.

    There is no deadline: a service that is still starting (localstripe loading a large state) is
    waited for, and one that dies stops everything through honcho, with its last lines above."""
    started = last_report = time.monotonic()
    waiting = dict(ports)
    while waiting:
        if manager.returncode is not None:
            return
        waiting = {name: port for name, port in waiting.items() if not port_is_open(port)}
        if waiting and time.monotonic() - last_report >= WAIT_REPORT_EVERY:
            last_report = time.monotonic()
            names = ", ".join(f"{name} (:{port})" for name, port in waiting.items())
            print(f"make run: waiting for {names}, {last_report - started:.0f} s so far", flush=True)
        time.sleep(0.2)
    print("\n".join(["", "=" * 72, *banner, "Press Ctrl-C to stop everything.", "=" * 72, ""]), flush=True)


def main() -> int:
    VAR.mkdir(exist_ok=True)
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    env = dict(os.environ)
    # Settings fail closed (production unless told otherwise); this is the development server.
    env.setdefault("DJANGO_DEBUG", "true")
    port = int(env.get("PORT", "8000"))
    python = sys.executable
    bin_dir = Path(python).parent
    processes: dict[str, list[str]] = {}
    ports = {"web": port}
    notes: list[str] = []

    require_free(port, "web")
    if not env.get("REDIS_URL"):
        require_free(EMBEDDED_REDIS_PORT, "embedded Redis")
        processes["redis"] = embedded_redis.server_command(port=EMBEDDED_REDIS_PORT, directory=VAR / "redis")
        ports["redis"] = EMBEDDED_REDIS_PORT
        env["REDIS_URL"] = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
        notes.append(f"Redis:  embedded server on 127.0.0.1:{EMBEDDED_REDIS_PORT} (set REDIS_URL to use yours)")

    if not env.get("EMAIL_URL"):
        require_free(SMTP_PORT, "local SMTP server")
        processes["smtp"] = smtp.command(port=SMTP_PORT, maildir=VAR / "mail")
        ports["smtp"] = SMTP_PORT
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{SMTP_PORT}"
        notes.append(
            f"Email:  local SMTP server on 127.0.0.1:{SMTP_PORT}, messages kept in var/mail (admin: Notifications)"
        )
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")

    offline = offline_mode(env)
    if offline:
        require_free(LOCALSTRIPE_PORT, "localstripe")
        env.setdefault("STRIPE_WEBHOOK_SECRET", _webhook_secret())
        env.update(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_API_BASE=f"http://127.0.0.1:{LOCALSTRIPE_PORT}")
        # The demo operator logs in to the admin with its password alone (core/mfa.py: offline and DEBUG only).
        env.setdefault("MFA_EXEMPT_USERNAME", DEMO_USERNAME)
        webhook_secret = env["STRIPE_WEBHOOK_SECRET"].split(",")[0]
        processes["localstripe"] = localstripe.command(
            port=LOCALSTRIPE_PORT, state=VAR / "localstripe.pickle",
            webhook_url=f"http://127.0.0.1:{port}/api/payments/webhook/", webhook_secret=webhook_secret,
        )  # fmt: skip
        ports["localstripe"] = LOCALSTRIPE_PORT
        notes.append(
            f"Stripe: offline stand-in (localstripe) on {env['STRIPE_API_BASE']}, webhooks signed with {webhook_secret}"
        )
        notes.append("        test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0341 is declined")
    elif not env.get("STRIPE_WEBHOOK_SECRET"):
        notes.append("Stripe: keys set but no STRIPE_WEBHOOK_SECRET: webhooks will be refused (see README)")

    try:
        for command in setup_commands(python, env):
            subprocess.run(command, env=env, cwd=BASE_DIR, check=True)
    except subprocess.CalledProcessError as exc:
        fail(str(exc))

    # The production gunicorn configuration, sized for one development machine.
    web_env = {"WEB_CONCURRENCY": "2", **env, "PROMETHEUS_MULTIPROC_DIR": str(VAR / "metrics")}
    # The worker serves its own counters, as in production (worker/metrics.py), from a directory of its own.
    worker_metrics_port = int(env.get("WORKER_METRICS_PORT") or WORKER_METRICS_PORT)
    require_free(worker_metrics_port, "worker metrics")
    worker_env = {
        **env,
        "PROMETHEUS_MULTIPROC_DIR": str(VAR / "metrics-worker"),
        "WORKER_METRICS_PORT": str(worker_metrics_port),
        "WORKER_METRICS_ADDR": "127.0.0.1",
    }
    ports["worker metrics"] = worker_metrics_port
    notes.append(
        f"Metrics: http://127.0.0.1:{port}/api/metrics (web, database), "
        f"http://127.0.0.1:{worker_metrics_port}/metrics (worker)"
    )
    processes["web"] = [str(bin_dir / "gunicorn"), "--config", str(BASE_DIR / "core" / "gunicorn.conf.py"),
                        "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    processes["worker"] = [str(bin_dir / "celery"), "-A", "worker", "worker", "--loglevel", "INFO",
                           "--concurrency", "2", *WORKER_OPTIONS]  # fmt: skip
    processes["beat"] = [str(bin_dir / "celery"), "-A", "worker", "beat", "--loglevel", "INFO",
                         "--schedule", str(VAR / "celerybeat-schedule")]  # fmt: skip

    manager = Manager()
    for name, command in processes.items():
        process_env = {"web": web_env, "worker": worker_env}.get(name, env)
        manager.add_process(name, shlex.join(command), env=process_env, cwd=str(BASE_DIR))

    banner = [f"EventPay is running on http://127.0.0.1:{port}/"]
    if offline:
        banner.append(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}    (admin: http://127.0.0.1:{port}/admin/)")
    threading.Thread(target=_announce_when_ready, args=(manager, ports, banner + notes), daemon=True).start()
    manager.loop()
    # Stopped by Ctrl-C or SIGTERM (130, 143) is a normal end; a process that died is not.
    return 0 if manager.returncode in (130, 143) else (manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
