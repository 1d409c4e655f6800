"""The deploy checks' session: build the images, bring the offline compose stack up (three workers), hand it
to the scenarios in file order, take it down. deploy/test-deploy.sh sets the environment (project name,
ports, env files); a failing scenario's report carries `docker compose ps` and the logs of the services
it names with @pytest.mark.services(...)."""

from __future__ import annotations

import json
import os
import time

import pytest

from deploy.tests.stack import ROOT, Stack, wait_until

_stack: Stack | None = None


def pytest_configure(config):
    config.addinivalue_line("markers", "services(*names): the compose services whose logs a failure prints")


@pytest.fixture(scope="session")
def stack() -> Stack:
    global _stack
    env = dict(os.environ)
    stack = Stack(
        env=env,
        web_url=f"http://127.0.0.1:{env['PORT']}",
        localstripe_url=f"http://127.0.0.1:{env['LOCALSTRIPE_PORT']}",
    )
    _stack = stack
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10")  # an earlier run's leftovers

    started = time.monotonic()
    stack.compose("build", timeout=1800)
    stack.figures["build offline images (s)"] = round(time.monotonic() - started, 1)

    started = time.monotonic()
    stack.compose("up", "--detach", "--scale", "worker=3")
    wait_until(lambda: _ready(stack), timeout=300, interval=0.5, what="GET /api/ready/ answers 200")
    stack.figures["up to web ready (s)"] = round(time.monotonic() - started, 1)
    stack.compose("up", "--detach", "--scale", "worker=3", "--wait", "--wait-timeout", "300")
    stack.figures["up to every service healthy (s)"] = round(time.monotonic() - started, 1)

    stack.webhook_secret = stack.compose("exec", "-T", "web", "printenv", "STRIPE_WEBHOOK_SECRET").stdout.strip()
    stack.env["OFFLINE_STRIPE_SECRET_KEY"] = stack.compose(
        "exec", "-T", "web", "printenv", "OFFLINE_STRIPE_SECRET_KEY"
    ).stdout.strip()
    assert stack.webhook_secret and stack.env["OFFLINE_STRIPE_SECRET_KEY"]
    yield stack
    stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "60", check=False)


def _ready(stack: Stack) -> bool:
    try:
        return stack.ready().status_code == 200
    except OSError:
        return False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _stack is not None:
        marker = item.get_closest_marker("services")
        services = list(marker.args) if marker else []
        text = _stack.compose("ps", "--all", check=False).stdout
        for service in services:
            text += f"\n----- docker compose logs {service} (last 150 lines) -----\n"
            text += _stack.compose("logs", "--no-color", "--tail", "150", service, check=False).stdout
        report.sections.append(("the stack", text))


def pytest_terminal_summary(terminalreporter):
    if _stack is None or not _stack.figures:
        return
    terminalreporter.section("deploy figures")
    for name, value in _stack.figures.items():
        terminalreporter.write_line(f"{name}: {value}")
    path = ROOT / "var" / "deploy" / "figures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_stack.figures, indent=2) + "\n")
