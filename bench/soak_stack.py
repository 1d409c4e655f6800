"""The soak's stack: the production processes on one machine, and the faults done to them.

gunicorn with the production configuration (core/gunicorn.conf.py: workers recycled every ~2,000
requests), two Celery workers each serving its own metrics, beat, a private Redis (AOF on),
localstripe sending signed webhooks, an SMTP server keeping every email, and a PostgreSQL database
of the soak's own. Every process runs in a session of its own, so that a fault or the end stops it
together with everything it forked.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import LiteralString, cast

from bench.harness import BIN, ROOT, recreate_database, wait_http
from offline import localstripe, processes
from offline.net import free_port, wait_for_port

WORKERS = ("worker-1", "worker-2")
WORKER_CONCURRENCY = 2
WEBHOOK_SECRET = "whsec_soak_" + "0" * 24
# The soak is the only client and signs up hundreds of organisers from one address: the product's
# per-client budgets would refuse it. Everything else is production's.
_UNTHROTTLED = {f"THROTTLE_{scope}": "1000000/min" for scope in ("AUTH", "REGISTER", "CHECKOUT", "EVENT_CREATE")}


@dataclass
class SoakStack:
    tmp: Path
    env: dict[str, str]
    web_port: int
    redis_port: int
    metrics_token: str
    maildir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    worker_metrics_ports: dict[str, int] = field(default_factory=dict)
    # Held while a fault replaces a process, so that supervise() does not start it a second time.
    replacing: threading.Lock = field(default_factory=threading.Lock)
    exits: list[str] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def multiproc_dir(self, name: str) -> Path:
        """Each web or worker host's PROMETHEUS_MULTIPROC_DIR."""
        return self.tmp / f"metrics-{name}"

    def metrics_urls(self) -> dict[str, str]:
        """What Prometheus scrapes: the web's /api/metrics and every worker's exporter."""
        urls = {"web": f"http://127.0.0.1:{self.web_port}/api/metrics"}
        urls |= {name: f"http://127.0.0.1:{port}/metrics" for name, port in self.worker_metrics_ports.items()}
        return urls


def _popen(stack: SoakStack, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    with (stack.tmp / f"{name}.log").open("a") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip


def start_stack(database_url: str, exit_stack: ExitStack, tmp: Path) -> SoakStack:
    redis_port, web_port, stripe_port, smtp_port = free_port(), free_port(), free_port(), free_port()
    stack = SoakStack(tmp=tmp, env={}, web_port=web_port, redis_port=redis_port,
                      metrics_token=secrets.token_urlsafe(24), maildir=tmp / "mail")  # fmt: skip
    exit_stack.callback(stop_all, stack)
    stack.env = dict(os.environ) | _UNTHROTTLED | {
        "DJANGO_SETTINGS_MODULE": "core.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": stack.redis_url,
        # localstripe's key: the product then asks for what localstripe implements (card payments).
        "STRIPE_SECRET_KEY": "sk_offline_soak",
        "STRIPE_PUBLISHABLE_KEY": "pk_offline_soak",
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "METRICS_TOKEN": stack.metrics_token,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    os.environ.update(stack.env)
    recreate_database(database_url)
    subprocess.run([str(BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=stack.env,
                   check=True)  # fmt: skip

    start_redis(stack)
    stack.processes["smtp"] = processes.start_smtp(port=smtp_port, maildir=stack.maildir, log_path=tmp / "smtp.log")
    stack.processes["localstripe"] = processes.start_localstripe(port=stripe_port, log_path=tmp / "localstripe.log")
    localstripe.register_webhook(api_base=stack.env["STRIPE_API_BASE"], secret=WEBHOOK_SECRET,
                                 url=f"http://127.0.0.1:{web_port}/api/payments/webhook/")  # fmt: skip
    web_env = stack.env | {"WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(stack.multiproc_dir("web"))}
    stack.processes["web"] = _popen(stack, "web", [
        str(BIN / "gunicorn"), "--config", str(ROOT / "core" / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{web_port}",
    ], web_env)  # fmt: skip
    wait_for_port(web_port, timeout=60, process=stack.processes["web"])
    wait_http(web_port, "/api/health/", timeout=60)
    for name in WORKERS:
        stack.worker_metrics_ports[name] = free_port()
        start_worker(stack, name)
    stack.processes["beat"] = _popen(stack, "beat", [
        str(BIN / "celery"), "-A", "worker", "beat", "--loglevel", "INFO", "--schedule", str(tmp / "celerybeat-schedule"),
    ], stack.env)  # fmt: skip
    return stack


def start_redis(stack: SoakStack) -> None:
    stack.processes["redis"] = processes.start_redis(
        port=stack.redis_port, directory=stack.tmp / "redis", log_path=stack.tmp / "redis.log"
    )


def start_worker(stack: SoakStack, name: str) -> None:
    """The production worker command, with its own metrics port and multiprocess directory."""
    env = stack.env | {
        "PROMETHEUS_MULTIPROC_DIR": str(stack.multiproc_dir(name)),
        "WORKER_METRICS_PORT": str(stack.worker_metrics_ports[name]),
        "WORKER_METRICS_ADDR": "127.0.0.1",
    }
    stack.processes[name] = processes.start_celery_worker(
        env=env, log_path=stack.tmp / f"{name}.log", name=name, concurrency=WORKER_CONCURRENCY, timeout=90
    )


def supervise(stack: SoakStack, elapsed_s: float) -> None:
    """Starts again a worker or beat that exited on its own, as compose's `restart: unless-stopped` does,
    and notes it: such an exit is a finding."""
    if not stack.replacing.acquire(blocking=False):
        return
    try:
        for name in (*WORKERS, "beat"):
            process = stack.processes[name]
            if process.poll() is None:
                continue
            stack.exits.append(f"{name} exited with {process.returncode} at minute {elapsed_s / 60:.1f}")
            if name == "beat":
                stack.processes[name] = _popen(stack, name, [str(a) for a in cast(list[str], process.args)], stack.env)
            else:
                start_worker(stack, name)
    finally:
        stack.replacing.release()


def stop_all(stack: SoakStack) -> None:
    # The producers first, the broker and the stand-ins last.
    for name in ("beat", *WORKERS, "web", "localstripe", "smtp", "redis"):
        if name in stack.processes:
            processes.stop(stack.processes[name], timeout=30)


# --- faults -------------------------------------------------------------------------------------


def restart_redis(stack: SoakStack) -> None:
    """Redis stopped and started again on the same port and data (its AOF), as a container restart does."""
    processes.stop(stack.processes["redis"])
    start_redis(stack)


def kill_worker(stack: SoakStack, name: str) -> None:
    """SIGKILL to a worker and its pool (as the OOM killer or a lost host would), then started again as a
    supervisor (compose's `restart: unless-stopped`) does."""
    with stack.replacing:
        process = stack.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        time.sleep(2)
        start_worker(stack, name)


def terminate_connections(database_url: str) -> int:
    """pg_terminate_backend on every other connection to the soak's database: how many it cut."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


# PostgreSQL's autovacuum_naptime: how often autovacuum looks at a database.
VACUUM_INTERVAL_S = 60.0

# The tables autovacuum would pick now, by its own rule and the server's settings (autovacuum_vacuum_threshold
# + autovacuum_vacuum_scale_factor × rows for dead rows, the insert threshold and scale factor for rows
# inserted since the last vacuum, the analyze ones for rows changed since the last analyze).
_DUE = """
    SELECT s.relname,
           n_dead_tup > current_setting('autovacuum_vacuum_threshold')::float8
                        + current_setting('autovacuum_vacuum_scale_factor')::float8 * c.reltuples
           OR n_ins_since_vacuum > current_setting('autovacuum_vacuum_insert_threshold')::float8
                                   + current_setting('autovacuum_vacuum_insert_scale_factor')::float8 * c.reltuples,
           n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
                                 + current_setting('autovacuum_analyze_scale_factor')::float8 * c.reltuples
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
"""


_COMMANDS: dict[tuple[bool, bool], LiteralString] = {
    (True, True): "VACUUM (ANALYZE)",
    (True, False): "VACUUM",
    (False, True): "ANALYZE",
}


def vacuum_due_tables(database_url: str) -> list[str]:
    """One round of autovacuum's launcher, in the foreground: each table past autovacuum's thresholds is
    vacuumed, analysed or both, the others are left alone (a table's cost is paid as often as its churn
    asks, not once a round: vacuuming everything every round would cost more the bigger the tables grow).
    Returns what it did, as `VACUUM (ANALYZE) table` lines."""
    import psycopg
    from psycopg import sql

    done = []
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        for table, vacuum, analyze in conn.execute(_DUE).fetchall():
            if not (vacuum or analyze):
                continue
            command = _COMMANDS[vacuum, analyze]
            conn.execute(sql.SQL("{} {}").format(sql.SQL(command), sql.Identifier(table)))
            done.append(f"{command} {table}")
    return done


def vacuum_as_autovacuum_would(database_url: str, exit_stack: ExitStack) -> str:
    """Production's PostgreSQL runs autovacuum; a server without it (this machine's shared one) would let every
    update's dead row pile up for the whole soak, and each index scan read them all: what grows is then the
    test bed, not the product. So where `autovacuum` is off the soak does autovacuum's work on its own
    database every VACUUM_INTERVAL_S (autovacuum's default nap time), by autovacuum's rule
    (`vacuum_due_tables`). Returns what it does, for the report."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        (setting,) = conn.execute("SHOW autovacuum").fetchone() or ("on",)
    if setting == "on":
        return "on (the server's own)"
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(VACUUM_INTERVAL_S):
            # A fault may have the database's connections terminated mid-vacuum: the next round vacuums.
            with contextlib.suppress(psycopg.Error):
                vacuum_due_tables(database_url)

    threading.Thread(target=run, name="soak-vacuum", daemon=True).start()
    exit_stack.callback(stop.set)
    return (
        f"off on this server; every {VACUUM_INTERVAL_S:g} s the soak vacuums and analyses the tables of its database "
        "that autovacuum's thresholds would pick (the server's settings)"
    )
