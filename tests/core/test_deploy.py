"""The deployment files, checked without a Docker engine: docker-compose.yml, the Dockerfile, .env.example,
the gunicorn config and the production settings (in subprocesses, with production values)."""

from __future__ import annotations

import ast
import json
import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "beat")
# Modules whose environment variables an operator sets: Django's settings and gunicorn's config.
CONFIG_MODULES = (ROOT / "core" / "settings.py", ROOT / "core" / "gunicorn.conf.py")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env_calls(path: Path) -> dict[str, ast.Call]:
    """Every `env(...)`, `env.<type>(...)`, `os.environ.get(...)`, `os.environ[...]` read, by variable name."""
    found: dict[str, ast.Call] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            reads_env = (isinstance(func, ast.Name) and func.id == "env") or (
                isinstance(func, ast.Attribute)
                and (
                    (isinstance(func.value, ast.Name) and func.value.id == "env")
                    or (ast.unparse(func) in ("os.environ.get", "os.getenv"))
                )
            )
            name = node.args[0] if node.args else None
            if reads_env and isinstance(name, ast.Constant) and isinstance(name.value, str):
                found[name.value] = node
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            found[node.slice.value] = node
    return found


def variables_read() -> set[str]:
    return {name for path in CONFIG_MODULES for name in env_calls(path)}


def env_example() -> dict[str, tuple[str, bool]]:
    """.env.example's variables: name → (value, set) where set is False for a commented-out default."""
    variables = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"(# )?([A-Z][A-Z0-9_]*)=(.*)", line)
        if match:
            variables[match.group(2)] = (match.group(3), match.group(1) is None)
    return variables


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    assert match, duration
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]


def command_line(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def healthcheck_line(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


# --- docker-compose.yml -----------------------------------------------------------------------------
# What a change to the file could break without it showing: how services refer to one another and to the
# other configuration files, and the few values a payment system depends on. Values that only say
# themselves (images, intervals, the exact commands) are not repeated here; `make test-deploy` runs them.


def test_the_stand_ins_run_only_in_the_offline_profile(services):
    # Production never starts the stand-ins (Stripe's, the mail server's); the app services run in every profile.
    offline = {name for name, service in services.items() if service.get("profiles") == ["offline"]}
    assert offline == {"localstripe", "mail"}
    assert not {"web", "worker", "beat", "postgres", "redis"} & {n for n, s in services.items() if "profiles" in s}


def test_every_service_waited_for_as_healthy_has_a_healthcheck(services):
    waited = {
        dependency
        for service in services.values()
        for dependency, condition in dict(service.get("depends_on") or {}).items()
        if condition.get("condition") == "service_healthy"
    }
    assert {"postgres", "redis", "web"} <= waited
    for name in waited:
        assert "healthcheck" in services[name], name


def test_postgres_and_redis_keep_their_data_in_declared_named_volumes(compose, services):
    for name in ("postgres", "redis"):
        sources = [volume.split(":")[0] for volume in services[name]["volumes"]]
        assert any(source in (compose.get("volumes") or {}) for source in sources), name


def test_redis_persists_every_write_and_never_evicts_a_task(services):
    command = services["redis"]["command"]
    flags = dict(zip(command[1::2], command[2::2], strict=False))
    assert flags["--appendonly"] == "yes"
    assert flags["--maxmemory-policy"] == "noeviction"


def test_redis_asks_for_the_password_that_the_apps_url_and_its_own_cli_carry(compose, services):
    command = services["redis"]["command"]
    password = command[command.index("--requirepass") + 1]
    assert "REDIS_PASSWORD" in password
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == password  # the healthcheck's redis-cli
    assert f"redis://:{password}@redis:6379/0" in compose["x-app-environment"]["REDIS_URL"]


def test_prometheus_runs_only_in_the_monitoring_profile_with_the_rules_and_the_metrics_token(compose, services):
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert prometheus["secrets"] == ["metrics_token"]
    assert compose["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    config = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    assert "credentials_file: /run/secrets/metrics_token" in config


def test_web_worker_and_beat_run_one_image_from_one_env_file(services):
    web = services["web"]
    for name in APP_SERVICES:
        service = services[name]
        assert (service["build"], service["image"], service["env_file"]) == (
            web["build"],
            web["image"],
            web["env_file"],
        ), name
        assert {"DATABASE_URL", "REDIS_URL"} <= set(service["environment"]), name


def test_web_migrates_then_serves_once_postgres_and_redis_are_healthy(services):
    web = services["web"]
    command = command_line(web)
    assert command.index("django-admin migrate --no-input") < command.index("exec gunicorn")
    for dependency in ("postgres", "redis"):
        assert web["depends_on"][dependency]["condition"] == "service_healthy", dependency


def test_web_health_is_readiness_on_the_port_gunicorn_binds(services):
    web = services["web"]
    port = web["environment"]["PORT"]
    assert f"127.0.0.1:{port}/api/ready/" in healthcheck_line(web)
    assert [mapping.rsplit(":", 1)[1] for mapping in web["ports"]] == [port]


def test_web_is_given_longer_to_stop_than_gunicorns_graceful_timeout(services):
    config = runpy.run_path(str(ROOT / "core" / "gunicorn.conf.py"))
    assert seconds(services["web"]["stop_grace_period"]) > config["graceful_timeout"]


def test_worker_scales_with_scale_flag(services):
    worker = services["worker"]
    assert "celery --app worker worker" in command_line(worker)
    # Anything fixed per container (a name, a host port) would make a second instance fail to start.
    assert "container_name" not in worker
    assert "ports" not in worker
    assert "replicas" not in worker.get("deploy", {})
    assert "%h" in command_line(worker), "each instance needs its own Celery node name"


def test_worker_runs_as_the_tests_and_benchmarks_run_it_and_its_health_needs_no_remote_control(services):
    # Gossip and remote control hold pub/sub channels whose failed close, as Redis restarts, killed workers.
    from offline.processes import WORKER_OPTIONS

    worker = services["worker"]
    assert set(WORKER_OPTIONS) <= set(worker["command"])
    assert "inspect" not in healthcheck_line(worker), "`celery inspect` needs remote control, which is off"
    assert f":{worker['environment']['WORKER_METRICS_PORT']}/metrics" in healthcheck_line(worker)


def test_worker_stops_with_a_soft_shutdown_shorter_than_its_grace_period(services):
    worker = services["worker"]
    settings_default = env_calls(ROOT / "core" / "settings.py")["CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT"]
    soft_shutdown = ast.literal_eval(next(k.value for k in settings_default.keywords if k.arg == "default"))
    assert worker["environment"]["REMAP_SIGTERM"] == "SIGQUIT"
    assert soft_shutdown > 0
    assert seconds(worker["stop_grace_period"]) >= soft_shutdown + 10


def test_exactly_one_beat(services):
    beat = services["beat"]
    assert "celery --app worker beat" in command_line(beat)
    # A fixed container name makes `docker compose up --scale beat=2` fail instead of running two schedulers.
    assert beat["container_name"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    for name, service in services.items():
        if name != "beat" and "command" in service:
            assert not re.search(r"\bbeat\b|(^|\s)(-B|--beat)(\s|$)", command_line(service)), name


def test_worker_and_beat_start_after_web_has_migrated(services):
    for name in ("worker", "beat"):
        assert services[name]["depends_on"]["web"]["condition"] == "service_healthy", name


# --- one .env ---------------------------------------------------------------------------------------


def test_every_variable_the_configuration_reads_is_documented_in_env_example():
    read = variables_read()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_WEBHOOK_SECRET"} <= read  # the parser works

    assert sorted(read - set(env_example())) == []


def test_env_example_sets_what_production_requires():
    example = env_example()
    for name in ("DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "STRIPE_SECRET_KEY",
                 "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "POSTGRES_PASSWORD", "REDIS_PASSWORD"):  # fmt: skip
        assert example[name][1], f"{name} must be set (uncommented) in .env.example"
    assert example["DJANGO_DEBUG"][0] == "false"


def test_every_variable_compose_interpolates_is_documented_in_env_example():
    text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert {"POSTGRES_PASSWORD", "DATABASE_URL", "REDIS_URL", "PORT"} <= interpolated

    assert sorted(interpolated - set(env_example())) == []


# --- the image ----------------------------------------------------------------------------------------


def test_dockerfile_builds_the_frontend_then_a_slim_python_image_as_a_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    defaults = dict(re.findall(r"^ARG ([A-Z_]+_IMAGE)=(\S+)", dockerfile, flags=re.MULTILINE))
    stages = dict((name, base) for base, name in re.findall(r"^FROM (\S+) AS (\S+)", dockerfile, flags=re.MULTILINE))
    assert defaults["NODE_IMAGE"].startswith("node:") and defaults["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert stages["frontend"] == "${NODE_IMAGE}" and stages["runtime"] == "${PYTHON_IMAGE}"
    # The last stage, which a plain `docker build .` makes, is production: the runtime without offline code.
    assert list(stages)[-1] == "production" and stages["production"] == "runtime"
    assert stages["offline"] == "runtime"
    assert "npm ci" in dockerfile and "npm run build" in dockerfile
    assert "pip wheel" in dockerfile and "pip install --no-index --find-links=/wheels eventpay" in dockerfile
    assert "django-admin collectstatic --no-input" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "frontend/node_modules", "var"} <= ignored
    assert "!.env.example" in ignored


# --- production settings ------------------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "STRIPE_", "PYTEST", "CELERY_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="pay.example.com",
        STRIPE_SECRET_KEY="sk_test_deploy",
        STRIPE_PUBLISHABLE_KEY="pk_test_deploy",
        STRIPE_WEBHOOK_SECRET="whsec_deploy",
    )
    env.update(overrides)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_check_deploy_is_clean_with_production_values():
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_are_secure_and_serve_hashed_compressed_static_files():
    code = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'session': s.SESSION_COOKIE_SECURE, 'csrf': s.CSRF_COOKIE_SECURE,"
        "'ssl_redirect': s.SECURE_SSL_REDIRECT, 'proxy': s.SECURE_PROXY_SSL_HEADER, 'hsts': s.SECURE_HSTS_SECONDS,"
        "'static': s.STORAGES['staticfiles']['BACKEND'], 'middleware': s.MIDDLEWARE}))"
    )
    result = run_python(code, production_env(TRUSTED_PROXY_NETWORKS="10.0.0.0/8"))
    assert result.returncode == 0, result.stderr

    values = json.loads(result.stdout)
    assert values["debug"] is False
    assert values["session"] is True and values["csrf"] is True and values["ssl_redirect"] is True
    assert values["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["hsts"] >= 31536000
    assert values["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    # WhiteNoise as early as it can be: after only the middleware whose headers its answers need too, and
    # after the one that drops forwarded headers a client wrote itself.
    assert values["middleware"][:5] == [
        "core.limits.ForwardedHeadersMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "core.csp.ContentSecurityPolicyMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
    ]


def test_debug_is_off_unless_it_is_asked_for():
    # given: production values without DJANGO_DEBUG (production_env sets it; a forgotten variable does not)
    env = production_env()
    del env["DJANGO_DEBUG"]

    # when
    result = run_python("from django.conf import settings as s; print(s.DEBUG)", env)

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "dev-only-insecure-key-change-me"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "too-short-for-production"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "django-insecure-" + "x1y2z3" * 10}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "ab" * 40}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS"),
    ],
    ids=["empty-key", "dev-key", "short-key", "django-insecure-key", "low-entropy-key", "no-hosts"],
)
def test_production_refuses_to_start_without_a_real_secret_key_and_allowed_hosts(overrides, complaint):
    result = run_python("import django; django.setup()", production_env(**overrides))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_production_refuses_to_start_with_no_secret_key_or_hosts_at_all():
    env = production_env()
    del env["DJANGO_SECRET_KEY"], env["DJANGO_ALLOWED_HOSTS"]

    result = run_python("import django; django.setup()", env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr
