"""bench/SOAK.md and its plots (bench/soak/*.png), rewritten while the soak runs and once at its end.

A series is judged on the samples after the warm-up, split in thirds: the median of the last third
against the median of the first (a fault's spike moves neither). RSS may grow by at most 10 %; what
must stay flat may rise by no more than its allowance below, or its own noise if that is larger (the
interquartile range of its first third: a trend must stand out of the noise). The soak looks for what grows with
uptime: a series that falls (descriptors, connections and scrape times follow how busy the shared
machine is) is reported, not held against the run.

PostgreSQL connections are judged by the role holding them (each process's own sockets,
bench/soak_sample.py), not by the server's sum: the soak's own process holds one per thread that has
seeded payments, and a fault that slows the traffic makes its thread pool grow, a step the sum would read
as the product's growth. The sum and the soak's own are plotted, not judged.

Redis is judged on its dataset (`used_memory`), not its RSS: the burst fills the queue with thousands of
messages, and once they are consumed the allocator keeps the pages it grew to (RSS steps up once and
stays), while the dataset goes back to what it held. A leak in Redis is keys that stay: `used_memory`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench.harness import verdict
from bench.soak_checks import MUST_BE_ZERO
from bench.soak_sample import SOAK_ITSELF
from bench.soak_traffic import ServerError

FINDINGS_START = "<!-- findings: kept by make soak -->"
FINDINGS_END = "<!-- end of findings -->"
RSS_GROWTH_LIMIT = 0.10
# Flat: the last third's median within this many units (or this share) of the first third's.
FLAT_ALLOWANCE = {"fds": (3, 0.10), "pg_connections": (2, 0.10), "files": (2, 0.0), "scrape_ms": (3, 0.25)}

PLOTS = [
    ("rss", "RSS of each process role (largest live process), MB", "rss_mb "),
    ("fds", "Open file descriptors (largest live process)", "fds "),
    ("multiproc-files", "Files in each PROMETHEUS_MULTIPROC_DIR", "files "),
    ("scrape", "One metrics scrape, ms", "scrape_ms "),
    ("postgres", "PostgreSQL connections of the soak's database, by the role holding them", "pg_connections "),
    ("redis", "Redis used memory, MB", "redis_mb"),
    ("backlog", "Queue depth (tasks) and oldest unprocessed inbox row (s)", ("queue_depth", "oldest_unprocessed_s")),
    ("webhook-latency", "Webhook delivery latency per 10 s window, ms", "webhook_p"),
    ("database", "Database size, MB", "database_mb"),
]


@dataclass
class Fault:
    name: str
    at_s: float
    detail: str = ""
    recovery_s: float | None = None


@dataclass
class Run:
    minutes: float
    warmup_s: float
    rate: float
    facts: dict[str, str]
    faults: list[Fault]
    rows: list[dict[str, float | None]]
    done: bool = False
    settle_s: float | None = None
    end_state: dict[str, int] | None = None
    answers: dict[str, int] | None = None
    server_errors: list[ServerError] | None = None


def _series(rows: list[dict], column: str) -> tuple[list[float], list[float]]:
    points = [(r["t_s"], r[column]) for r in rows if r.get(column) not in (None, "")]
    return [p[0] / 60 for p in points], [float(p[1]) for p in points]


def _thirds(rows: list[dict], column: str, warmup_s: float) -> tuple[float, float] | None:
    values = _judged(rows, column, warmup_s)
    if len(values) < 3:
        return None
    third = len(values) // 3
    return statistics.median(values[:third]), statistics.median(values[-third:])


def _judged(rows: list[dict], column: str, warmup_s: float) -> list[float]:
    return [float(r[column]) for r in rows if float(r["t_s"]) >= warmup_s and r.get(column) not in (None, "")]


def _noise(rows: list[dict], column: str, warmup_s: float) -> float:
    """The series' own noise: the interquartile range of its first third after the warm-up (0 for fewer
    than 8 samples there). A scrape's time follows how busy the shared machine is, sample to sample."""
    first = _judged(rows, column, warmup_s)
    first = first[: len(first) // 3]
    if len(first) < 8:
        return 0.0
    quartiles = statistics.quantiles(first, n=4)
    return quartiles[2] - quartiles[0]


def judgements(run: Run) -> list[tuple[str, str, bool | None]]:
    """(what, figures, met) per series; met is None while too few samples are in."""
    columns = sorted({c for r in run.rows for c in r})
    lines: list[tuple[str, str, bool | None]] = []
    for column in columns:
        kind = column.split(" ")[0]
        thirds = _thirds(run.rows, column, run.warmup_s)
        if column == "redis_mb":
            if thirds is None:
                lines.append(("Redis used memory", "too few samples", None))
                continue
            growth = thirds[1] / thirds[0] - 1
            lines.append((f"Redis used memory grows ≤ {RSS_GROWTH_LIMIT:.0%}",
                          f"{thirds[0]:.2f} → {thirds[1]:.2f} MB ({growth:+.1%})", growth <= RSS_GROWTH_LIMIT))  # fmt: skip
        elif column == "rss_mb redis":
            continue  # plotted; judged on used memory above
        elif column in ("pg_connections all", f"pg_connections {SOAK_ITSELF}"):
            continue  # plotted; judged role by role: the sum moves with the soak's own connections
        elif kind == "rss_mb":
            if thirds is None:
                lines.append((f"RSS {column[7:]}", "too few samples", None))
                continue
            growth = thirds[1] / thirds[0] - 1
            lines.append((f"RSS {column[7:]} grows ≤ {RSS_GROWTH_LIMIT:.0%}",
                          f"{thirds[0]:.1f} → {thirds[1]:.1f} MB ({growth:+.1%})", growth <= RSS_GROWTH_LIMIT))  # fmt: skip
        elif kind in FLAT_ALLOWANCE:
            if thirds is None:
                lines.append((f"{column} flat", "too few samples", None))
                continue
            absolute, share = FLAT_ALLOWANCE[kind]
            allowed = max(absolute, thirds[0] * share, _noise(run.rows, column, run.warmup_s))
            lines.append((f"{column} does not grow (+ {allowed:.3g})", f"{thirds[0]:.3g} → {thirds[1]:.3g}",
                          thirds[1] - thirds[0] <= allowed))  # fmt: skip
    return lines


def write(run: Run, out: Path, plots: Path) -> None:
    plots.mkdir(parents=True, exist_ok=True)
    images = [_plot(run, plots, *plot) for plot in PLOTS]
    lines = ["# EventPay soak", ""]
    lines += [
        "Written by `make soak` (bench/soak.py) while it runs; do not edit by hand. The production processes on "
        "one machine (gunicorn with core/gunicorn.conf.py, two Celery workers of 2 processes, beat, PostgreSQL, a "
        "private Redis with AOF, localstripe, an SMTP server), driven by steady mixed traffic; faults on a schedule; "
        "every series sampled every 10 s (bench/soak/series.csv).",
        "",
    ]
    elapsed = (run.rows[-1]["t_s"] or 0.0) / 60 if run.rows else 0.0
    state = "finished" if run.done else f"**running**: {elapsed:.1f} of {run.minutes:g} minutes so far"
    lines += [f"- **state**: {state}"]
    lines += [f"- **{key}**: {value}" for key, value in run.facts.items()]
    lines += [
        f"- **traffic**: {run.rate:g} signed webhook deliveries/s of seeded payments (declines, successes, refunds, "
        "ignored types; 20 % duplicates, shuffled order); an organiser every 4 s signing up, creating an event and "
        "paying at localstripe (a quarter declined first, half of those then paying), localstripe's own webhooks; "
        "public-list reads twice a second; metrics scrapes of the web and every worker every 15 s; the operator's "
        "`retry_stripe_events --failed` and `reconcile_payments` every 5 minutes.",
        f"- **warm-up**: {run.warmup_s / 60:g} minutes, left out of every verdict.",
        "",
    ]
    lines += _verdicts(run)
    lines += _faults(run)
    if run.end_state is not None:
        lines += ["## End state", "", "| count | value |", "| --- | ---: |"]
        lines += [f"| {key} | {value:,} |" for key, value in run.end_state.items()]
        lines += [""]
    lines += _findings(out)
    lines += ["## Series", ""]
    lines += [f"![{title}](soak/{image.name})" for image, title in images if image is not None]
    lines += [""]
    out.write_text("\n".join(lines))


def _findings(out: Path) -> list[str]:
    """The hand-written reading of a finished run, kept from the previous report between its markers."""
    previous = out.read_text() if out.exists() else ""
    if FINDINGS_START in previous and FINDINGS_END in previous:
        kept = previous.split(FINDINGS_START, 1)[1].split(FINDINGS_END, 1)[0]
    else:
        kept = "\n## Findings\n\n(written by hand after a run: what a missed verdict means)\n"
    return [FINDINGS_START + kept + FINDINGS_END, ""]


def _verdicts(run: Run) -> list[str]:
    lines = ["## Verdicts", "", "| verdict | figures | outcome |", "| --- | --- | --- |"]
    for what, figures, met in judgements(run):
        lines.append(f"| {what} | {figures} | {'pending' if met is None else verdict(met)} |")
    if run.answers is not None:
        what, figures, met = answers_judgement(run)
        lines.append(f"| {what} | {figures} | {verdict(met)} |")
    if run.end_state is not None:
        wrong = {key: run.end_state[key] for key in MUST_BE_ZERO if run.end_state[key]}
        settled = "settled" if run.settle_s is None else f"settled {run.settle_s:.0f} s after the last delivery"
        figures = "; ".join(f"{k}: {v}" for k, v in wrong.items()) or f"all counts zero ({settled})"
        lines.append(f"| every paid event live, every fact one email, nothing lost or doubled | {figures} | "
                     f"{verdict(not wrong and run.settle_s is not None)} |")  # fmt: skip
    lines += [""]
    if run.server_errors:
        lines += ["5xx answers (first 20):", "", *[f"- {e}" for e in run.server_errors[:20]], ""]
    return lines


def answers_judgement(run: Run) -> tuple[str, str, bool]:
    """(what, figures, met) for the answers the traffic got: no 5xx but the 503s a fault excuses."""
    answered = ", ".join(f"{n:,} {status}" for status, n in sorted((run.answers or {}).items()))
    errors = run.server_errors or []
    excused = [e for e in errors if _excused(run, e)]
    return (
        "no 5xx, but a 503 with Retry-After while a fault makes PostgreSQL or Redis refuse work",
        f"{answered}: {len(excused)} 503 with Retry-After within a fault, {len(errors) - len(excused)} other",
        len(excused) == len(errors),
    )


# A fault's window: from its start until this many seconds after (Redis restarts within seconds; a request
# caught by it answers within its timeout).
FAULT_WINDOW_S = 60


def _excused(run: Run, error: ServerError) -> bool:
    """A 503 that says when to try again, answered while a fault made PostgreSQL or Redis refuse work: what a
    client should get then (a request whose database connection is cut mid-way cannot be completed). Every
    other 5xx (a 500, or any 5xx outside a fault) counts against the run."""
    return (
        error.status == 503
        and error.retry_after
        and any(f.at_s <= error.at_s <= f.at_s + FAULT_WINDOW_S for f in run.faults if f.name != "burst")
    )


def _faults(run: Run) -> list[str]:
    lines = [
        "## Faults",
        "",
        "Recovery: seconds from the fault's end until the backlog was clear (no inbox row waiting 5 s or more) "
        "and stayed so for 30 s.",
        "",
    ]
    lines += ["| fault | at minute | what happened | recovery s |", "| --- | ---: | --- | ---: |"]
    for fault in run.faults:
        recovery = "—" if fault.recovery_s is None else f"{fault.recovery_s:.0f}"
        lines.append(f"| {fault.name} | {fault.at_s / 60:.1f} | {fault.detail or 'pending'} | {recovery} |")
    return [*lines, ""]


def _plot(run: Run, plots: Path, name: str, title: str, prefix) -> tuple[Path | None, str]:
    prefixes = prefix if isinstance(prefix, tuple) else (prefix,)
    columns = sorted({c for r in run.rows for c in r if c.startswith(prefixes)})
    if not columns:
        return None, title
    figure, axes = plt.subplots(figsize=(9, 3.6))
    for column in columns:
        xs, ys = _series(run.rows, column)
        axes.plot(xs, ys, label=column.removeprefix(prefixes[0]) if len(prefixes) == 1 else column, linewidth=1.2)
    axes.axvspan(0, run.warmup_s / 60, color="0.9", label="warm-up")
    for fault in run.faults:
        if fault.detail:
            axes.axvline(fault.at_s / 60, color="tab:red", linestyle=":", linewidth=1)
            axes.annotate(fault.name, (fault.at_s / 60, 1), xycoords=("data", "axes fraction"), fontsize=7,
                          rotation=90, va="top", ha="right", color="tab:red")  # fmt: skip
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("minutes")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    path = plots / f"{name}.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path, title
