"""The offline stand-in's state: it starts in seconds whatever the demo's history, and keeps what a checkout made."""

import contextlib
import os
import signal
import threading
import time

import pytest

from offline import processes
from offline.localstripe import SAVE_INTERVAL, StateFile
from offline.net import free_port
from payments import stripe_gateway
from tests.conftest import wait_until

GROWN_TO = 10_000


@pytest.fixture
def grown_state(tmp_path, monkeypatch):
    """A state file holding 10,000 PaymentIntents, as months of demo checkouts would leave it."""
    from localstripe import resources

    monkeypatch.setattr(resources.Store, "dump_to_disk", lambda self: None)  # upstream would write /tmp per object
    for i in range(GROWN_TO):
        resources.PaymentIntent._api_create(
            amount=1500, currency="usd", payment_method_types=["card"], metadata={"payment_id": str(i)}
        )
    first = next(key for key in resources.store if key.startswith("payment_intent:"))
    path = tmp_path / "localstripe.pickle"
    StateFile(path).save(resources.store)
    dict.clear(resources.store)
    return path, first.partition(":")[2]


@pytest.fixture
def stand_in(tmp_path, settings):
    """Starts localstripe on a port of its own (and points the gateway at it); stops it at the end."""
    started = []

    def start(state):
        port = free_port()
        process = processes.start_localstripe(port=port, state=state, log_path=tmp_path / f"localstripe-{port}.log")
        started.append(process)
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
        return process

    yield start
    for process in started:
        processes.stop(process)


def _checkout() -> str:
    return stripe_gateway.create_payment_intent(
        amount=1500, currency="usd", metadata={"payment_id": "1"}, idempotency_key=f"k{time.time_ns()}"
    ).id


def test_ten_thousand_objects_load_and_a_checkout_is_answered_within_seconds(grown_state, stand_in):
    # given
    state, old_intent = grown_state

    # when
    began = time.monotonic()
    stand_in(state)
    new_intent = _checkout()
    elapsed = time.monotonic() - began

    # then: quadratic reloading took 27 s for 3,000 objects; this is linear
    assert elapsed < 5, f"start and first checkout took {elapsed:.1f} s"
    assert stripe_gateway.retrieve_payment_intent(old_intent).metadata == {"payment_id": "0"}
    assert new_intent.startswith("pi_")


def test_what_a_checkout_created_survives_ctrl_c_right_after_it(tmp_path, stand_in):
    # given: a checkout, then Ctrl-C before the periodic save can run
    state = tmp_path / "state.pickle"
    process = stand_in(state)
    intent_id = _checkout()

    # when
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=10)
    stand_in(state)

    # then
    assert stripe_gateway.retrieve_payment_intent(intent_id).status == "requires_payment_method"


def test_saves_are_batched_not_one_per_api_call(tmp_path, stand_in):
    # given: a stand-in whose state file we watch (each save replaces it: a new inode)
    state = tmp_path / "state.pickle"
    stand_in(state)
    _checkout()
    wait_until(state.exists, message="the first save")
    saves = set()
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            with contextlib.suppress(FileNotFoundError):
                saves.add(state.stat().st_ino)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()

    # when: forty checkouts
    began = time.monotonic()
    for _ in range(40):
        _checkout()
    lasted = time.monotonic() - began
    time.sleep(SAVE_INTERVAL * 1.5)
    watching.set()
    watcher.join()

    # then: one save per interval at most (plus the one under way), not one per call; all forty kept
    assert 1 <= len(saves) <= lasted / SAVE_INTERVAL + 3 < 40
    assert StateFile(state).load({}) >= 41
