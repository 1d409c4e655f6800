"""Writes BENCHMARKS.md: `make bench`'s report from one run's figures (and bench/CHANGES.md, the hand-kept
before/after log, appended), and `make bench-scale`'s section of it, each keeping the other's part."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from pathlib import Path

from bench.harness import CONNECTIONS, verdict

# The targets of the batched design: many inbox ids per message, many events per statement.
INGEST_RATIO_TARGET = 0.30
INGEST_RATIO_TOLERANCE = 0.10
INGEST_P99_TARGET_MS = 60
DRAIN_RATIO_TARGET = 1.0
CPU_PER_EVENT_TARGET_MS = 1.6
POSTGRES_PER_EVENT_TARGET_MS = 0.3
CPU_PER_WEBHOOK_TARGET_MS = 1.5
LATENCY_P50_TARGET_MS = 15
LATENCY_P99_TARGET_MS = 50
CORES = 2

# The same figures for the design before it (one Celery message and one transaction per event), from the
# last BENCHMARKS.md `make bench` wrote with it (2026-11-26, commit cd7d204): kept to compare, as "before".
ONE_AT_A_TIME = {
    "drain": "200 ÷ 730 = 0.27×",
    "cpu per event": "7.69 (worker 5.58, PostgreSQL 1.48)",
    "postgres per event": "1.48",
    "ingest": "812 ÷ 4,495 = 0.18×",
    "cpu per webhook": "2.36 (bare view 0.46)",
    "latency": "p50 11.5, p99 16.1",
    "burst": "0 lost, 0 doubled",
}

GROUPS = {
    "gunicorn": "gunicorn",
    "postgres": "PostgreSQL backends",
    "redis": "Redis",
    "celery": "Celery worker",
    "load generator": "load generator",
    "harness": "harness",
}


SECTION_START = "<!-- bench-scale: written by `make bench-scale` (bench/scale.py) -->"
SECTION_END = "<!-- /bench-scale -->"


def _mean(runs: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def write_report(
    config, facts, *, costs, statements, ingest, ingest_phases, ceiling, flamegraph, folded, noop, burst, latency, drain
) -> None:
    lines: list[str] = ["# EventPay benchmarks", ""]
    lines += [
        "Written by `make bench` (bench/run.py); do not edit by hand. The machine is shared with other",
        "engineers' test runs: the ratios, measured in the same run, and the CPU per request are the figures",
        "to compare; the load average at start says how busy the machine was.",
        "",
    ]
    lines += [f"- **{key}**: {value}" for key, value in facts.items()]
    lines += [
        "- **stack**: gunicorn `core.wsgi` with `bench/gunicorn.conf.py` (gthread, 2 workers × 4 threads, keep-alive, "
        "as production but with the worker count fixed; settings `bench.settings`: the product's settings plus two "
        "benchmark-only routes), `DJANGO_DEBUG=false`, PostgreSQL database of its own, a private Redis server; Celery "
        "worker with 2 prefork processes (`celery -A worker worker --concurrency 2`, as `make run`).",
        "- **load**: from separate processes on loopback; wrk with `bench/wrk/webhook.lua` (pre-signed "
        f"`payment_intent.succeeded` events, about 2–3.5 KB each, each sent once), {config.ingest_seconds} s per run, "
        f"{config.ingest_rounds} rounds alternating bare / webhook / backbone; pgbench for PostgreSQL's own ceiling; "
        "the burst by a Python sender (16 threads, each request once).",
        "",
    ]
    lines += _targets_section(ingest, ingest_phases, noop, burst, latency)
    lines += _ingest_section(config, ingest, ceiling)
    lines += _cpu_section(ingest_phases, ceiling, noop, burst)
    lines += drain  # bench/drain.py's section, rendered there
    lines += _burst_section(noop, burst)
    lines += _latency_section(latency)
    lines += ["## Per-call costs (in-process, sequential, µs per call)", ""]
    lines += [
        f"Each step run {config.call_samples:,} times ({config.fulfilment_samples:,} for fulfilment) in this "
        "process, one call at a time; the figure is the fifth of the calls that used the least CPU (the others "
        "were slowed by the rest of the machine). The two re-sending rows are one pass each over "
        f"{config.sweep_rows:,} stored rows that never reached a worker, divided per row.",
        "",
    ]
    lines += ["| step | wall µs | CPU µs (this process) |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {wall:.0f} | {cpu:.0f} |" for name, (wall, cpu) in costs]
    lines += ["", "Fulfilment's statements for one `payment_intent.succeeded`, in order:", ""]
    lines += [f"{i}. `{_shorten_sql(sql)}`" for i, sql in enumerate(statements, 1)]
    lines += [""]
    lines += _profile_section(config, flamegraph, folded)

    # `make bench-scale` writes a section of its own: kept as it is.
    previous = config.out.read_text() if config.out.exists() else ""
    if SECTION_START in previous and SECTION_END in previous:
        kept = previous.split(SECTION_START, 1)[1].split(SECTION_END, 1)[0]
        lines += [SECTION_START + kept + SECTION_END, ""]

    changes = Path(__file__).with_name("CHANGES.md")
    if changes.exists():
        lines += [changes.read_text().rstrip(), ""]
    config.out.write_text("\n".join(lines))


def _targets_section(ingest, ingest_phases, noop, burst, latency) -> list[str]:
    """The design's figures in one table: this run's against the one-at-a-time design's and the targets."""
    bare_rps, webhook_rps = _mean(ingest["bare"], "rps"), _mean(ingest["webhook"], "rps")
    noop_rate = noop.count / noop.seconds
    drain_phase, webhook_phase = burst["phases"][1], ingest_phases["webhook"]
    per_event = sum(drain_phase.per_item_ms(group) for group in GROUPS)
    per_webhook = sum(webhook_phase.per_item_ms(group) for group in GROUPS)
    bare_per_request = sum(ingest_phases["bare"].per_item_ms(group) for group in GROUPS)
    rows = [
        ("drain: events fulfilled per second ÷ no-op Celery tasks per second", ONE_AT_A_TIME["drain"],
         f"{burst['drain_rate']:.0f} ÷ {noop_rate:.0f} = **{burst['drain_rate'] / noop_rate:.2f}×**",
         f"≥ {DRAIN_RATIO_TARGET}×", burst["drain_rate"] / noop_rate >= DRAIN_RATIO_TARGET),
        ("CPU per fulfilled event, all processes, ms", ONE_AT_A_TIME["cpu per event"],
         f"{per_event:.2f} (worker {drain_phase.per_item_ms('celery'):.2f}, "
         f"PostgreSQL {drain_phase.per_item_ms('postgres'):.2f})",
         f"≤ {CPU_PER_EVENT_TARGET_MS}", per_event <= CPU_PER_EVENT_TARGET_MS),
        ("PostgreSQL CPU per fulfilled event, ms", ONE_AT_A_TIME["postgres per event"],
         f"{drain_phase.per_item_ms('postgres'):.2f}", f"≤ {POSTGRES_PER_EVENT_TARGET_MS}",
         drain_phase.per_item_ms("postgres") <= POSTGRES_PER_EVENT_TARGET_MS),
        ("ingest: webhook ÷ bare Django view, req/s", ONE_AT_A_TIME["ingest"],
         f"{webhook_rps:.0f} ÷ {bare_rps:.0f} = **{webhook_rps / bare_rps:.2f}×**", f"≥ {INGEST_RATIO_TARGET}×",
         webhook_rps / bare_rps >= INGEST_RATIO_TARGET),
        ("CPU per stored webhook, ms", ONE_AT_A_TIME["cpu per webhook"],
         f"{per_webhook:.2f} (bare view {bare_per_request:.2f})", f"≤ {CPU_PER_WEBHOOK_TARGET_MS}",
         per_webhook <= CPU_PER_WEBHOOK_TARGET_MS),
        ("webhook received → event active, idle workers, ms", ONE_AT_A_TIME["latency"],
         f"p50 {latency['p50_ms']:.1f}, p99 {latency['p99_ms']:.1f}",
         f"p50 ≤ {LATENCY_P50_TARGET_MS}, p99 ≤ {LATENCY_P99_TARGET_MS}",
         latency["p50_ms"] <= LATENCY_P50_TARGET_MS and latency["p99_ms"] <= LATENCY_P99_TARGET_MS),
        (f"{burst['deliveries']:,}-delivery burst", ONE_AT_A_TIME["burst"],
         f"{burst['lost']} lost, {burst['doubled']} doubled", "0 lost, 0 doubled",
         burst["lost"] == 0 and burst["doubled"] == 0),
    ]  # fmt: skip
    lines = ["## Targets: events handed over and fulfilled in batches", ""]
    lines += [
        "Each figure of this run against the design before it (one Celery message and one transaction per event, "
        "from the last report `make bench` wrote with it, on this machine on 2026-11-26) and its target. The sections below give the "
        "details; *Batch sizes seen* says how much the traffic let the web and the workers group. The drain is "
        "fulfilment's: the emails it records wait on a queue of their own and are drained after it (*Burst*); "
        "before, they shared the one queue and counted in the drain (so the CPU per event of the two columns is "
        "not the same work).",
        "",
        "| figure | before (one at a time) | now (batched) | target | |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    lines += [f"| {what} | {before} | {now} | {target} | {verdict(met)} |" for what, before, now, target, met in rows]
    lines += [""]
    lines += _batch_sizes_section(burst["sizes"])
    return lines


def _batch_sizes_section(sizes) -> list[str]:
    """The product's histograms over the burst: rows per insert as the web stored them, ids per message as it
    handed them over, rows per transaction as the worker closed them."""
    bounds = sorted({le for reading in sizes.values() for le in reading.cumulative})
    lines = ["### Batch sizes seen in the burst", ""]
    lines += [
        "From the product's own histograms (`eventpay_webhook_rows_per_insert` and `eventpay_hand_over_group_size` of "
        "the web processes over the burst's deliveries, `eventpay_stripe_events_per_transaction` of the worker over its "
        "drain, and the worker's "
        "`eventpay_hand_over_group_size` of the emails each transaction handed over): how many messages, or "
        "transactions, carried each number of rows.",
        "",
        "| rows | " + " | ".join(sizes) + " |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " |",
    ]
    counts = {name: reading.per_bucket() for name, reading in sizes.items()}
    lower = 0.0
    for le in bounds:
        label = "more" if le == float("inf") else (f"{int(le)}" if le - lower <= 1 else f"{int(lower) + 1}–{int(le)}")
        lines.append(f"| {label} | " + " | ".join(f"{counts[name].get(le, 0):,}" for name in sizes) + " |")
        lower = le
    lines.append(
        "| **total (mean)** | "
        + " | ".join(
            f"{reading.observations:,} ({reading.mean:.1f})" if reading.mean is not None else "0"
            for reading in sizes.values()
        )
        + " |"
    )
    lines += [""]
    return lines


def _ingest_section(config, ingest, ceiling) -> list[str]:
    bare_rps = _mean(ingest["bare"], "rps")
    lines = ["## Ingest: 32 concurrent connections", ""]
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
    labels = {
        "postgres": "PostgreSQL alone: the webhook's INSERT into the inbox (pgbench, 8 clients, mean latency as p50)",
        "postgres before": "PostgreSQL alone, the inbox as it was before (payload pglz, 7 indexes)",
    }
    for name, (figures, _phase) in ceiling.items():
        lines.append(
            f"| {labels[name]} | {figures['rps']:.0f} | {figures['rps']:.0f} | {figures['latency_ms']:.1f} | — | — | 0 "
            f"| {figures['rps'] / bare_rps:.2f} |"
        )
    webhook_ratio = _mean(ingest["webhook"], "rps") / bare_rps
    webhook_p99 = max(r["p99_us"] for r in ingest["webhook"]) / 1000
    lines += [
        "",
        f"Target ≥ {INGEST_RATIO_TARGET}× the bare view: {webhook_ratio:.2f}× — "
        f"{verdict(webhook_ratio >= INGEST_RATIO_TARGET)}. Target p99 ≤ {INGEST_P99_TARGET_MS} ms: {webhook_p99:.1f} ms "
        f"(worst round) — {verdict(webhook_p99 <= INGEST_P99_TARGET_MS)}. Rows stored by the webhook runs: "
        f"{ingest['stored'][0]['rows']} (no worker runs during ingest: the queue only fills).",
        "",
    ]
    return lines


def _cpu_section(ingest_phases, ceiling, noop, burst) -> list[str]:
    phases = [
        (ingest_phases["bare"], "request", "ingest: bare view"),
        (ingest_phases["webhook"], "request", "ingest: **webhook**"),
        (ingest_phases["backbone"], "request", "ingest: backbone's webhook"),
        (ceiling["postgres"][1], "insert", "pgbench: the inbox INSERT"),
        (ceiling["postgres before"][1], "insert", "pgbench: the inbox as before"),
        (burst["phases"][0], "delivery", "burst: ingest (Python sender)"),
        (noop, "task", "drain: no-op task"),
        (burst["phases"][1], "event", "drain: **fulfilment**"),
        (burst["phases"][2], "email", "drain: the burst's emails"),
    ]
    lines = ["## Where the CPU goes: milliseconds of CPU per request or event, by process group", ""]
    lines += [
        "Read from `/proc` (user + system time of every process of each group) over each phase, divided by the "
        "requests wrk completed, the inserts pgbench made or the events drained. *PostgreSQL backends* are the "
        "connections to the benchmark's database (the harness's own excepted); *PG shared* are PostgreSQL's WAL "
        "writer, checkpointer and other background processes, which also serve the other databases on this "
        "machine; *not ours* is whatever else the machine ran meanwhile (other engineers' work), from `/proc/stat`. "
        f"*Ceiling* is what {CORES} cores would allow if they did nothing but this: {CORES}000 ms ÷ the sum.",
        "",
        "| phase | per | " + " | ".join(GROUPS.values()) + " | **sum** | PG shared | not ours | ceiling /s |",
        "| --- | --- | " + " | ".join("---:" for _ in GROUPS) + " | ---: | ---: | ---: | ---: |",
    ]
    for phase, unit, label in phases:
        cells = [f"{phase.per_item_ms(group):.3f}" for group in GROUPS]
        total = sum(phase.per_item_ms(group) for group in GROUPS)
        shared = phase.per_item_ms("postgres shared")
        others = max(0.0, phase.usage.machine / phase.count * 1000 - total - shared)
        lines.append(
            f"| {label} | {unit} | " + " | ".join(cells) + f" | **{total:.3f}** | {shared:.3f} | {others:.3f} | "
            f"{CORES * 1000 / total:.0f} |"
        )
    lines += [""]
    return lines


def _burst_section(noop, burst) -> list[str]:
    noop_rate = noop.count / noop.seconds
    drain_ratio = burst["drain_rate"] / noop_rate
    lines = ["## Burst: drained by 2 worker processes", ""]
    lines += [
        f"- {burst['deliveries']} deliveries of {burst['unique_events']} events for {burst['payments']} payments "
        f"({burst['deliveries'] - burst['unique_events']} duplicates, shuffled; in {burst['failed_before_succeeded']} "
        "payments a `payment_failed` arrives before the `succeeded`). 70 % of payments succeed after a decline, 20 % "
        "only fail, 10 % succeed and are refunded; each also gets a type EventPay ignores.",
        f"- Delivered in {burst['ingest_seconds']:.1f} s with the workers stopped; answers other than 200: "
        f"{burst['non_200']}.",
        f"- Drain, by workers of the fulfilment queue (from the worker's readiness until every row is finished and "
        f"its queue is empty): {burst['drain_seconds']:.1f} s, **{burst['drain_rate']:.0f} events/s**.",
        f"- The {burst['emails']:,} emails fulfilment recorded meanwhile, waiting on their own queue, then sent by "
        f"workers of that queue (through the stack's `dummymail://` backend: claim, message and record, no SMTP "
        f"server; *Emails in-process* has one): {burst['email_seconds']:.1f} s, "
        f"**{burst['emails'] / burst['email_seconds']:.0f} emails/s**; not sent: {burst['emails_unsent']}.",
        f"- No-op Celery task, same worker command, same run: **{noop_rate:.0f} tasks/s**.",
        f"- Ratio {drain_ratio:.2f}× (target ≥ {DRAIN_RATIO_TARGET}×) — {verdict(drain_ratio >= DRAIN_RATIO_TARGET)}.",
        f"- Lost: {burst['lost']}; doubled: {burst['doubled']}; payments not in their expected final state: "
        f"{burst['wrong_final_status']}; events whose `is_active` disagrees with their payment: "
        f"{burst['activation_mismatch']}. Inbox rows by status: "
        + ", ".join(f"{k} {v}" for k, v in sorted(burst["rows_by_status"].items()))
        + ".",
        "",
    ]
    return lines


def _latency_section(latency) -> list[str]:
    return [
        "## Latency: webhook received → event active, idle workers",
        "",
        f"{latency['samples']} sequential `payment_intent.succeeded` deliveries (client send time to the worker's "
        f"`activated_at`): p50 **{latency['p50_ms']:.1f} ms** (target ≤ {LATENCY_P50_TARGET_MS}: "
        f"{verdict(latency['p50_ms'] <= LATENCY_P50_TARGET_MS)}), p99 **{latency['p99_ms']:.1f} ms** (target ≤ "
        f"{LATENCY_P99_TARGET_MS}: {verdict(latency['p99_ms'] <= LATENCY_P99_TARGET_MS)}), max {latency['max_ms']:.1f} ms.",
        "",
        "Where a delivery's time goes, median of each phase: the request (sent → the row's `received_at`, stamped "
        "just before the insert), the answer (→ the client has its 200: the insert's commit and the workers' "
        "wake-up), and the worker (→ `activated_at`: the broker, the worker's claim and the transition).",
        "",
        "| phase | p50 ms |",
        "| --- | ---: |",
        *(f"| {name} | {ms:.1f} |" for name, ms in latency["phases_p50_ms"].items()),
        "",
        "Celery's own part, on the same idle worker: a task that only notes when its body starts, from `delay()` "
        f"to that moment, p50 **{latency['celery_p50_ms']:.1f} ms**; one such hop is in every delivery's path.",
        "",
    ]


def _shorten_sql(sql: str, limit: int = 160) -> str:
    sql = re.sub(r"\s+", " ", sql).replace("`", "'")
    return sql if len(sql) <= limit else sql[: limit - 1] + "…"


# --- the profile ----------------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
PROFILE_ROWS = 32


def _frame_key(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    path = match["path"]
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    else:
        path = re.sub(r"^.*?/(core|events|payments|worker|bench)/", r"\1/", path)
    return match["name"], path


def _package(path: str) -> str:
    head = path.split("/", 1)[0]
    if head == "stdlib":
        return "Python stdlib: " + path.split("/", 2)[1].removesuffix(".py")
    return head.removesuffix(".py") or "(native)"


def parse_folded(folded: str) -> tuple[int, Counter[tuple[str, str]], Counter[str]]:
    """Samples, inclusive samples per frame and self samples per package, from py-spy's folded stacks."""
    total, inclusive, by_package = 0, Counter[tuple[str, str]](), Counter[str]()
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_key(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        for key in set(frames):
            inclusive[key] += count
        by_package[_package(frames[-1][1])] += count
    return total, inclusive, by_package


def _profile_section(config, flamegraph: Path, folded: str) -> list[str]:
    total, inclusive, by_package = parse_folded(folded)
    lines = [
        "## Profile: the gunicorn workers under wrk (py-spy)",
        "",
        "py-spy sampled both gunicorn workers at 200 Hz (`--subprocesses --nonblocking --gil`: in each worker, "
        "the thread holding the GIL, i.e. the one running Python; threads waiting on a socket or for the GIL are "
        f"not sampled) during a {config.ingest_seconds} s webhook run of its own: {total} samples. CPU spent in the "
        "kernel and in C code that released the GIL (libpq's and the sockets' I/O) is in the table above, not "
        f"here. The flame graph is [{flamegraph.name}]({flamegraph.name}) (open it in a browser).",
        "",
        "Inclusive share of the busiest frames (a frame's samples include those of what it calls; the outermost "
        "frames, in nearly every sample, are left out):",
        "",
        "| frame | file | share |",
        "| --- | --- | ---: |",
    ]
    rows = [(key, n) for key, n in inclusive.most_common() if n / total < 0.97][:PROFILE_ROWS]
    lines += [f"| `{name}` | {path} | {n / total:.1%} |" for (name, path), n in rows]
    lines += ["", "Self time by package (where the CPU was when sampled):", "", "| package | share |", "| --- | ---: |"]
    lines += [f"| {package} | {n / total:.1%} |" for package, n in by_package.most_common(14)]
    lines += [""]
    return lines


# --- make bench-scale's section --------------------------------------------------------------------


# The paths measured before this work (their first words, as named above): ms at 2M rows / 200k events.
BEFORE = {
    "`GET /api/metrics`": "3,212",
    "`GET /api/public/events/` (anonymous, first page)": "6,658 (36 MB, unpaged)",
    "`GET /api/events/` (the organiser's own": "13,106 (87 MB, unpaged)",
    "admin inbox list": "3,512",
    "admin inbox, `status=failed`": "1,979",
    "admin inbox, search for one `evt_` id": "1,787",
    "admin payments list": "569",
}


def ingest_ratio(runs: dict[str, list[dict]]) -> float:
    return statistics.fmean(r["rps"] for r in runs["webhook"]) / statistics.fmean(r["rps"] for r in runs["bare"])


def scale_section(config, facts, built, machine, timings, ingest_results) -> str:
    inbox = facts["inbox"]
    rows = sum(inbox.values())
    lines = [
        SECTION_START,
        f"## Scale: every read path at {rows:,} inbox rows and {facts['events']:,} events",
        "",
        "Written by `make bench-scale` (bench/scale.py); do not edit by hand. A PostgreSQL database of its own,",
        "grown with set-based SQL (generate_series); each path timed sequentially through gunicorn",
        f"(`bench/gunicorn.conf.py`, `DJANGO_DEBUG=false`) or in-process for beat's selectors: median of {config.samples}",
        "after two warm-up requests, on a machine shared with other engineers' test runs.",
        "",
        *[f"- **{key}**: {value}" for key, value in machine.items()],
        "- **inbox**: " + ", ".join(f"{status} {n:,}" for status, n in sorted(inbox.items()))
        + f" ({facts['inbox_size']}, payloads of about 1 KB over a year of arrivals)",
        f"- **events**: {facts['events']:,}, one organiser's ({facts['public']:,} live and upcoming: the public list); "
        "**payments**: " + ", ".join(f"{status} {n:,}" for status, n in sorted(facts["payments"].items()))
        + f"; **operator actions**: {facts['operator_actions']:,}; database {facts['database_size']}",
        f"- **build**: {built['build_seconds'] / 60:.1f} min ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in built["steps"].items())
        + ")" + ("; built by an earlier run and reused (`--reuse`)" if built["reused"] else ""),
        "- **before**: the same paths with the code before pagination, bounded counts and these indexes, measured "
        "on this machine at 2,000,000 inbox rows and 200,000 events (median of 3)",
        "",
        "| path | target ms | median ms | max ms | size | before |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]  # fmt: skip
    for t in timings:
        before = next((ms for prefix, ms in BEFORE.items() if t.name.startswith(prefix)), "")
        lines.append(
            f"| {t.name} | {t.target_ms:.0f} | {t.median_ms:.1f}{'' if t.met else ' **missed**'} | {t.max_ms:.1f} "
            f"| {t.detail} | {before} |"
        )
    empty, full = ingest_ratio(ingest_results["empty"]), ingest_ratio(ingest_results["scale"])
    lines += [
        "",
        f"Ingest ({config.ingest_rounds} rounds of {config.ingest_seconds} s per database, interleaved; wrk, "
        f"{CONNECTIONS} connections, each event sent once):",
        "",
        "| database | bare view req/s per round | webhook req/s per round | bare view req/s | webhook req/s "
        "| webhook × bare |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for database, label in (("empty", "empty"), ("scale", f"{rows:,} inbox rows")):
        runs = ingest_results[database]
        per_round = {name: ", ".join(f"{r['rps']:.0f}" for r in runs[name]) for name in ("bare", "webhook")}
        lines.append(
            f"| {label} | {per_round['bare']} | {per_round['webhook']} | "
            f"{statistics.fmean(r['rps'] for r in runs['bare']):.0f} | "
            f"{statistics.fmean(r['rps'] for r in runs['webhook']):.0f} | {ingest_ratio(runs):.2f} |"
        )
    lines += [
        "",
        f"Target: the ratio at scale within {INGEST_RATIO_TOLERANCE:.0%} of the empty database's: "
        f"{full:.2f} against {empty:.2f} ({full / empty:.0%}) — {verdict(full >= (1 - INGEST_RATIO_TOLERANCE) * empty)}.",
        SECTION_END,
    ]
    return "\n".join(lines)


def write_section(out: Path, section: str) -> None:
    """Replaces this benchmark's section of BENCHMARKS.md (`make bench` keeps it when it rewrites the rest)."""
    text = out.read_text() if out.exists() else "# EventPay benchmarks\n"
    if SECTION_START in text:
        before, rest = text.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1] if SECTION_END in rest else ""
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    out.write_text(text)
