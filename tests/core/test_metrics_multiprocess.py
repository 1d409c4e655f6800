"""An exited process's counts outlive its files, and the multiprocess directory stays as large as the
live processes, however many have come and gone (gunicorn's max_requests, Celery's pool)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from core.metrics_multiprocess import ArchivedMultiProcessCollector, metrics_archive_process
from offline.net import free_port
from tests.conftest import ROOT, _test_database_url, wait_until

# One process's life: counts and observes in its own files, the way a web worker or pool child does.
_PROCESS = """
import os, sys
from prometheus_client import CollectorRegistry, Counter, Histogram
registry = CollectorRegistry()
deliveries = Counter("deliveries", "Deliveries.", ["result"], registry=registry)
latency = Histogram("latency_seconds", "Latency.", ["type"], buckets=(1, 5), registry=registry)
deliveries.labels(result="stored").inc(int(sys.argv[1]))
deliveries.labels(result=f"only_{sys.argv[1]}").inc()
latency.labels(type="paid").observe(float(sys.argv[1]))
print(os.getpid())
"""


def _run_process(directory: Path, count: int) -> int:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", _PROCESS, str(count)], env=env, capture_output=True, check=True)
    return int(done.stdout)


def _scrape(directory: Path) -> str:
    """The scrape's lines in order: the order of series within a metric follows the files' order."""
    registry = CollectorRegistry()
    ArchivedMultiProcessCollector(registry, path=str(directory))
    return "\n".join(sorted(generate_latest(registry).decode().splitlines()))


def _value(scrape: str, sample: str) -> float:
    return float(next(line.rsplit(" ", 1)[1] for line in scrape.splitlines() if line.startswith(sample + " ")))


def test_an_exited_process_counts_survive_the_removal_of_its_files(tmp_path):
    first = _run_process(tmp_path, 3)
    second = _run_process(tmp_path, 7)
    before = _scrape(tmp_path)

    metrics_archive_process(directory=tmp_path, pid=first)
    assert not list(tmp_path.glob(f"*_{first}.db"))
    assert _scrape(tmp_path) == before
    metrics_archive_process(directory=tmp_path, pid=second)

    after = _scrape(tmp_path)
    assert after == before
    assert _value(after, 'deliveries_total{result="stored"}') == 10
    assert _value(after, 'latency_seconds_bucket{le="5.0",type="paid"}') == 1
    assert _value(after, 'latency_seconds_bucket{le="+Inf",type="paid"}') == 2
    assert _value(after, 'latency_seconds_count{type="paid"}') == 2
    assert _value(after, 'latency_seconds_sum{type="paid"}') == 10
    assert sorted(path.name for path in tmp_path.glob("*.db")) == ["counter_archive.db", "histogram_archive.db"]


def test_the_directory_stays_bounded_over_many_process_generations(tmp_path):
    """Each generation also adds a label value of its own: the archive keeps every series ever counted."""
    generations = 25
    for generation in range(1, generations + 1):
        pid = _run_process(tmp_path, generation)
        metrics_archive_process(directory=tmp_path, pid=pid)
        assert len(list(tmp_path.glob("*.db"))) == 2

    scrape = _scrape(tmp_path)
    assert _value(scrape, 'deliveries_total{result="stored"}') == sum(range(1, generations + 1))
    assert _value(scrape, f'deliveries_total{{result="only_{generations}"}}') == 1
    assert _value(scrape, 'latency_seconds_count{type="paid"}') == generations


def test_a_process_without_files_leaves_the_directory_as_it_was(tmp_path):
    pid = _run_process(tmp_path, 2)
    metrics_archive_process(directory=tmp_path, pid=pid)
    before = _scrape(tmp_path)

    metrics_archive_process(directory=tmp_path, pid=pid)

    assert _scrape(tmp_path) == before


def test_gunicorn_workers_recycled_by_max_requests_keep_their_counts_not_their_files(tmp_path, django_db_setup):
    """The production config (core/gunicorn.conf.py), one worker recycled every 5 requests."""
    port = free_port()
    directory = tmp_path / "metrics"
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "DATABASE_URL": _test_database_url(),
        "WEB_CONCURRENCY": "1",
        "PORT": str(port),
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "core/gunicorn.conf.py", "--max-requests", "5"]
    server = subprocess.Popen(
        [*command, "--max-requests-jitter", "0"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/api/health/"), message="gunicorn to serve")
        deliveries = 23
        for _ in range(deliveries):  # unsigned: answered 400 and counted as invalid
            assert _answers(f"{base}/api/payments/webhook/", data=b"{}") == 400

        # then: several generations of workers counted them; the directory holds the archive and the live worker's files
        scrape = wait_until(lambda: _answers(f"{base}/api/metrics", text=True), message="a scrape")
        counted = 'eventpay_webhook_deliveries_total{result="invalid",type="unverified"}'
        assert _value("\n".join(sorted(scrape.splitlines())), counted) == deliveries
        counters = sorted(path.name for path in directory.glob("counter_*.db"))
        assert "counter_archive.db" in counters and len(counters) <= 2, counters
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str, *, data: bytes | None = None, text: bool = False) -> int | str | None:
    """The status (or, with `text`, the body of a 200), or None while nothing listens."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as response:
            return response.read().decode() if text else response.status
    except urllib.error.HTTPError as error:
        return None if text else error.code
    except OSError:
        return None
