"""`make run`: the whole product on one machine (web, Celery worker and beat), offline when no keys are set.

Starts what is missing: an embedded Redis when REDIS_URL is unset, localstripe (with its
webhooks pointed at us) when STRIPE_SECRET_KEY is unset. Ctrl-C or SIGTERM stops all of it.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import environ

from core import offline

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = BASE_DIR / "var"
LOCALSTRIPE_PORT = 8420
EMBEDDED_REDIS_PORT = 6380
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "eventpay-demo"


class Supervisor:
    def __init__(self) -> None:
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.stopping = threading.Event()

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(
            command, env=env, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        self.processes.append((name, process))
        threading.Thread(target=self._relay, args=(name, process), daemon=True).start()
        return process

    def adopt(self, name: str, process: subprocess.Popen) -> None:
        self.processes.append((name, process))
        if process.stdout is not None:
            threading.Thread(target=self._relay, args=(name, process), daemon=True).start()

    @staticmethod
    def _relay(name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            sys.stdout.write(f"{name:>11} | {line}")
            sys.stdout.flush()

    def stop(self) -> None:
        self.stopping.set()
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{name} did not stop in time; killing it")
                process.kill()

    def wait(self) -> int:
        while not self.stopping.is_set():
            for name, process in self.processes:
                if process.poll() is not None:
                    print(f"\n{name} exited with code {process.returncode}; stopping everything.")
                    return 1
            time.sleep(0.5)
        return 0


def fail(message: str) -> None:
    print(f"make run: {message}", file=sys.stderr)
    sys.exit(1)


def require_free(port: int, what: str) -> None:
    if not offline.port_is_free(port):
        fail(f"port {port} ({what}) is already in use; stop what holds it or set another port.")


def _webhook_secret() -> str:
    path = VAR / "offline-webhook-secret"
    if not path.exists():
        path.write_text(f"whsec_{secrets.token_hex(24)}")
    return path.read_text().strip()


def main() -> int:
    VAR.mkdir(exist_ok=True)
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    env = dict(os.environ)
    port = int(env.get("PORT", "8000"))
    supervisor = Supervisor()
    messages = []

    def on_signal(signum, frame):
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    require_free(port, "web")
    try:
        if not env.get("REDIS_URL"):
            require_free(EMBEDDED_REDIS_PORT, "embedded Redis")
            process = offline.start_redis(
                port=EMBEDDED_REDIS_PORT, directory=VAR / "redis", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True,
            )
            supervisor.adopt("redis", process)
            env["REDIS_URL"] = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
            messages.append(f"Redis:  embedded server on 127.0.0.1:{EMBEDDED_REDIS_PORT} (set REDIS_URL to use yours)")

        if not env.get("STRIPE_SECRET_KEY"):
            require_free(LOCALSTRIPE_PORT, "localstripe")
            api_base = f"http://127.0.0.1:{LOCALSTRIPE_PORT}"
            process = offline.start_localstripe(
                port=LOCALSTRIPE_PORT, state_file=VAR / "localstripe.pickle",
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )
            supervisor.adopt("localstripe", process)
            env.setdefault("STRIPE_WEBHOOK_SECRET", _webhook_secret())
            env.update(
                STRIPE_SECRET_KEY=offline.OFFLINE_SECRET_KEY,
                STRIPE_PUBLISHABLE_KEY="pk_test_offline",
                STRIPE_API_BASE=api_base,
            )
            webhook_secret = env["STRIPE_WEBHOOK_SECRET"].split(",")[0]
            offline.register_webhook(
                api_base=api_base, name="eventpay", url=f"http://127.0.0.1:{port}/api/payments/webhook/",
                secret=webhook_secret,
            )
            messages.append(f"Stripe: offline stand-in (localstripe) on {api_base}, webhooks signed with {webhook_secret}")
            messages.append("        test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0341 is declined")
        elif not env.get("STRIPE_WEBHOOK_SECRET"):
            messages.append("Stripe: live keys set but no STRIPE_WEBHOOK_SECRET: webhooks will be refused (see README)")

        python = sys.executable
        manage = [python, "manage.py"]
        subprocess.run([*manage, "migrate", "--no-input"], env=env, cwd=BASE_DIR, check=True)
        subprocess.run(
            [*manage, "ensure_demo_user", "--username", DEMO_USERNAME, "--password", DEMO_PASSWORD],
            env=env, cwd=BASE_DIR, check=True,
        )
        bin_dir = Path(python).parent
        # The production gunicorn configuration, sized for one development machine.
        web_env = {
            "WEB_CONCURRENCY": "2",
            **env,
            "PROMETHEUS_MULTIPROC_DIR": str(VAR / "metrics"),
        }
        supervisor.start(
            "web",
            [str(bin_dir / "gunicorn"), "--config", str(BASE_DIR / "core" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}"],
            web_env,
        )
        supervisor.start(
            "worker", [str(bin_dir / "celery"), "-A", "worker", "worker", "--loglevel", "INFO", "--concurrency", "2"], env
        )
        supervisor.start(
            "beat",
            [str(bin_dir / "celery"), "-A", "worker", "beat", "--loglevel", "INFO",
             "--schedule", str(VAR / "celerybeat-schedule")],
            env,
        )
        offline.wait_for_port(port, timeout=30)
    except (subprocess.CalledProcessError, RuntimeError, TimeoutError, OSError) as exc:
        supervisor.stop()
        fail(str(exc))

    print("\n" + "=" * 72)
    print(f"EventPay is running on http://127.0.0.1:{port}/")
    print(f"Demo login: {DEMO_USERNAME} / {DEMO_PASSWORD}    (admin: http://127.0.0.1:{port}/admin/)")
    for line in messages:
        print(line)
    print("Press Ctrl-C to stop everything.")
    print("=" * 72 + "\n", flush=True)
    code = supervisor.wait()
    print("Stopping…", flush=True)
    supervisor.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
