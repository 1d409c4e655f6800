"""The soak's count of PostgreSQL connections by role, read from the processes' own sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse

import psycopg
import pytest

from bench.soak_sample import SOAK_ITSELF, connections_by_role

# The server's maintenance database: any database's connection is one on the port.
SERVER = urllib.parse.urlparse(os.environ["DATABASE_URL"])._replace(path="/postgres").geturl()
HOLDS_ONE = (
    "import psycopg, sys, time; c = psycopg.connect(sys.argv[1]); print('connected', flush=True); time.sleep(60)"
)
HOLDS_NONE = "import sys, time; print('connected', flush=True); time.sleep(60)"


@pytest.fixture
def process():
    started: list[subprocess.Popen] = []

    def start(code: str) -> int:
        child = subprocess.Popen([sys.executable, "-c", code, SERVER], stdout=subprocess.PIPE,
                                 text=True)  # fmt: skip
        started.append(child)
        assert child.stdout is not None and child.stdout.readline().strip() == "connected"
        return child.pid

    yield start
    for child in started:
        child.kill()
        child.wait()


def test_each_connection_is_counted_in_the_role_of_the_process_holding_it(process):
    # given: one process holding a connection, one holding none, and one more connection of the soak's own
    holder, idle = process(HOLDS_ONE), process(HOLDS_NONE)
    before = connections_by_role({}, 5432)[SOAK_ITSELF]

    with psycopg.connect(SERVER):
        counted = connections_by_role({"web workers": [holder], "beat": [idle], "redis": [idle]}, 5432)

    # then: Redis is never a role that holds one
    assert counted == {"web workers": 1, "beat": 0, SOAK_ITSELF: before + 1}
