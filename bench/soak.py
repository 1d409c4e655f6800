"""`make soak`: the production processes driven for an hour (or any time) to show what grows with uptime.

    python -m bench.soak [--minutes 60] [--rate 20] [--burst 5000] [--out bench/SOAK.md]

Starts the stack of bench/soak_stack.py on a database of its own, drives it with the steady mix of
bench/soak_traffic.py, does the faults on a schedule (after the warm-up, spread over the rest: Redis
restarted, a Celery worker SIGKILLed, PostgreSQL connections terminated, a burst of deliveries), records
every series every 10 s (bench/soak_sample.py) and rewrites bench/SOAK.md with its plots every minute,
so that a run cut short still leaves its report. A progress line says how far it is.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench.harness import BENCH, ROOT, machine_facts
from bench.soak_report import Fault, Run, write
from bench.soak_sample import SeriesFile, backlog_clear, sample
from bench.soak_stack import (
    WORKERS,
    SoakStack,
    kill_worker,
    restart_redis,
    start_stack,
    supervise,
    terminate_connections,
    vacuum_as_autovacuum_would,
)
from bench.soak_traffic import Traffic

SAMPLE_INTERVAL = 10.0
REPORT_INTERVAL = 60.0
STEADY_S = 30.0
FAULT_NAMES = ("Redis restarted", "Celery worker SIGKILLed", "PostgreSQL connections terminated", "burst")


def log(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def fault_actions(stack: SoakStack, traffic: Traffic, burst: int) -> dict[str, Callable[[], str]]:
    """Each fault, returning what it did in words."""

    def redis() -> str:
        restart_redis(stack)
        return "stopped (SIGTERM) and started again on its AOF"

    def worker() -> str:
        kill_worker(stack, WORKERS[0])
        return f"{WORKERS[0]} and its pool SIGKILLed, started again 2 s later"

    def postgres() -> str:
        return f"{terminate_connections(stack.env['DATABASE_URL'])} connections terminated"

    def deliveries() -> str:
        statuses = traffic.burst(burst, random.Random(5))
        return f"{sum(statuses.values()):,} deliveries from 16 threads, answers {statuses}"

    return dict(zip(FAULT_NAMES, (redis, worker, postgres, deliveries), strict=True))


def run_faults(
    run: Run, actions: dict[str, Callable[[], str]], stack: SoakStack, started: float, stop: threading.Event
) -> None:
    """Each fault at its time; the time until the backlog is clear again is measured beside the next ones."""
    for fault in run.faults:
        if stop.wait(max(0.0, started + fault.at_s - time.monotonic())):
            return
        log(f"fault: {fault.name}")
        try:
            fault.detail = actions[fault.name]()
        except Exception as exc:  # the soak goes on; the report says the fault itself failed
            fault.detail = f"the fault failed: {exc!r}"
            continue
        threading.Thread(target=measure_recovery, args=(fault, stack, time.monotonic(), stop), daemon=True).start()


def measure_recovery(fault: Fault, stack: SoakStack, since: float, stop: threading.Event) -> None:
    fault.recovery_s = recovery(stack, since, stop)
    if fault.recovery_s is not None:
        log(f"{fault.name}: backlog clear after {fault.recovery_s:.0f} s")


def recovery(stack: SoakStack, since: float, stop: threading.Event) -> float | None:
    """Seconds from `since` to the start of the first STEADY_S seconds with the backlog clear throughout
    (a fault's effect may show only after a while: tasks held by a killed worker come back later), or
    None if the run ended first."""
    clear_since = None
    while not stop.is_set():
        now = time.monotonic()
        if not backlog_clear(stack):
            clear_since = None
        elif clear_since is None:
            clear_since = now
        elif now - clear_since >= STEADY_S:
            return clear_since - since
        time.sleep(1)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--minutes", type=float, default=60.0, help="how long the traffic runs (default 60)")
    parser.add_argument("--rate", type=float, default=20.0, help="the stream's webhook deliveries per second")
    parser.add_argument("--burst", type=int, default=5000, help="deliveries of the burst fault")
    parser.add_argument("--warmup", type=float, default=None, help="minutes left out of the verdicts (5, or a "
                        "quarter of a shorter run)")  # fmt: skip
    parser.add_argument("--settle", type=float, default=300.0, help="seconds to wait for the backlog after the "
                        "traffic stops")  # fmt: skip
    parser.add_argument("--database-url", default=os.environ.get(
        "SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventpay_soak_run"))  # fmt: skip
    parser.add_argument("--out", type=Path, default=BENCH / "SOAK.md")
    args = parser.parse_args(argv)
    duration = args.minutes * 60
    warmup = (args.warmup if args.warmup is not None else min(5.0, args.minutes / 4)) * 60
    plots = args.out.parent / "soak"
    sys.path.insert(0, str(ROOT))

    with ExitStack() as exit_stack:
        tmp = Path(tempfile.mkdtemp(prefix="eventpay-soak-"))
        exit_stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        exit_stack.callback(keep_logs, tmp, plots)  # before the directory goes, also after a crash
        log(f"starting the stack in {tmp}")
        stack = start_stack(args.database_url, exit_stack, tmp)
        import django

        django.setup()
        facts = machine_facts() | {"PostgreSQL autovacuum": vacuum_as_autovacuum_would(args.database_url, exit_stack)}
        run = Run(minutes=args.minutes, warmup_s=warmup, rate=args.rate, facts=facts, rows=[],
                  faults=[Fault(name, warmup + (duration - warmup) * (i + 1) / 5) for i, name in enumerate(FAULT_NAMES)])  # fmt: skip
        traffic = Traffic(stack, rate=args.rate, operator_interval=min(300.0, duration / 4))
        exit_stack.callback(traffic.finish)
        series = SeriesFile(plots / "series.csv")
        stop_faults = threading.Event()
        started = traffic.ledger.started = time.monotonic()
        traffic.start()
        faults = threading.Thread(target=run_faults, daemon=True,
                                  args=(run, fault_actions(stack, traffic, args.burst), stack, started, stop_faults))  # fmt: skip
        faults.start()
        next_report = started
        while (now := time.monotonic()) - started < duration:
            row = sample(stack, traffic.ledger, started)
            t_s = row["t_s"] or 0.0
            supervise(stack, t_s)
            series.append(row)
            run.rows = series.rows
            log(f"{t_s / 60:5.1f} / {args.minutes:g} min  queue {row.get('queue_depth')}  "
                f"oldest {row.get('oldest_unprocessed_s')} s  answers {dict(traffic.ledger.statuses)}")  # fmt: skip
            if now >= next_report:
                write(run, args.out, plots)
                next_report = now + REPORT_INTERVAL
            time.sleep(max(0.0, SAMPLE_INTERVAL - (time.monotonic() - now)))
        log("traffic stops; waiting for everything to settle")
        stop_faults.set()
        traffic.finish()
        faults.join(timeout=60)
        from bench.soak_checks import end_state, wait_settled

        run.settle_s = wait_settled(stack, timeout=args.settle)
        run.end_state = end_state(stack, traffic.ledger)
        run.answers = dict(traffic.ledger.statuses)
        run.server_errors = list(traffic.ledger.server_errors)
        run.facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        run.facts["processes that exited on their own (started again)"] = "; ".join(stack.exits) or "none"
        run.facts["requests without an answer"] = (
            ", ".join(f"{k}: {v}" for k, v in traffic.ledger.unanswered.items()) or "none"
        )
        run.facts["operator runs"] = ", ".join(f"{k}: {v}" for k, v in traffic.ledger.operator_runs.items()) or "none"
        run.facts["traffic steps that failed"] = (
            ", ".join(f"{k}: {v}" for k, v in traffic.ledger.organiser_failures.items()) or "none"
        )
        run.done = True
        write(run, args.out, plots)
    log(f"wrote {args.out}")
    return 0


def keep_logs(tmp: Path, plots: Path) -> None:
    """The processes' logs beside the series (not committed): what a missed verdict is read from."""
    logs = plots / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for path in tmp.glob("*.log"):
        shutil.copy(path, logs / path.name)


if __name__ == "__main__":
    sys.exit(main())
