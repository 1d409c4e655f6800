"""What the soak records every 10 s, one flat row of numbers per sample (bench/soak/series.csv).

Processes are sampled by role, not by pid: gunicorn replaces its workers every ~2,000 requests and a
fault replaces a Celery worker, so a role's figure is the largest of its live processes (the one a leak
would show in first). A figure that cannot be read at that moment (Redis restarting) is left empty.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.cpu import process_tree
from bench.harness import tasks_queued
from bench.soak_stack import WORKERS, SoakStack
from bench.soak_traffic import Ledger

PROC = Path("/proc")
SOAK_ITSELF = "soak itself"


def _rss_mb(pid: int) -> float | None:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _fds(pid: int) -> int | None:
    try:
        return len(list((PROC / str(pid) / "fd").iterdir()))
    except OSError:
        return None


def roles(stack: SoakStack) -> dict[str, list[int]]:
    """Each process role and its live pids: the masters apart from the processes they fork."""
    found: dict[str, list[int]] = {}
    for name in ("web", *WORKERS):
        process = stack.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        main = process.pid
        found[f"{name} main"] = [main]
        found[f"{name} {'workers' if name == 'web' else 'pool'}"] = [p for p in process_tree(main) if p != main]
    for name in ("beat", "redis"):
        process = stack.processes.get(name)
        if process is not None and process.poll() is None:
            found[name] = process_tree(process.pid)
    return found


def _database_sockets(port: int) -> set[str]:
    """Inodes of this machine's TCP sockets connected to the database's port (/proc/net/tcp{,6})."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
                inodes.add(fields[9])
    return inodes


def _sockets_held(pid: int, inodes: set[str]) -> int:
    try:
        descriptors = os.listdir(PROC / str(pid) / "fd")
    except OSError:
        return 0
    held = 0
    for fd in descriptors:
        try:
            target = os.readlink(PROC / str(pid) / "fd" / fd)
        except OSError:  # closed since the listing (the listing's own descriptor, for one)
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


def connections_by_role(found: dict[str, list[int]], port: int) -> dict[str, int]:
    """PostgreSQL connections each role's processes hold, counted from their sockets: a connection that
    grows with uptime shows in the role that opened it. The soak's own process (it seeds payments and
    runs the checks) is a role of its own, never judged."""
    inodes = _database_sockets(port)
    held = {role: sum(_sockets_held(pid, inodes) for pid in pids) for role, pids in found.items()}
    return {role: n for role, n in held.items() if role != "redis"} | {SOAK_ITSELF: _sockets_held(os.getpid(), inodes)}


def _largest(values: list[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def sample(stack: SoakStack, ledger: Ledger, started: float) -> dict[str, float | None]:
    row: dict[str, float | None] = {"t_s": round(time.monotonic() - started, 1)}
    found = roles(stack)
    for role, pids in found.items():
        row[f"rss_mb {role}"] = _largest([_rss_mb(p) for p in pids])
        row[f"fds {role}"] = _largest([_fds(p) for p in pids])
    row.update(_database(stack))
    port = urlsplit(stack.env["DATABASE_URL"]).port or 5432
    row.update({f"pg_connections {role}": n for role, n in connections_by_role(found, port).items()})
    row.update(_redis(stack))
    for name in ("web", *WORKERS):
        directory = stack.multiproc_dir(name)
        row[f"files {name}"] = len(list(directory.iterdir())) if directory.exists() else None
    for name, url in stack.metrics_urls().items():
        row[f"scrape_ms {name}"] = _timed_scrape(url, stack.metrics_token)
    row["webhook_p50_ms"], row["webhook_p99_ms"] = ledger.take_webhook_window()
    with ledger.lock:
        for status in ("2xx", "4xx", "5xx", "error"):
            row[f"answers {status}"] = ledger.statuses[status]
    return row


def _timed_scrape(url: str, token: str) -> float | None:
    start = time.perf_counter()
    try:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except requests.RequestException:
        return None
    return round((time.perf_counter() - start) * 1000, 2) if response.status_code == 200 else None


def _database(stack: SoakStack) -> dict[str, float | None]:
    import psycopg

    try:
        with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True, connect_timeout=5) as conn:
            connections, oldest, size = conn.execute(
                "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "        AND pid <> pg_backend_pid()),"
                " (SELECT extract(epoch FROM now() - min(received_at)) FROM payments_stripeevent"
                "  WHERE status IN ('received', 'enqueued')),"
                " pg_database_size(current_database())"
            ).fetchone() or (None, None, 0)
    except psycopg.Error:
        return {"pg_connections all": None, "oldest_unprocessed_s": None, "database_mb": None}
    return {"pg_connections all": connections, "oldest_unprocessed_s": float(oldest or 0), "database_mb": size / 2**20}


def _redis(stack: SoakStack) -> dict[str, float | None]:
    import redis

    try:
        client = redis.Redis.from_url(stack.redis_url, socket_timeout=5)
        memory = client.info("memory")["used_memory"] / 2**20
        depth = tasks_queued(client) + client.hlen("unacked")
    except redis.RedisError:
        return {"redis_mb": None, "queue_depth": None}
    return {"redis_mb": memory, "queue_depth": depth}


BACKLOG_CLEAR_S = 5


def backlog_clear(stack: SoakStack) -> bool:
    """What a fault's recovery waits for. Traffic never stops, so "zero" is: no inbox row has waited
    BACKLOG_CLEAR_S seconds or more (a row just received is not a backlog)."""
    age = _database(stack)["oldest_unprocessed_s"]
    return age is not None and age < BACKLOG_CLEAR_S


class SeriesFile:
    """The series as CSV, one row appended and flushed per sample, so a crash keeps what was recorded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, float | None]] = []
        self.columns: list[str] = []

    def append(self, row: dict[str, float | None]) -> None:
        self.rows.append(row)
        new = [c for c in row if c not in self.columns]
        if new or not self.path.exists():
            self.columns += new
            self._rewrite()
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow(row)

    def _rewrite(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, self.columns)
            writer.writeheader()
            writer.writerows(self.rows)
