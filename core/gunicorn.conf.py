"""Gunicorn in production (docker-compose.yml's `web`): `gunicorn -c /app/gunicorn.conf.py`.

Sizing comes from the CPUs this process may use, overridable per host with WEB_CONCURRENCY and
GUNICORN_THREADS. Every thread keeps one persistent database connection (CONN_MAX_AGE), so one
web host holds up to workers x threads connections to PostgreSQL.
"""

import os


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs a container's cpuset allows, not the host's
    except AttributeError:
        return os.cpu_count() or 1


wsgi_app = "core.wsgi:application"
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# Threads overlap the waits on Stripe and PostgreSQL; processes use the CPUs.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * _cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))

# A request still running after `timeout` seconds gets its worker killed and restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On SIGTERM (docker stop) workers stop accepting and finish in-flight requests for this long;
# docker-compose.yml's stop_grace_period for web is longer, so nothing is cut short by SIGKILL.
graceful_timeout = 25
# Behind a load balancer that reuses connections: keep idle ones a little longer than it does not.
keepalive = 5
# Recycle workers now and then so a slow leak never grows unbounded; jitter avoids restarting all at once.
max_requests = 2000
max_requests_jitter = 200

# The heartbeat file lives in memory: a container's overlay filesystem can stall it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No runtime control socket: nothing here uses gunicornc, and $HOME may not be writable.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Remote address as the proxy reports it, request line, status, bytes, duration in microseconds.
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(r)s" %(s)s %(B)s %(D)sus "%(a)s"'
# Access and error lines through our redacting formatters: the return page's query string holds a client secret.
logger_class = "core.logging.GunicornLogger"


def on_starting(server):
    """Webhook delivery counters are summed across workers (prometheus_client's multiprocess mode):
    its directory must start empty with every master."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    """A recycled worker's counts go into the archive files: its own would pile up, one set per worker
    ever started, and every scrape reads them all."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from pathlib import Path

        from core.metrics_multiprocess import metrics_archive_process

        metrics_archive_process(directory=Path(directory), pid=worker.pid)
