"""`make bench-scale`: every read path timed on a database of production size.

Grows a PostgreSQL database of its own (`eventpay_bench_scale`) to N webhook inbox rows (default
10,000,000; `--rows` for a quick run) and 1,000,000 events with set-based SQL (bench/dataset.py), then
times, against their targets (bench/read_paths.py): the API lists, the metrics scrape, the admin's inbox
and payments lists, the sweeper's and catch-up's selectors, a retention batch; and webhook ingest as a ratio
to the bare view on the same database and on an empty one (bench/harness.py: gunicorn, wrk, a private
Redis). Writes its section of bench/BENCHMARKS.md. `--reuse` keeps a database built earlier with the same
sizes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

from bench import harness
from bench.dataset import METRICS_TOKEN, OPERATOR, ORGANISER, Config, database_facts, log, prepare_database
from bench.events import ingest_pool
from bench.harness import BENCH, ROOT
from bench.read_paths import read_paths, selector_paths
from bench.report import scale_section, write_section


def credentials() -> dict[str, dict[str, str]]:
    """Request headers of the three kinds of caller: anonymous, the organiser (API token), the operator
    (an admin session), and Prometheus (the metrics token)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from core.accounts import api_token_create

    users = get_user_model()
    token = api_token_create(user=users.objects.get(username=ORGANISER))
    operator = users.objects.get(username=OPERATOR)
    # The admin answers an operator whose session has verified a second factor (core/mfa.py).
    device, _ = TOTPDevice.objects.get_or_create(user=operator, confirmed=True, defaults={"name": "bench"})
    session = SessionStore()
    session[SESSION_KEY] = str(operator.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = operator.get_session_auth_hash()
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.create()
    return {
        "anonymous": {},
        "organiser": {"Authorization": f"Token {token}"},
        "operator": {"Cookie": f"sessionid={session.session_key}"},
        "prometheus": {"Authorization": f"Bearer {METRICS_TOKEN}"},
    }


def ingest(ports: dict[str, int], config: Config, tmp: Path) -> dict[str, dict[str, list[dict]]]:
    """wrk against the bare view and the webhook of each database's gunicorn, rounds interleaved so that
    both see the same machine."""
    pool_size = 2000 * config.ingest_seconds
    pools = {}
    for database in ports:
        for r in range(config.ingest_rounds):
            pools[database, r] = tmp / f"pool-{database}-{r}.txt"
            ingest_pool(pools[database, r], pool_size)
    warm = tmp / "pool-warm.txt"
    ingest_pool(warm, 1000)
    for port in ports.values():
        harness.run_wrk(port, "/bench/bare/", warm, 1)
    results: dict[str, dict[str, list[dict]]] = {database: {"bare": [], "webhook": []} for database in ports}
    for r in range(config.ingest_rounds):
        for database, port in ports.items():
            for name, path in (("bare", "/bench/bare/"), ("webhook", "/api/payments/webhook/")):
                figures = harness.run_wrk(port, path, pools[database, r], config.ingest_seconds)
                if name == "webhook" and figures["exhausted_threads"]:
                    raise RuntimeError("the pool ran out during a webhook run: make it larger")
                results[database][name].append(figures)
                log(f"ingest {database} {name} round {r + 1}: {figures['rps']:.0f} req/s")
    return results


def _empty_database(database_url: str, env: dict[str, str]) -> str:
    _, name = harness.admin_url(database_url)
    empty_url = urllib.parse.urlparse(database_url)._replace(path=f"/{name}_empty").geturl()
    harness.recreate_database(empty_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT, env={**env, "DATABASE_URL": empty_url}, check=True,
    )  # fmt: skip
    return empty_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventpay_bench_scale"))  # fmt: skip
    parser.add_argument("--rows", type=int, default=10_000_000, help="webhook inbox rows (default 10,000,000)")
    parser.add_argument("--events", type=int, default=1_000_000, help="events (default 1,000,000)")
    parser.add_argument("--samples", type=int, default=7, help="timed requests per path (default 7)")
    parser.add_argument("--reuse", action="store_true", help="keep a database built earlier with the same sizes")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end (it is kept for --reuse)")
    parser.add_argument("--out", type=Path, default=BENCH / "BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="one short ingest round, for trying the harness")
    args = parser.parse_args(argv)
    quick = {"ingest_seconds": 1, "ingest_rounds": 1} if args.quick else {}
    config = Config(database_url=args.database_url, rows=args.rows, events=args.events, samples=args.samples,
                    reuse=args.reuse, out=args.out, **quick)  # fmt: skip
    sys.path.insert(0, str(ROOT))
    tmp = Path(tempfile.mkdtemp(prefix="eventpay-bench-scale-"))
    with ExitStack() as exit_stack:
        exit_stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        _, redis_url = harness.start_redis(tmp, exit_stack)
        env = harness.environment(config.database_url, redis_url, METRICS_TOKEN=METRICS_TOKEN)
        # Production's static files (hashed names, as the image collects them): the admin's pages need them.
        env["DJANGO_STATIC_ROOT"] = str(tmp / "static")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection

        from payments.models import StripeEvent

        built = prepare_database(config)
        with connection.cursor() as cursor:
            # Earlier writes (the build, a previous run's cleanup) go to disk now, not during the measurements.
            cursor.execute("CHECKPOINT")
        facts = database_facts(config)
        machine = harness.machine_facts()
        log(f"database ready: {facts['inbox']} inbox rows, {facts['events']} events")

        _, port = harness.start_web(env, tmp, "scale", exit_stack)
        timings = read_paths(port, config, facts, credentials()) + selector_paths(config)

        last_row = StripeEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        empty_url = _empty_database(config.database_url, env)
        exit_stack.callback(harness.drop_database, empty_url)
        _, empty_port = harness.start_web({**env, "DATABASE_URL": empty_url}, tmp, "empty", exit_stack)
        ingest_results = ingest({"empty": empty_port, "scale": port}, config, tmp)

    # Once gunicorn has answered every delivery (it is stopped): the database is left as it was built.
    StripeEvent.objects.filter(pk__gt=last_row).delete()
    connection.close()
    write_section(config.out, scale_section(config, facts, built, machine, timings, ingest_results))
    log(f"wrote its section of {config.out}")
    if args.drop:
        harness.drop_database(config.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
