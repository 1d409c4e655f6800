"""The containers' healthcheck: `python -m core.healthcheck [URL]` exits 0 when URL answers 200: web's
/api/ready/ (the default), a worker's metrics endpoint (docker-compose.yml).

It asks the way the proxy in front would: with a Host that DJANGO_ALLOWED_HOSTS accepts (Django
answers 400 to any other) and `X-Forwarded-Proto: https` (else production's SSL redirect answers).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 8


def host_header(allowed_hosts: str) -> str:
    """The first concrete name in DJANGO_ALLOWED_HOSTS (".example.com" allows "example.com")."""
    for host in allowed_hosts.split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    url = argv[0] if argv else f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/ready/"
    headers = {"Host": host_header(os.environ.get("DJANGO_ALLOWED_HOSTS", "")), "X-Forwarded-Proto": "https"}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        print(f"{url}: {exc}")
        return 1
    print(f"{url}: {status} {body.decode(errors='replace')[:500]}")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
