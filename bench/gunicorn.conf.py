"""Gunicorn for the benchmark: production's choices (core/gunicorn.conf.py: gthread, 4 threads,
keep-alive) with the worker count fixed at 2 and without what would blur the figures (the access
log, worker recycling every ~2,000 requests). The bare view and the webhook share this config."""

wsgi_app = "core.wsgi:application"
worker_class = "gthread"
workers = 2
threads = 4
keepalive = 5
timeout = 30
backlog = 2048
accesslog = None
loglevel = "warning"
control_socket_disable = True
