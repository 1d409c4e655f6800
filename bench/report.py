"""Writes BENCHMARKS.md from one run's figures (and appends bench/CHANGES.md, the hand-kept before/after log)."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.scale import SECTION_END, SECTION_START

INGEST_RATIO_TARGET = 0.5
INGEST_P99_TARGET_MS = 30
DRAIN_RATIO_TARGET = 0.6
LATENCY_P50_TARGET_MS = 50
LATENCY_P99_TARGET_MS = 200
PROFILE_LINES = 70


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _mean(runs: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def write_report(config, facts, costs, profile, ingest, noop_rate, burst, latency) -> None:
    lines: list[str] = ["# EventPay benchmarks", ""]
    lines += [
        "Written by `make bench` (bench/run.py); do not edit by hand. The machine is shared with other",
        "engineers' test runs: the ratios, measured in the same run, are the figures to compare.",
        "",
    ]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += [
        "- **stack**: gunicorn `core.wsgi` with `bench/gunicorn.conf.py` (gthread, 2 workers × 4 threads, keep-alive, as production but with the worker count fixed; settings `bench.settings`: the product's settings "
        "plus two benchmark-only routes), `DJANGO_DEBUG=false`, PostgreSQL database of its own, a private Redis "
        "server; Celery worker with 2 prefork processes (`celery -A worker worker --concurrency 2`, as `make run`).",
        "- **load**: from separate processes on loopback; wrk with `bench/wrk/webhook.lua` (pre-signed "
        f"`payment_intent.succeeded` events, about 2–3.5 KB each, each sent once), {config.ingest_seconds} s per run, "
        f"{config.ingest_rounds} rounds alternating bare / webhook / backbone; the burst by a Python sender "
        "(16 threads, each request once).",
        "",
    ]

    bare_rps = _mean(ingest["bare"], "rps")
    lines += ["## Ingest: 32 concurrent connections", ""]
    lines += [
        "| endpoint | req/s per round | req/s | p50 ms | p95 ms | p99 ms | errors | × bare |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    names = {
        "bare": "bare Django JSON view (`/bench/bare/`)",
        "webhook": "**webhook** (`/api/payments/webhook/`)",
        "backbone": "webhook as the backbone shipped it (`/bench/backbone-webhook/`)",
    }
    for name, label in names.items():
        runs = ingest[name]
        rps = _mean(runs, "rps")
        per_round = ", ".join(f"{r['rps']:.0f}" for r in runs)
        lines.append(
            f"| {label} | {per_round} | {rps:.0f} | "
            f"{_mean(runs, 'p50_us') / 1000:.1f} | {_mean(runs, 'p95_us') / 1000:.1f} | "
            f"{max(r['p99_us'] for r in runs) / 1000:.1f} | {sum(r['errors'] for r in runs)} | {rps / bare_rps:.2f} |"
        )
    webhook_ratio = _mean(ingest["webhook"], "rps") / bare_rps
    webhook_p99 = max(r["p99_us"] for r in ingest["webhook"]) / 1000
    lines += [
        "",
        f"Target ≥ {INGEST_RATIO_TARGET}× the bare view: {webhook_ratio:.2f}× — {_verdict(webhook_ratio >= INGEST_RATIO_TARGET)}. "
        f"Target p99 ≤ {INGEST_P99_TARGET_MS} ms: {webhook_p99:.1f} ms (worst round) — "
        f"{_verdict(webhook_p99 <= INGEST_P99_TARGET_MS)}. Rows stored by the webhook runs: {ingest['stored'][0]['rows']} "
        "(no worker runs during ingest: the queue only fills).",
        "",
    ]

    drain_ratio = burst["drain_rate"] / noop_rate
    lines += ["## Burst: drained by 2 worker processes", ""]
    lines += [
        f"- {burst['deliveries']} deliveries of {burst['unique_events']} events for {burst['payments']} payments "
        f"({burst['deliveries'] - burst['unique_events']} duplicates, shuffled; in {burst['failed_before_succeeded']} "
        "payments a `payment_failed` arrives before the `succeeded`). 70 % of payments succeed after a decline, 20 % "
        "only fail, 10 % succeed and are refunded; each also gets a type EventPay ignores.",
        f"- Delivered in {burst['ingest_seconds']:.1f} s with the workers stopped; answers other than 200: {burst['non_200']}.",
        f"- Drain (from the worker's readiness until every row is finished and the queue is empty): "
        f"{burst['drain_seconds']:.1f} s, **{burst['drain_rate']:.0f} events/s**.",
        f"- No-op Celery task, same worker command, same run: **{noop_rate:.0f} tasks/s**.",
        f"- Ratio {drain_ratio:.2f}× (target ≥ {DRAIN_RATIO_TARGET}×) — {_verdict(drain_ratio >= DRAIN_RATIO_TARGET)}.",
        f"- Lost: {burst['lost']}; doubled: {burst['doubled']}; payments not in their expected final state: "
        f"{burst['wrong_final_status']}; events whose `is_active` disagrees with their payment: "
        f"{burst['activation_mismatch']}. Inbox rows by status: "
        + ", ".join(f"{k} {v}" for k, v in sorted(burst["rows_by_status"].items()))
        + ".",
        "",
    ]

    lines += ["## Latency: webhook received → event active, idle workers", ""]
    lines += [
        f"{latency['samples']} sequential `payment_intent.succeeded` deliveries (client send time to the worker's "
        f"`activated_at`): p50 **{latency['p50_ms']:.1f} ms** (target ≤ {LATENCY_P50_TARGET_MS}: "
        f"{_verdict(latency['p50_ms'] <= LATENCY_P50_TARGET_MS)}), p99 **{latency['p99_ms']:.1f} ms** (target ≤ "
        f"{LATENCY_P99_TARGET_MS}: {_verdict(latency['p99_ms'] <= LATENCY_P99_TARGET_MS)}), max {latency['max_ms']:.1f} ms.",
        "",
    ]

    lines += ["## Per-call costs on the request path (in-process, sequential, µs per call)", ""]
    lines += ["| step | wall µs | CPU µs (this process) |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {wall:.0f} | {cpu:.0f} |" for name, (wall, cpu) in costs]
    lines += ["", "## Profile: 2,000 webhook requests through Django's test client (pyinstrument)", "", "```"]
    lines += profile.strip("\n").splitlines()[:PROFILE_LINES]
    lines += ["```", ""]

    # `make bench-scale` writes a section of its own: kept as it is.
    previous = config.out.read_text() if config.out.exists() else ""
    if SECTION_START in previous and SECTION_END in previous:
        kept = previous.split(SECTION_START, 1)[1].split(SECTION_END, 1)[0]
        lines += [SECTION_START + kept + SECTION_END, ""]

    changes = Path(__file__).with_name("CHANGES.md")
    if changes.exists():
        lines += [changes.read_text().rstrip(), ""]
    config.out.write_text("\n".join(lines))
