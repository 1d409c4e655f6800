"""/api/ready/ against the real PostgreSQL and Redis, and against ones that are gone or frozen."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import RequestFactory, override_settings
from freezegun import freeze_time

from core import healthcheck, views
from core.views import _run_checks
from offline.net import free_port

pytestmark = pytest.mark.django_db

HOST = {"HTTP_HOST": "localhost"}


@pytest.fixture(autouse=True)
def _fresh_answer():
    """Each test asks the dependencies anew (a process reuses its answer for a second)."""
    views.latest_ready_answer.forget()
    yield
    views.latest_ready_answer.forget()


@pytest.fixture
def closed_port() -> int:
    """A port on which nothing listens: connections are refused at once."""
    return free_port()


@pytest.fixture
def frozen_port():
    """A port that accepts connections and never answers, like a server that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


def test_ready_when_the_database_and_the_broker_answer(client):
    # when
    response = client.get("/api/ready/", **HOST)

    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_broker_down_answers_503_naming_the_broker(client, closed_port):
    # given
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/0"):
        # when
        response = client.get("/api/ready/", **HOST)

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["detail"] == "Not ready: broker: ConnectionError"
    assert body["checks"] == {"database": "ok", "broker": "ConnectionError"}


def test_database_down_answers_503_naming_the_database(client, closed_port, monkeypatch):
    # given: new connections to the database are refused (the test's own stays open)
    monkeypatch.setitem(connection.settings_dict, "PORT", str(closed_port))

    # when
    response = client.get("/api/ready/", **HOST)

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["detail"] == "Not ready: database: OperationalError"
    assert body["checks"] == {"database": "OperationalError", "broker": "ok"}


def test_servers_that_accept_and_never_answer_are_reported_down_not_waited_for(client, frozen_port, monkeypatch):
    # given
    monkeypatch.setitem(connection.settings_dict, "PORT", str(frozen_port))
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{frozen_port}/0"):
        # when
        response = client.get("/api/ready/", **HOST)

    # then
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] != "ok" and checks["broker"] != "ok"
    assert "database" in response.json()["detail"] and "broker" in response.json()["detail"]


def test_a_check_still_running_at_the_deadline_is_reported_timed_out():
    # given: one check hangs (as on a server frozen mid-query), one answers
    hang = threading.Event()

    # when
    results = _run_checks({"frozen": (hang.wait,), "fine": (lambda: None,)}, timeout=0.3)

    # then
    hang.set()
    assert results == {"frozen": "timed out", "fine": "ok"}


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_probes_answer_other_methods_with_405_in_json(client, method):
    for path in ("/api/health/", "/api/ready/"):
        response = getattr(client, method)(path, **HOST)

        assert response.status_code == 405, path
        assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
        assert response["Allow"] == "GET, HEAD"


def test_container_healthcheck_passes_while_ready(live_server):
    assert healthcheck.main([f"{live_server.url}/api/ready/"]) == 0


def test_container_healthcheck_fails_while_the_broker_is_down(live_server, closed_port, capsys):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{closed_port}/0"):
        assert healthcheck.main([f"{live_server.url}/api/ready/"]) == 1
    assert "503" in capsys.readouterr().out


def test_container_healthcheck_fails_when_nothing_serves(closed_port):
    assert healthcheck.main([f"http://127.0.0.1:{closed_port}/api/ready/"]) == 1


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("pay.example.com,localhost", "pay.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_healthcheck_asks_with_a_host_django_allows(allowed_hosts, host):
    assert healthcheck.host_header(allowed_hosts) == host


def test_a_flood_of_calls_checks_the_dependencies_once_a_second(client, monkeypatch):
    # given: a count of the checks actually run
    runs = []
    real_checks = views._run_checks
    monkeypatch.setattr(views, "_run_checks", lambda *a, **kw: runs.append(1) or real_checks(*a, **kw))
    request = RequestFactory().get("/api/ready/", **HOST)

    with freeze_time() as clock:
        # when: twenty callers at once, then ten more in the same second
        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(lambda _: views.ready(request).status_code, range(20)))
        answers += [client.get("/api/ready/", **HOST).status_code for _ in range(10)]
        checked_in_the_first_second = len(runs)
        # and a second later
        clock.tick(1.1)
        client.get("/api/ready/", **HOST)

    # then
    assert answers == [200] * 30
    assert checked_in_the_first_second == 1
    assert len(runs) == 2
