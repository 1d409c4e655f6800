"""The batch sizes the stack actually saw, read from the product's own histograms: inbox rows per insert
(`eventpay_webhook_rows_per_insert`, the web processes' group commit), inbox ids per wake-up message
(`eventpay_hand_over_group_size`, counted by the web processes as they wake the workers) and inbox rows
closed per transaction (`eventpay_stripe_events_per_transaction`, counted by the workers, `batch` or
`alone`).

The benchmark's gunicorn and each of its workers keep their values in a PROMETHEUS_MULTIPROC_DIR of their
own (as production does); the harness reads a directory with the product's collector before and after a
phase and keeps the difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

HAND_OVER = "eventpay_hand_over_group_size"
WEBHOOK_INSERT = "eventpay_webhook_rows_per_insert"
PER_TRANSACTION = "eventpay_stripe_events_per_transaction"


@dataclass(frozen=True)
class Sizes:
    """One histogram's reading: cumulative counts by upper bound, and the sum of the sizes observed."""

    cumulative: dict[float, float] = field(default_factory=dict)
    total: float = 0.0

    def minus(self, before: Sizes) -> Sizes:
        return Sizes({le: n - before.cumulative.get(le, 0.0) for le, n in self.cumulative.items()},
                     self.total - before.total)  # fmt: skip

    @property
    def observations(self) -> int:
        return round(max(self.cumulative.values(), default=0.0))

    @property
    def mean(self) -> float | None:
        return self.total / self.observations if self.observations else None

    def per_bucket(self) -> dict[float, int]:
        """How many observations fell in each bucket (not cumulative), by its upper bound."""
        result, below = {}, 0.0
        for le in sorted(self.cumulative):
            result[le] = round(self.cumulative[le] - below)
            below = self.cumulative[le]
        return result


def read(directory: Path, metric: str, **labels: str) -> Sizes:
    """The histogram `metric` with exactly these labels, as the processes writing `directory` counted it
    (an empty reading before anything was counted)."""
    from prometheus_client import CollectorRegistry

    from core.metrics_multiprocess import ArchivedMultiProcessCollector

    if not directory.is_dir():
        return Sizes()
    registry = CollectorRegistry()
    ArchivedMultiProcessCollector(registry, path=str(directory))
    cumulative: dict[float, float] = {}
    total = 0.0
    for family in registry.collect():
        for sample in family.samples if family.name == metric else ():
            rest = {k: v for k, v in sample.labels.items() if k != "le"}
            if rest != labels:
                continue
            if sample.name == f"{metric}_bucket":
                cumulative[float(sample.labels["le"])] = sample.value
            elif sample.name == f"{metric}_sum":
                total = sample.value
    return Sizes(cumulative, total)
