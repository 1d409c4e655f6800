"""`make bench`: the webhook path under load, measured against its ceilings in one run.

Starts its own stack (bench/stack.py), runs each scenario in turn (bench/costs.py, ingest.py,
noop.py, burst.py, latency.py), driving it from separate processes on loopback (wrk for ingest,
a bounded Python sender for the burst), and writes BENCHMARKS.md (bench/report.py).
Every load is bounded in count and time. The machine is shared: compare the ratios, which
are measured in the same run, rather than absolute figures across runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from pathlib import Path

from bench.burst import burst
from bench.costs import fulfilment_cost, per_call_costs
from bench.drain import drain_costs, email_costs, email_markdown, markdown
from bench.harness import BENCH, ROOT, machine_facts
from bench.ingest import ingest, postgres_ceiling, profile_ingest
from bench.latency import latency
from bench.noop import drain_noop
from bench.report import write_report
from bench.stack import Config, log, start_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventpay_bench"))  # fmt: skip
    parser.add_argument("--out", type=Path, default=BENCH / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="smaller figures, for trying the harness")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)  # the flame graph is written beside the report, first
    config = Config(database_url=args.database_url, out=args.out)
    if args.quick:
        config = Config(database_url=args.database_url, out=args.out, ingest_seconds=2, ingest_rounds=1,
                        burst_payments=200, latency_samples=30, call_samples=200, fulfilment_samples=60,
                        sweep_rows=1000, inprocess_events=200, inprocess_emails=100)  # fmt: skip
    sys.path.insert(0, str(ROOT))
    with ExitStack() as exit_stack:
        stack = start_stack(config, exit_stack)
        facts = machine_facts()
        log("per-call costs")
        fulfilment_rows, fulfilment_statements = fulfilment_cost(config.fulfilment_samples)
        log("drain in-process: one at a time vs batched")
        drain = markdown(drain_costs(events=config.inprocess_events))
        log("emails in-process: one task each vs groups")
        drain += email_markdown(email_costs(emails=config.inprocess_emails))
        costs = per_call_costs(stack, config.call_samples, sweep_rows=config.sweep_rows) + fulfilment_rows
        log("ingest")
        ingest_results, ingest_phases = ingest(stack, config)
        log("PostgreSQL's own ceiling (pgbench)")
        ceiling = postgres_ceiling(stack, config)
        log("profile of the gunicorn workers under load (py-spy)")
        flamegraph, folded = profile_ingest(stack, config)
        log("no-op drain")
        noop = drain_noop(stack, round(config.burst_payments * 4))
        burst_results = burst(stack, config)
        log("latency")
        latency_results = latency(stack, config)
    facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    write_report(
        config, facts, costs=costs, statements=fulfilment_statements, ingest=ingest_results,
        ingest_phases=ingest_phases, ceiling=ceiling, flamegraph=flamegraph, folded=folded, noop=noop,
        burst=burst_results, latency=latency_results, drain=drain,
    )  # fmt: skip
    log(f"wrote {config.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
