"""Each benchmark tool run end to end at the smallest sizes, writing its report to a temporary path.

They start their own stack (PostgreSQL databases named after the test database, a private Redis, gunicorn,
Celery), so they check that `make bench` and `make bench-scale` still run to the end and report real figures.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from bench.report import SECTION_START

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parent.parent.parent
VERDICT = re.compile(r"\*\*(met|missed)\*\*")


def _database_url(suffix: str) -> str:
    """A database of the tool's own beside the test database, so that parallel test runs do not share one."""
    parsed = urllib.parse.urlparse(os.environ["DATABASE_URL"])
    return parsed._replace(path=f"{parsed.path}_{suffix}").geturl()


def _run(module: str, *args: str) -> None:
    completed = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                               timeout=540)  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def _figures(text: str, unit: str) -> list[float]:
    return [float(n.replace(",", "")) for n in re.findall(rf"(\d[\d,]*(?:\.\d+)?) {unit}", text)]


@pytest.mark.timeout(600)
def test_bench_run_writes_its_report_with_real_figures(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    _run("bench.run", "--quick", "--database-url", _database_url("bench_run"), "--out", str(out))
    report = out.read_text()
    assert "| endpoint | req/s per round |" in report
    assert VERDICT.search(report)
    assert _figures(report, "events/s") and all(rate > 0 for rate in _figures(report, "events/s"))
    # Fulfilment drained first, then its emails by workers of their own queue: all of them sent.
    assert _figures(report, "emails/s") and all(rate > 0 for rate in _figures(report, "emails/s"))
    assert re.search(r"emails/s\*\*; not sent: 0\.", report)
    assert "| drain: the burst's emails | email |" in report
    # The batched design's figures against the one-at-a-time design's, and the batch sizes the product's own
    # histograms saw in the burst: the web's inserts, messages of ids, batch transactions, rows' own transactions
    # and messages of email ids.
    assert "| figure | before (one at a time) | now (batched) | target | |" in report
    totals = re.search(r"^\| \*\*total \(mean\)\*\* \| (.+) \|$", report, re.M)
    assert totals, report
    seen = [re.fullmatch(r"([\d,]+) \(([\d.]+)\)", cell.strip()) for cell in totals[1].split("|")]
    assert len(seen) == 5 and all(seen), totals[0]
    assert all(int(m[1].replace(",", "")) > 0 and float(m[2]) >= 1 for m in seen if m), totals[0]
    # The idle latency split where its time goes: each phase took some, none more than the slowest sample.
    phases = dict(re.findall(r"^\| (request|answer|to the worker) \| ([\d.]+) \|$", report, re.M))
    slowest = re.search(r"max ([\d.]+) ms\.", report)
    assert set(phases) == {"request", "answer", "to the worker"} and slowest, report
    assert all(0 < float(ms) <= float(slowest[1]) for ms in phases.values()), phases
    hop = re.search(r"to that moment, p50 \*\*([\d.]+) ms\*\*", report)
    assert hop and 0 < float(hop[1]) < 5000, report


@pytest.mark.timeout(600)
def test_bench_scale_writes_its_section_with_real_figures(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    _run("bench.scale", "--rows", "3000", "--events", "2000", "--samples", "1", "--quick", "--drop",
         "--database-url", _database_url("bench_scale"), "--out", str(out))  # fmt: skip
    section = out.read_text()
    assert SECTION_START in section
    heading = re.search(r"## Scale: every read path at ([\d,]+) inbox rows and ([\d,]+) events", section)
    assert heading and int(heading[1].replace(",", "")) >= 3000 and heading[2] == "2,000"
    assert VERDICT.search(section)
    # The ingest table's row for the empty database: bare view and webhook requests per second, then their ratio.
    empty = re.search(r"^\| empty \| [\d ]+ \| [\d ]+ \| (\d+) \| (\d+) \| ([\d.]+) \|$", section, re.M)
    assert empty and int(empty[1]) > 0 and int(empty[2]) > 0 and float(empty[3]) > 0


@pytest.mark.timeout(600)
def test_bench_soak_writes_its_report_series_and_plots_while_it_runs(tmp_path: Path) -> None:
    out = tmp_path / "SOAK.md"
    _run("bench.soak", "--minutes", "0.6", "--warmup", "0.05", "--rate", "4", "--burst", "40", "--settle", "60",
         "--database-url", _database_url("soak"), "--out", str(out))  # fmt: skip
    report = out.read_text()
    assert "- **state**: finished" in report
    assert VERDICT.search(report)
    assert re.search(
        r"^- \*\*PostgreSQL autovacuum\*\*: (on|off on this server; every 60 s the soak vacuums)", report, re.M
    )
    # Every fault was done and its recovery measured or marked pending, on the series of every 10 s.
    for fault in ("Redis restarted", "Celery worker SIGKILLed", "PostgreSQL connections terminated", "burst"):
        row = re.search(rf"^\| {fault} \| [\d.]+ \| (.+) \| (\d+|—) \|$", report, re.M)
        assert row and "failed" not in row[1] and row[1] != "pending", fault
    series = (tmp_path / "soak" / "series.csv").read_text().splitlines()
    assert len(series) >= 3 and "rss_mb web workers" in series[0] and "files web" in series[0]
    assert "pg_connections web workers" in series[0] and "pg_connections soak itself" in series[0]
    plots = re.findall(r"!\[[^]]+\]\(soak/([\w-]+\.png)\)", report)
    assert "rss.png" in plots and all((tmp_path / "soak" / name).stat().st_size > 1000 for name in plots)
    # The end state was counted: the stream's events all stored once.
    assert re.search(r"^\| events lost \(never stored\) \| 0 \|$", report, re.M)
    assert re.search(r"^\| events doubled \(stored twice\) \| 0 \|$", report, re.M)
