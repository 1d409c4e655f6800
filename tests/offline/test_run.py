"""`make run`'s wait for its services: as long as they make progress, saying what it waits for."""

import socket
import threading
import time
from types import SimpleNamespace

from offline import run
from offline.net import free_port


def test_it_waits_without_a_deadline_says_for_what_then_prints_the_banner(capsys, monkeypatch):
    # given: a service that listens only after a while (localstripe loading a large state)
    monkeypatch.setattr(run, "WAIT_REPORT_EVERY", 0.2)
    port = free_port()
    server = socket.socket()

    def listen_later():
        time.sleep(1.0)
        server.bind(("127.0.0.1", port))
        server.listen()

    threading.Thread(target=listen_later).start()

    # when
    run._announce_when_ready(SimpleNamespace(returncode=None), {"localstripe": port}, ["EventPay is running"])

    # then
    output = capsys.readouterr().out
    server.close()
    assert f"make run: waiting for localstripe (:{port})" in output
    assert output.index("waiting for") < output.index("EventPay is running")


def test_a_service_that_died_stops_the_wait_without_a_banner(capsys):
    # given: honcho saw a process exit (it then stops the others and shows the dead one's last lines)
    manager = SimpleNamespace(returncode=1)

    # when
    run._announce_when_ready(manager, {"localstripe": free_port()}, ["EventPay is running"])

    # then
    assert "EventPay is running" not in capsys.readouterr().out
