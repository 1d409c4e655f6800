"""prometheus_client's multiprocess mode with a directory that stays as large as the live processes.

Every process writes its values into files of its own in PROMETHEUS_MULTIPROC_DIR, and
prometheus_client removes only a dead process's live gauges: the files of every gunicorn worker
ever recycled (max_requests) and every pool child ever replaced would pile up, and a scrape reads
them all. Here an exited process's counts are added into one archive file per metric type.

No Django here: gunicorn's master process calls this (core/gunicorn.conf.py) without loading the app.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import CollectorRegistry

# Values a process adds up over its life, which must outlive it; gauges are the live processes' own.
_ARCHIVED_TYPES = ("counter", "histogram", "summary")


@contextlib.contextmanager
def _directory_lock(directory: Path, operation: int) -> Iterator[None]:
    """Scrapes (shared) never read the directory halfway through an archiving (exclusive): they would
    count an exited process twice, or not at all, and a counter would seem to go back."""
    with open(directory / "archive.lock", "a") as lock:
        fcntl.flock(lock, operation)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def metrics_archive_process(*, directory: Path, pid: int) -> None:
    """Adds an exited process's counters, histograms and summaries into `<type>_archive.db` and removes
    its files (and its live gauges). Called once per process, after it has exited or as it exits."""
    with _directory_lock(directory, fcntl.LOCK_EX):
        for metric_type in _ARCHIVED_TYPES:
            exited = directory / f"{metric_type}_{pid}.db"
            if not exited.exists():
                continue
            archive = MmapedDict(str(directory / f"{metric_type}_archive.db"))
            try:
                # Keys are the same JSON in every file: a histogram's buckets are kept uncumulated, so
                # every value, bucket or sum or count, adds up.
                for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(exited)):
                    archived, _ = archive.read_value(key)
                    archive.write_value(key, archived + value, timestamp)
            finally:
                archive.close()
            exited.unlink()
        mark_process_dead(pid, str(directory))


class ArchivedMultiProcessCollector(MultiProcessCollector):
    """prometheus_client's multiprocess collector, reading its directory between two archivings."""

    def __init__(self, registry: CollectorRegistry | None, path: str | None = None) -> None:
        super().__init__(registry, path)

    def collect(self) -> list[Metric]:
        with _directory_lock(Path(self._path), fcntl.LOCK_SH):
            return list(super().collect())
