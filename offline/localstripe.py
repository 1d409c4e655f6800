"""localstripe, the offline stand-in for Stripe's API, with a state file of its own.

    python -m offline.localstripe --port 8420 [--host 0.0.0.0] [--state FILE]
        [--webhook-url URL --webhook-secret whsec_…]

Upstream keeps its state in the fixed file /tmp/localstripe.pickle (shared by every instance on a
machine) and rewrites the whole file on every change; unpickling its store calls that rewrite once per
object, so loading n objects wrote n full copies (a 3,000-object demo took 27 s to start). Here:

- the store loads once, in time proportional to its size;
- a request that may have changed something marks the store changed, and a timer in localstripe's own
  event loop saves it at most once per SAVE_INTERVAL, atomically (a temporary file, then a rename),
  and once more at shutdown (Ctrl-C and SIGTERM), so nothing a checkout created is lost;
- the webhook endpoint is registered in the same process at start (localstripe keeps it in memory only).

Nothing is ever dropped from the state: an intent the database references stays answerable.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pickle  # nosec B403: localstripe's own state, written and read by this process only
import socket
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

logger = logging.getLogger("offline.localstripe")

SAVE_INTERVAL = 1.0


class StateFile:
    """The store's contents on disk, loaded once and saved when something changed."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.changed = False

    def load(self, store: dict) -> int:
        if self.path is None or not self.path.exists():
            return 0
        with self.path.open("rb") as f:
            contents = pickle.load(f)  # nosec B301: see the import
        # Straight into the dict: no per-item hook, whatever the store class does on assignment.
        dict.clear(store)
        dict.update(store, contents)
        return len(store)

    def save(self, store: dict) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as f:
            pickle.dump(dict(store), f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.changed = False


def _install(state: StateFile):
    """Replaces localstripe's write-through persistence with the state file; returns its aiohttp app."""
    from aiohttp import web
    from localstripe import resources, server

    def mark_changed(*args, **kwargs) -> None:
        state.changed = True

    resources.Store.try_load_from_disk = lambda self: None
    resources.Store.dump_to_disk = mark_changed

    @web.middleware
    async def remember_changes(request, handler):
        try:
            return await handler(request)
        finally:
            # Objects are changed in place (a confirmed intent); any write may have changed the store.
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                state.changed = True

    async def save_periodically(app):
        async def loop():
            while True:
                await asyncio.sleep(SAVE_INTERVAL)
                if state.changed:
                    state.save(resources.store)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        state.save(resources.store)

    server.app.middlewares.append(remember_changes)
    server.app.cleanup_ctx.append(save_periodically)
    return server.app, resources.store


def serve(*, port: int, host: str, state_path: Path | None, webhook_url: str = "", webhook_secret: str = "") -> None:
    from aiohttp import web
    from localstripe import webhooks

    state = StateFile(state_path)
    app, store = _install(state)
    started = time.monotonic()
    if state_path is not None and state_path.exists():
        print(f"localstripe: loading {state_path} ({state_path.stat().st_size:,} bytes)…", flush=True)
    count = state.load(store)
    print(f"localstripe: {count:,} objects loaded in {time.monotonic() - started:.2f} s", flush=True)
    if webhook_url:
        webhooks.register_webhook("eventpay", webhook_url, webhook_secret, None)
        print(f"localstripe: signed webhooks go to {webhook_url}", flush=True)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    web.run_app(app, sock=sock, access_log=logging.getLogger("aiohttp.access"), print=None)


def register_webhook(*, api_base: str, url: str, secret: str, name: str = "eventpay") -> None:
    """Points a running localstripe's signed webhooks at `url` (tests switch it between servers)."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(f"{api_base}/_config/webhooks/{name}", data=data, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:  # nosec B310: our own configured address
        response.read()


def command(*, port: int, host: str = "127.0.0.1", state: Path | None = None, webhook_url: str = "",
            webhook_secret: str = "") -> list[str]:  # fmt: skip
    """The command line that runs the stand-in (for `make run`, the tests and the benchmarks)."""
    args = [sys.executable, "-m", "offline.localstripe", "--port", str(port), "--host", host]
    if state is not None:
        args += ["--state", str(state)]
    if webhook_url:
        args += ["--webhook-url", webhook_url, "--webhook-secret", webhook_secret]
    return args


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m offline.localstripe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0 in a container).")
    parser.add_argument("--state", type=Path, default=None, help="State file; without it, nothing is kept.")
    parser.add_argument("--webhook-url", default="", help="Where to send signed webhooks.")
    parser.add_argument("--webhook-secret", default=os.environ.get("STRIPE_WEBHOOK_SECRET", "").split(",")[0])
    args = parser.parse_args(argv)
    if args.webhook_url and not args.webhook_secret:
        parser.error("--webhook-url needs --webhook-secret (or STRIPE_WEBHOOK_SECRET)")
    serve(
        port=args.port, host=args.host, state_path=args.state, webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )  # fmt: skip


if __name__ == "__main__":
    main()
