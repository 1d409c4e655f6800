"""The worker's own metrics endpoint, for the counters and histograms its tasks keep (payments/metrics.py).

Workers may run on hosts no web process can read, so each worker serves what its processes counted,
at `http://<host>:WORKER_METRICS_PORT/metrics`, scraped by Prometheus beside the web's `/api/metrics`
(which serves the web processes' counters and what the database knows). The prefork pool's child
processes write their values into PROMETHEUS_MULTIPROC_DIR (a directory of this worker's own,
emptied as it starts); the main process sums them when scraped. A child that exits (one replaced by
the pool) adds its counts into the directory's archive files (core/metrics_multiprocess.py), so the
directory does not grow with every child ever started.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from celery import signals
from prometheus_client import CollectorRegistry, start_http_server

from core.metrics_multiprocess import ArchivedMultiProcessCollector, metrics_archive_process

logger = logging.getLogger(__name__)


def _multiprocess_directory() -> Path | None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(directory) if directory else None


@signals.celeryd_init.connect
def empty_multiprocess_directory(**kwargs: object) -> None:
    """Values left by an earlier run of this worker would be added to this one's. Sent in the worker's main
    process before its pool starts; Django has started, but no value exists yet: every metric the
    workers keep has labels, and a labelled value is created when first counted."""
    directory = _multiprocess_directory()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        path.unlink()


@signals.worker_process_shutdown.connect
def archive_child_metrics(pid: int, **kwargs: object) -> None:
    """Sent in a pool child as it exits; a child killed outright (SIGKILL) leaves its files until the
    worker restarts and empties the directory."""
    directory = _multiprocess_directory()
    if directory is not None:
        metrics_archive_process(directory=directory, pid=pid)


@signals.worker_init.connect
def serve_metrics(**kwargs: object) -> None:
    """Serves the worker's metrics from its main process, when WORKER_METRICS_PORT is set."""
    from django.conf import settings

    from core.metrics import PROCESS_REGISTRY

    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    if _multiprocess_directory() is None:
        logger.warning(
            "WORKER_METRICS_PORT is set without PROMETHEUS_MULTIPROC_DIR: only the main process's values are "
            "served, which misses every task run by the prefork pool's child processes"
        )
        registry = PROCESS_REGISTRY
    else:
        registry = CollectorRegistry(auto_describe=False)
        ArchivedMultiProcessCollector(registry)
    start_http_server(port, addr=settings.WORKER_METRICS_ADDR, registry=registry)
    logger.info("worker metrics served on %s:%s/metrics", settings.WORKER_METRICS_ADDR, port)
