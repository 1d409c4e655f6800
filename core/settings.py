"""EventPay settings: one module, read from the environment (every variable is listed in .env.example)."""

import ipaddress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

# Django's generic classes (ModelAdmin[Event], QuerySet[Payment]) subscriptable at run time, as their types are.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Fails closed: production unless DJANGO_DEBUG=true (`make run` and the tests set it).
DEBUG = env.bool("DJANGO_DEBUG", default=False)
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEV_SECRET_KEY if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else environ.Env.NOTSET
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "axes",
    "csp",
    "core",
    "events",
    "payments",
    "worker",
]

MIDDLEWARE = [
    # First: no later middleware may read a forwarded header that a client wrote itself.
    "core.limits.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, which answers the React app's files (index.html too) without the middleware below it.
    "core.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.AdminIdleTimeoutMiddleware",
    "core.mfa.AdminSecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Turns a login refused by django-axes's lockout into core.limits.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
# Persistent connections: web and worker processes reuse theirs instead of reconnecting per request or task.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out username or client before a password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Paths are settable because the Docker image installs the project as a wheel (away from BASE_DIR).
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
# The built React app is served from the site root (assets carry content hashes from Vite).
FRONTEND_DIST = Path(env("DJANGO_FRONTEND_DIST", default=str(BASE_DIR / "frontend" / "dist")))
WHITENOISE_ROOT = FRONTEND_DIST
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}


def _networks(name: str, values: list[str]) -> list[str]:
    """Networks in CIDR (a bare address is a /32 or /128), refused at start if malformed."""
    try:
        return [str(ipaddress.ip_network(value, strict=False)) for value in values]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from exc


# The proxies of ours in front of gunicorn (a TLS proxy, a load balancer), as networks. Only a peer in one of
# them is believed about X-Forwarded-For (who the client is) and X-Forwarded-Proto (https); from anyone else
# those headers are dropped. Empty (the default) trusts no forwarded header: gunicorn is exposed directly.
# See core/limits.py and docs/DEPLOYMENT.md.
TRUSTED_PROXY_NETWORKS = _networks("TRUSTED_PROXY_NETWORKS", env.list("TRUSTED_PROXY_NETWORKS", default=[]))
if "NUM_PROXIES" in env:
    # Its replacement names the proxies instead of counting them; ignoring it would make every client the proxy.
    raise ImproperlyConfigured("NUM_PROXIES is replaced by TRUSTED_PROXY_NETWORKS: the networks of the proxies.")

# Who may read /api/metrics (core/metrics.py): a bearer token, and/or client networks (CIDR, comma-separated).
# With neither, it is open in development and answers 404 in production.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = _networks("METRICS_ALLOWED_NETWORKS", env.list("METRICS_ALLOWED_NETWORKS", default=[]))

# The webhook endpoint answers 413 above this; Django refuses larger form bodies too.
STRIPE_WEBHOOK_MAX_BYTES = 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = STRIPE_WEBHOOK_MAX_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "knox.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.exception_handler.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("THROTTLE_AUTH", default="20/min"),
        "register": env("THROTTLE_REGISTER", default="10/hour"),
        "checkout": env("THROTTLE_CHECKOUT", default="30/min"),
        "event_create": env("THROTTLE_EVENT_CREATE", default="30/hour"),
        "password_reset": env("THROTTLE_PASSWORD_RESET", default="5/hour"),
        "verification_email": env("THROTTLE_VERIFICATION_EMAIL", default="5/hour"),
        "csp_report": env("THROTTLE_CSP_REPORT", default="60/min"),
    },
    # The throttles name a client by core.limits.client_ip (TRUSTED_PROXY_NETWORKS); 0 keeps DRF's own rule, if
    # anything used it, on the connecting address (None would believe the whole X-Forwarded-For a client sends).
    "NUM_PROXIES": 0,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "core.openapi.ApiSchema",
}
# API tokens (django-rest-knox): stored as SHA-512 digests, expire API_TOKEN_TTL_HOURS after they are issued,
# and are still sent as `Authorization: Token <key>`.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=72)),
    "AUTH_HEADER_PREFIX": "Token",
}
# How long an emailed password-reset link works (it works once in any case).
PASSWORD_RESET_TIMEOUT = 3600 * env.int("PASSWORD_RESET_TIMEOUT_HOURS", default=1)
# An operator idle this long in the admin is logged out.
ADMIN_IDLE_TIMEOUT_MINUTES = env.int("ADMIN_IDLE_TIMEOUT_MINUTES", default=30)
# How long an emailed link confirming an address works.
EMAIL_VERIFICATION_MAX_AGE_HOURS = env.int("EMAIL_VERIFICATION_MAX_AGE_HOURS", default=72)
# The OpenAPI schema at /api/schema/ and its docs at /api/docs/ (Swagger UI served from our own static files).
SPECTACULAR_SETTINGS = {
    "TITLE": "EventPay API",
    "DESCRIPTION": 'Events go live once Stripe confirms the activation fee. Errors answer {"detail": …}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "payments.openapi.add_stripe_webhooks",
        "core.openapi.add_error_responses",
    ],
    # Several resources have a `status`: each set of values gets a name of its own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": "events.models.Event.Status",
        "PaymentStatusEnum": "payments.models.payment.Payment.Status",
    },
}

# Stripe. Without a secret key the app runs against the offline stand-in (localstripe).
STRIPE_SECRET_KEY: str = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRETS = [s.strip() for s in env("STRIPE_WEBHOOK_SECRET", default="").split(",") if s.strip()]
# The event destination's (thin events, POST /api/payments/webhook/thin/); none configured refuses every delivery.
STRIPE_THIN_WEBHOOK_SECRETS = [s.strip() for s in env("STRIPE_THIN_WEBHOOK_SECRET", default="").split(",") if s.strip()]
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Offline mode (localstripe, the offline stand-in; see offline/) is switched on by the stand-in's own key
# only, never by a test or live key: it mounts the browser's route to localstripe and its differences.
STRIPE_OFFLINE = STRIPE_SECRET_KEY.startswith("sk_offline_")
if STRIPE_OFFLINE:
    STRIPE_API_BASE = STRIPE_API_BASE or "http://127.0.0.1:8420"
    STRIPE_PUBLISHABLE_KEY = STRIPE_PUBLISHABLE_KEY or "pk_offline_eventpay"
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300
# Operators' second factor (core/mfa.py): the issuer authenticator apps show beside the code, and the one
# operator let into the admin without one, the demo login `make run` names; ignored unless DEBUG is on and
# Stripe is the offline stand-in, so never in production.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="EventPay")
MFA_EXEMPT_USERNAME = env("MFA_EXEMPT_USERNAME", default="") if DEBUG and STRIPE_OFFLINE else ""
# Each call to Stripe gives up after these (the SDK retries twice): a slow Stripe must not hold web threads.
STRIPE_CONNECT_TIMEOUT_SECONDS: float = env.float("STRIPE_CONNECT_TIMEOUT_SECONDS", default=3.0)
STRIPE_READ_TIMEOUT_SECONDS: float = env.float("STRIPE_READ_TIMEOUT_SECONDS", default=10.0)

# Content-Security-Policy on every response (django-csp; core/csp.py): scripts only from this site and
# Stripe.js, frames, connections and images as Stripe documents for Stripe.js and the PaymentElement. The
# offline stand-in's script and API route are served by this site, so offline mode needs nothing more.
# CSP_REPORT_ONLY=true sends the same policy as Content-Security-Policy-Report-Only (a staged rollout).
CSP_REPORT_URL = "/api/csp-report/"
CSP_REPORT_MAX_BYTES = 64 * 1024
STRIPE_JS_ORIGINS = ["https://js.stripe.com", "https://*.js.stripe.com"]
_CSP_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", *STRIPE_JS_ORIGINS],
        "frame-src": [*STRIPE_JS_ORIGINS, "https://hooks.stripe.com"],
        "connect-src": ["'self'", "https://api.stripe.com"],
        "img-src": ["'self'", "https://*.stripe.com"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        # report-uri only: Chromium ignores it once report-to is present, and then delivered no report at all
        # (headless Chromium 156, Reporting-Endpoints set); the endpoint already takes the Reporting API's format.
        "report-uri": [CSP_REPORT_URL],
    }
}
# (No CSP_REPORT_ONLY setting: django-csp 4 refuses to start with its 3.x setting names.)
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP_POLICY
else:
    CONTENT_SECURITY_POLICY = _CSP_POLICY
# Only this site and Stripe.js may ask the browser for a payment (Apple Pay, Google Pay).
PERMISSIONS_POLICY = 'payment=(self "https://js.stripe.com")'
# Other sites (Stripe among them) are told this site's origin, never a page's path or query (a client secret).
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

EVENT_ACTIVATION_FEE = env.int("EVENT_ACTIVATION_FEE", default=1500)
EVENT_ACTIVATION_CURRENCY = env("EVENT_ACTIVATION_CURRENCY", default="usd").lower()
# Unpaid checkouts (open payments, each a PaymentIntent at Stripe) one organiser may have at once.
CHECKOUT_OPEN_PAYMENTS_LIMIT = env.int("CHECKOUT_OPEN_PAYMENTS_LIMIT", default=10)

# Fulfilment timings (see worker/celery.py for the beat schedule).
STRIPE_EVENT_SWEEP_AFTER_SECONDS = env.int("STRIPE_EVENT_SWEEP_AFTER_SECONDS", default=120)
# The webhook's rows are stored in groups: the rows of a web process's concurrent requests, up to this many,
# in one INSERT and one commit.
WEBHOOK_INSERT_MAX_ROWS = env.int("WEBHOOK_INSERT_MAX_ROWS", default=100)
# A worker's batch: the rows of its message, topped up to this many with other rows waiting in the inbox.
FULFILMENT_BATCH_MAX_ROWS = env.int("FULFILMENT_BATCH_MAX_ROWS", default=100)
# An unprocessed inbox row older than this is an alert (an ERROR log line and the `eventpay_alert` metric).
STRIPE_EVENT_BACKLOG_ALERT_SECONDS = env.int("STRIPE_EVENT_BACKLOG_ALERT_SECONDS", default=300)
PAYMENT_RECONCILE_AFTER_SECONDS = env.int("PAYMENT_RECONCILE_AFTER_SECONDS", default=600)
PAYMENT_ABANDON_AFTER_SECONDS = env.int("PAYMENT_ABANDON_AFTER_SECONDS", default=24 * 3600)
# At most this many payments asked about per run of reconcile / cancel (every 5 min / hourly) and of the
# hourly re-check of succeeded payments' charges (refunds, disputes): Stripe's rate limits are shared.
PAYMENT_RECONCILE_BATCH_SIZE = env.int("PAYMENT_RECONCILE_BATCH_SIZE", default=200)
PAYMENT_RECHECK_BATCH_SIZE = env.int("PAYMENT_RECHECK_BATCH_SIZE", default=50)
# Refunds Stripe took whose webhook never came, applied per run of the refunds' reconcile (every 5 min).
REFUND_RECONCILE_BATCH_SIZE = env.int("REFUND_RECONCILE_BATCH_SIZE", default=50)
# Payments one admin Refund action may take (a "select all" over more is refused).
ADMIN_REFUND_MAX_PER_ACTION = env.int("ADMIN_REFUND_MAX_PER_ACTION", default=20)

# Email to organisers (payments/services/notifications.py), e.g. smtp://user:password@smtp.example.com:587
# with ?tls=True, or smtp+ssl://…:465. Development prints emails to the log; `make run` starts an SMTP server.
vars().update(env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://127.0.0.1:25"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="EventPay <noreply@eventpay.localhost>")
# Where the links in emails point: the address organisers open the app at.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# A notification not sent after this is handed to the workers again.
NOTIFICATION_SWEEP_AFTER_SECONDS = env.int("NOTIFICATION_SWEEP_AFTER_SECONDS", default=600)
# A sender's claim on a notification (`sending`) older than this is taken over: its sender died. Longer than
# a send can last: each SMTP step may take EMAIL_TIMEOUT, and the task's hard time limit (90 s) ends a sender.
NOTIFICATION_CLAIM_TIMEOUT_SECONDS = env.int("NOTIFICATION_CLAIM_TIMEOUT_SECONDS", default=120)
if NOTIFICATION_CLAIM_TIMEOUT_SECONDS <= EMAIL_TIMEOUT:
    raise ImproperlyConfigured(
        "NOTIFICATION_CLAIM_TIMEOUT_SECONDS must be longer than EMAIL_TIMEOUT: a worker still waiting for the "
        "SMTP server would see its email taken over and sent twice."
    )

# Celery: Redis broker, results in the database (django-celery-results).
CELERY_BROKER_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")


def _next_redis_database(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{int(parts.path.strip('/') or 0) + 1}"))


# The cache every process shares: login lockouts and throttle counters hold across gunicorn processes
# and hosts. Redis, on the database after the broker's unless CACHE_URL names one (its keys carry a
# prefix of their own, so sharing the broker's database is safe too; the tests do). While Redis cannot
# answer (down, loading its data after a restart), each process counts in its own memory (core/cache.py).
CACHES = {
    "default": {
        "BACKEND": "core.cache.SharedCache",
        "LOCATION": env("CACHE_URL", default=_next_redis_database(CELERY_BROKER_URL)),
        "KEY_PREFIX": "eventpay-cache",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}
# After Redis failed to answer, each process asks it again this long after the last failure.
SHARED_CACHE_RETRY_SECONDS = env.float("SHARED_CACHE_RETRY_SECONDS", default=5.0)

# Login lockout (django-axes, counters in the cache above): after LOGIN_FAILURE_LIMIT failed logins a
# client is locked for LOGIN_LOCKOUT_MINUTES on that username (the pair: the owner, from their own address,
# still logs in), and an address whatever usernames it tries; the API and /admin/login/ alike. Failures
# during a lockout do not extend it. A guess spread over many addresses meets a softer limit per username
# (core/login_lockout.py): LOGIN_USERNAME_FAILURE_LIMIT failures within a fixed window of
# LOGIN_USERNAME_LOCKOUT_MINUTES lock the username until that window ends.
AXES_HANDLER = "core.login_lockout.LoginLockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
LOGIN_USERNAME_FAILURE_LIMIT = env.int("LOGIN_USERNAME_FAILURE_LIMIT", default=30)
LOGIN_USERNAME_LOCKOUT = timedelta(minutes=env.int("LOGIN_USERNAME_LOCKOUT_MINUTES", default=5))
AXES_CLIENT_IP_CALLABLE = "core.limits.client_ip"
AXES_LOCKOUT_CALLABLE = "core.limits.lockout_response"
# The cache handler keeps no database log: nothing for axes's admin pages to show.
AXES_ENABLE_ADMIN = False
# No start-up banner in every process's log; failure lines name only what a lockout is keyed on (masked).
AXES_VERBOSE = False
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
CELERY_TASK_IGNORE_RESULT = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message not acked within this is redelivered: above every time limit and retry countdown.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 5,
    "socket_connect_timeout": 2,
    "retry_on_timeout": True,
    "health_check_interval": 30,
}
CELERY_BROKER_POOL_LIMIT = 10
# The webhook must answer quickly even with the broker down: fail fast, the sweeper re-sends.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_TIMEZONE = "UTC"
# Two queues: fulfilment and every other task on Celery's default one, and the emails fulfilment records on
# their own, so that a burst's thousands of emails never wait in front of an event's activation (and a slow
# SMTP server never holds the workers that activate events). A worker consumes both unless `--queues` names
# one: a deployment that wants emails apart runs workers with `--queues notifications` and others with
# `--queues celery` (docs/DEPLOYMENT.md, "Scaling").
CELERY_TASK_DEFAULT_QUEUE = "celery"
NOTIFICATIONS_QUEUE = "notifications"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(NOTIFICATIONS_QUEUE))
CELERY_TASK_ROUTES = {
    "worker.tasks.send_notification": {"queue": NOTIFICATIONS_QUEUE},
    "worker.tasks.send_notifications": {"queue": NOTIFICATIONS_QUEUE},
}
CELERY_WORKER_SEND_TASK_EVENTS = False
# No remote control (`celery inspect`, `control`): its pub/sub channel, failing to close when Redis restarted,
# killed workers that held a task (docs/DEPLOYMENT.md, "Redis restarts"; offline/processes.py, WORKER_OPTIONS).
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Soft shutdown (a cold shutdown, which SIGTERM starts when REMAP_SIGTERM=SIGQUIT as in docker-compose.yml):
# running tasks get this long to finish, then are cancelled unacknowledged and Redis hands them to another
# worker. An idle worker stops at once: messages it holds for a later retry go back to Redis as it closes.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=20.0)
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = False

# Logs: JSON lines in production, readable lines in development (LOG_FORMAT overrides); each record
# carries the Stripe event, PaymentIntent, payment and task ids where known, and never a secret (core/logging.py).
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "text": {"()": "core.logging.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # runserver's request lines carry query strings (the return page's client secret): redact them too.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
# Celery workers log through LOGGING above instead of replacing the root logger's handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Retention: processed and ignored webhook inbox rows are deleted this many days after they arrived
# (beat, hourly, in batches; `manage.py prune_stripe_events`). Failed and unfinished rows, and rows an operator
# acted on, are kept.
STRIPE_EVENT_RETENTION_DAYS = env.int("STRIPE_EVENT_RETENTION_DAYS", default=90)
# Each Celery worker serves its own counters (worker/metrics.py) on this port; 0 serves none.
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
WORKER_METRICS_ADDR = env("WORKER_METRICS_ADDR", default="0.0.0.0")  # nosec B104: inside the worker's network

if not DEBUG:
    # Django's own test for a real key (check --deploy's security.W009), refused at start instead of warned about.
    if (
        SECRET_KEY == DEV_SECRET_KEY
        or SECRET_KEY.startswith("django-insecure-")
        or len(SECRET_KEY) < 50
        or len(set(SECRET_KEY)) < 5
    ):
        raise ImproperlyConfigured(
            "DJANGO_DEBUG=false needs a real DJANGO_SECRET_KEY: 50 or more random characters, "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_DEBUG=false needs DJANGO_ALLOWED_HOSTS: the host names the site answers to.")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # X-Forwarded-Proto is read only behind a proxy of ours, which must set it itself and drop any sent by the
    # client; core.limits.ForwardedHeadersMiddleware drops it from any other peer.
    if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=bool(TRUSTED_PROXY_NETWORKS)):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Probes and Prometheus scrape over plain HTTP inside the network (/api/metrics asks for its own token).
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$", r"^api/ready/$", r"^api/metrics$"]
