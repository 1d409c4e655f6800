"""The compose stack, run for real and broken on purpose. The scenarios run in this order on one stack
(offline profile, three workers); the last one stops it.

Every webhook here is a real localstripe event, signed with the stack's webhook secret. To have a backlog
to deliver at a moment of our choosing (as Stripe does after an outage), localstripe's own deliveries are
pointed at a closed port while payments are made, then back at web."""

from __future__ import annotations

import json
import random
import re
import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from deploy.tests.stack import ROOT, Stack, unfinished_tasks, wait_until

VISA = "4242424242424242"
DECLINED = "4000000000000341"
WEB_WEBHOOK_URL = "http://web:8000/api/payments/webhook/"


def make_backlog(stack: Stack, count: int, *, declined: int = 0) -> tuple[dict[str, str], list[dict]]:
    """`count` new events of a new organiser, each paid in localstripe while its webhooks go nowhere, the
    first `declined` of them with a card that is declined: returns each PaymentIntent's expected payment
    status and the events localstripe made for them (for us to deliver)."""
    organiser = stack.organiser()
    organiser.register()
    expected = {}
    for n in range(count):
        event = organiser.create_event(f"Backlog {n}")
        intent = organiser.checkout(event["id"])["clientSecret"].split("_secret_")[0]
        expected[intent] = "failed" if n < declined else "succeeded"
    stack.point_localstripe_webhook_at("http://127.0.0.1:9/")
    try:
        for intent, status in expected.items():
            if status == "failed":
                assert stack.pay(intent, DECLINED)["error"]["code"] == "card_declined"
            else:
                assert stack.pay(intent, VISA)["status"] == "succeeded"
        time.sleep(3)  # localstripe sends each webhook about a second after the payment
    finally:
        stack.point_localstripe_webhook_at(WEB_WEBHOOK_URL)
    events = stack.stripe_events_for(set(expected))
    assert sorted(e["type"] for e in events) == sorted(
        f"payment_intent.{'payment_failed' if status == 'failed' else 'succeeded'}" for status in expected.values()
    )
    return expected, events


def container_logs(stack: Stack, container: str, since: str | None = None) -> str:
    result = stack.docker("logs", *(["--since", since] if since else []), container)
    return result.stdout + result.stderr


def assert_ledger(stack: Stack, expected: dict[str, str], events: list[dict]) -> None:
    """Every event stored once and finished, applied exactly once; every payment in its expected state and
    its event live exactly when it succeeded."""
    stripe_ids = {event["id"] for event in events}
    inbox = stack.inbox(stripe_ids)
    assert set(inbox) == stripe_ids
    assert {status for status, _ in inbox.values()} <= {"processed", "ignored"}
    applications = stack.applications(stripe_ids)
    assert {stripe_id: n for stripe_id, n in applications.items() if n != 1} == {}
    payments = stack.payments(set(expected))
    assert set(payments) == set(expected)
    for intent, (status, is_active, activated_at) in payments.items():
        assert status == expected[intent], intent
        assert is_active == (status == "succeeded") == bool(activated_at), intent


# --- the image --------------------------------------------------------------------------------------


@pytest.mark.services("web")
def test_the_production_image_runs_as_a_user_passes_check_deploy_and_has_no_offline_code(stack):
    image = "eventpay:production"
    env = dict(stack.env)
    env.pop("COMPOSE_PROFILES")
    started = time.monotonic()
    result = subprocess.run(
        ["docker", "compose", *stack.env_file_args(), "build", "web"], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    stack.figures["build production image (s)"] = round(time.monotonic() - started, 1)

    inspect = json.loads(stack.docker("image", "inspect", image).stdout)[0]
    assert inspect["Config"]["User"] == "eventpay"
    assert stack.docker("run", "--rm", "--entrypoint", "id", image, "-u").stdout.strip() == "10001"
    check = stack.docker(
        "run", "--rm", "-e", "DJANGO_SECRET_KEY=" + secrets.token_urlsafe(50), "-e", "DJANGO_ALLOWED_HOSTS=pay.example.com",
        "-e", "STRIPE_SECRET_KEY=sk_test_deploy", "-e", "STRIPE_PUBLISHABLE_KEY=pk_test_deploy",
        "-e", "STRIPE_WEBHOOK_SECRET=whsec_deploy", image,
        "django-admin", "check", "--deploy", "--fail-level", "WARNING", check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout
    offline_code = stack.docker("run", "--rm", image, "python", "-c", "import localstripe", check=False)
    assert offline_code.returncode != 0 and "No module named 'localstripe'" in offline_code.stderr

    stack.figures["production image size (MB)"] = round(inspect["Size"] / 1e6)
    stack.figures["offline image size (MB)"] = round(
        json.loads(stack.docker("image", "inspect", "eventpay:offline").stdout)[0]["Size"] / 1e6
    )
    # The running web writes only where it may: the metrics directory, as its own user.
    assert stack.compose("exec", "-T", "web", "id", "-u").stdout.strip() == "10001"
    stack.compose("exec", "-T", "web", "test", "-w", "/tmp/eventpay-metrics")


# --- the product ----------------------------------------------------------------------------------------


@pytest.mark.services("web", "worker", "localstripe", "mail")
def test_a_new_organiser_registers_creates_an_event_pays_through_localstripe_and_the_event_goes_live(stack):
    organiser = stack.organiser()
    config = requests.get(f"{stack.web_url}/api/payments/config/", timeout=10).json()
    assert config["offline"] is True and config["publishableKey"].startswith("pk_offline_")
    # The browser loads localstripe's Stripe.js stand-in from web itself (same origin).
    stand_in = requests.get(f"{stack.web_url}{config['stripeJsUrl']}", timeout=10)
    assert stand_in.status_code == 200 and "javascript" in stand_in.headers["Content-Type"]

    started = time.monotonic()
    assert organiser.register()["username"] == organiser.username
    event = organiser.create_event("Launch party")
    assert event["is_active"] is False
    checkout = organiser.checkout(event["id"])
    client_secret = checkout["clientSecret"]
    intent = client_secret.split("_secret_")[0]

    # The browser's calls, through web's same-origin route to localstripe (the offline Stripe.js adapter's).
    proxy = "/api/payments/offline-stripe/v1"
    method = organiser.post(
        f"{proxy}/payment_methods", None,
        data={"type": "card", "card[number]": VISA, "card[exp_month]": "12", "card[exp_year]": "2034",
              "card[cvc]": "123", "client_secret": client_secret},
    )  # fmt: skip
    assert method.status_code == 200, method.text
    attached = organiser.post(
        f"{proxy}/payment_intents/{intent}",
        None,
        data={"payment_method": method.json()["id"], "client_secret": client_secret},
    )
    assert attached.status_code == 200, attached.text
    confirmed = organiser.post(f"{proxy}/payment_intents/{intent}/confirm", None, data={"client_secret": client_secret})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "succeeded", confirmed.text

    # localstripe's signed webhook reaches web, a worker applies it.
    live = wait_until(lambda: organiser.event(event["id"])["is_active"], timeout=60, what="the event goes live")
    assert live
    stack.figures["organiser flow, register to event live (s)"] = round(time.monotonic() - started, 1)
    current = organiser.event(event["id"])
    assert (current["status"], current["payment_status"]) == ("live", "succeeded")
    public = requests.get(f"{stack.web_url}/api/public/events/{event['id']}/", timeout=10)
    assert public.status_code == 200 and public.json()["status"] == "live"
    # The worker sent the verification email to the profile's SMTP server, its link in it.
    email = f"{organiser.username}@example.com"
    kept = wait_until(lambda: stack.emails(to=email), timeout=60, what="the verification email")
    assert "Confirm your email address for EventPay" in kept and "/verify-email/" in kept


@pytest.mark.services("web", "worker", "localstripe")
def test_in_a_browser_an_organiser_signs_up_pays_and_sees_the_event_live(stack):
    """The product as a person uses it, on the compose stack: Debian's Chromium, production settings over
    http://localhost (Secure cookies included), localstripe's Stripe.js stand-in served by web."""
    from playwright.sync_api import expect, sync_playwright

    url = stack.web_url.replace("127.0.0.1", "localhost")
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            username = f"org{secrets.token_hex(4)}"
            page.goto(f"{url}/signup")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Email").fill(f"{username}@example.com")
            page.get_by_label("Password").fill("a-long-enough-passphrase")
            page.get_by_role("button", name="Sign up").click()
            expect(page.get_by_role("heading", name="My events")).to_be_visible()

            page.get_by_role("link", name="New event").first.click()
            page.get_by_label("Title").fill("Browser launch")
            page.get_by_label("Date and time").fill("2031-05-01T19:00")
            page.get_by_label("Location").fill("Lisbon")
            page.get_by_role("button", name=re.compile("Create event")).click()
            page.wait_for_url(re.compile(r"/events/\d+/pay$"))
            pay = page.get_by_role("button", name="Pay $15.00")
            expect(pay).to_be_enabled()
            page.get_by_label("Card number").fill(VISA)
            page.get_by_label("Expiry month (MM)").fill("12")
            page.get_by_label("Expiry year (YY)").fill("34")
            page.get_by_label("Security code (CVC)").fill("123")
            page.get_by_label("Postal code").fill("10001")
            pay.click()

            expect(page.get_by_text("Your event is live")).to_be_visible(timeout=30_000)
            stack.figures["browser: sign up to event live (s)"] = round(time.monotonic() - started, 1)
            page.screenshot(path=str(ROOT / "var" / "deploy" / "browser-event-live.png"), full_page=True)
        finally:
            browser.close()


# --- failures -------------------------------------------------------------------------------------------


@pytest.mark.services("web", "worker", "redis", "beat")
def test_a_burst_with_duplicates_a_worker_killed_and_redis_restarted_applies_every_event_once(stack):
    workers = stack.containers("worker")
    assert len(workers) == 3
    expected, events = make_backlog(stack, 40, declined=10)
    rng = random.Random(15)
    deliveries = events + rng.sample(events, len(events) // 2)
    rng.shuffle(deliveries)

    # given: the payments' rows locked for the burst's first 12 s, so that tasks are in flight (waiting)
    # in every worker, and queued in Redis, when things break
    lock = stack.psql_in_background(
        "BEGIN; SELECT id FROM payments_payment WHERE payment_intent_id IN ("
        + ",".join(f"'{i}'" for i in expected)
        + ") FOR UPDATE; SELECT pg_sleep(12); COMMIT;\n"
    )
    time.sleep(1)

    # when: the deliveries go out at a steady pace over about 10 s, 6 at a time; a third of the way in
    # a worker holding tasks is killed outright, two thirds in Redis is restarted.
    answers: list[int] = []

    def deliver(event):
        answers.append(stack.deliver(event).status_code)

    victim = workers[0]
    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        for n, event in enumerate(deliveries):
            pool.submit(deliver, event)
            time.sleep(10 / len(deliveries))
            if n == len(deliveries) // 3:
                killed_holding = wait_until(
                    lambda: unfinished_tasks(container_logs(stack, victim)), timeout=15,
                    what="the worker to kill holds a task",
                )  # fmt: skip
                stack.docker("kill", victim)
            if n == 2 * len(deliveries) // 3:
                stack.compose("restart", "--timeout", "5", "redis")
    burst_seconds = time.monotonic() - started
    lock.wait(timeout=60)

    # then: Stripe got a 200 for every delivery (stored before answering, whatever Redis was doing) ...
    assert answers.count(200) == len(deliveries), sorted(set(answers))
    # ... and everything drains without anyone stepping in: the killed worker's tasks and those Redis
    # lost come back through the sweeper.
    stripe_ids = {event["id"] for event in events}
    started = time.monotonic()
    wait_until(lambda: stack.inbox_finished(stripe_ids), timeout=240, interval=2, what="the inbox drains")
    stack.figures["burst: deliveries (events + duplicates)"] = (
        f"{len(deliveries)} ({len(events)} + {len(deliveries) - len(events)})"
    )
    stack.figures["burst: delivery time (s)"] = round(burst_seconds, 1)
    stack.figures["burst: drained after the burst (s)"] = round(time.monotonic() - started, 1)
    assert_ledger(stack, expected, events)
    restarted = stack.docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", victim).stdout.split()
    stack.figures["burst: tasks the killed worker held (redelivered)"] = len(killed_holding)
    stack.figures["burst: killed worker restarted by Docker"] = restarted[0] == "true"
    stack.compose("up", "--detach", "--scale", "worker=3", "--no-recreate", "--wait", "--wait-timeout", "180")


@pytest.mark.services("web", "worker", "beat")
def test_a_worker_cut_off_from_the_network_for_30_s_doubles_nothing(stack):
    workers = stack.containers("worker")
    victim, others = workers[0], workers[1:]
    network = f"{stack.env['COMPOSE_PROJECT_NAME']}_default"
    expected, events = make_backlog(stack, 6)

    # given: only the victim takes tasks (the others stopped, not paused: a paused worker's blocking read on the
    # queue is still open at Redis, which would hand it the next message, the wake-up the rows' claim needs, to
    # hold until unpaused), and they wait on the payments' row locks (held for 15 s: six deliveries and the cut
    # happen inside it on a busy machine)
    stack.docker("stop", "--timeout", "30", *others)
    try:
        lock = stack.psql_in_background(
            "BEGIN; SELECT id FROM payments_payment WHERE payment_intent_id IN ("
            + ",".join(f"'{i}'" for i in expected)
            + ") FOR UPDATE; SELECT pg_sleep(15); COMMIT;\n"
        )
        wait_until(
            lambda: stack.sql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(15)%'"
                              " AND state = 'active' AND pid <> pg_backend_pid()")[0][0] == "1",
            timeout=15, interval=0.2, what="the row locks are held",
        )  # fmt: skip
        since = str(int(time.time()) - 1)
        for event in events:
            assert stack.deliver(event).status_code == 200
        wait_until(
            lambda: "process_stripe_event" in container_logs(stack, victim, since),
            timeout=30,
            what="the victim receives tasks",
        )
        # when: it is cut off while they run, and the others take over (its DNS names kept for the reconnect:
        # `docker network connect` alone would not give back compose's `worker` alias)
        aliases = stack.docker(
            "inspect", "-f", f'{{{{json (index .NetworkSettings.Networks "{network}").Aliases}}}}', victim
        ).stdout
        stack.docker("network", "disconnect", network, victim)
        held = unfinished_tasks(container_logs(stack, victim, since))
    finally:
        stack.docker("start", *others)
    cut_at = time.monotonic()
    lock.wait(timeout=60)

    stripe_ids = {event["id"] for event in events}
    wait_until(lambda: stack.inbox_finished(stripe_ids), timeout=180, interval=2, what="the others finish its events")
    stack.figures["partition: events finished by the other workers after (s)"] = round(time.monotonic() - cut_at, 1)
    time.sleep(max(0.0, 30 - (time.monotonic() - cut_at)))
    alias_args = [arg for alias in json.loads(aliases) or [] for arg in ("--alias", alias)]
    stack.docker("network", "connect", *alias_args, network, victim)

    # then: back on the network, the victim finishes whatever it still held (a no-op) and keeps running
    wait_until(
        lambda: not unfinished_tasks(container_logs(stack, victim, since)),
        timeout=180, interval=3, what="the reconnected worker is idle",
    )  # fmt: skip
    assert stack.docker("inspect", "-f", "{{.State.Running}}", victim).stdout.strip() == "true"
    stack.figures["partition: worker back and idle after reconnecting (s)"] = round(time.monotonic() - cut_at - 30, 1)
    stack.figures["partition: tasks the cut-off worker held"] = len(held)
    assert held, "the worker was cut off holding no task: nothing was tested"
    by_victim = stack.applications({e["id"] for e in events}, container=victim)
    stack.figures["partition: events the cut-off worker applied itself"] = sum(by_victim.values())
    assert_ledger(stack, expected, events)


@pytest.mark.services("web", "worker", "postgres")
def test_postgres_stopped_webhooks_answer_503_ready_names_the_database_and_everything_drains_after(stack):
    expected, events = make_backlog(stack, 3)
    stack.compose("stop", "--timeout", "20", "postgres")
    try:
        # then: Stripe is told to retry, and the readiness check says why
        answers = [stack.deliver(event).status_code for event in events]
        assert answers == [503, 503, 503]
        # A web process reuses its last readiness answer for a second (the healthcheck may have asked just
        # before the stop), so the probe says so within two.
        ready = wait_until(lambda: (answer := stack.ready()).status_code == 503 and answer.json(), timeout=2,
                           interval=0.2, what="/api/ready/ answering 503")  # fmt: skip
        checks = ready["checks"]
        assert checks["database"] != "ok" and checks["broker"] == "ok", checks
    finally:
        stack.compose("start", "postgres")
    started = time.monotonic()
    wait_until(lambda: stack.ready().status_code == 200, timeout=120, what="ready again")
    stack.figures["postgres: ready again after start (s)"] = round(time.monotonic() - started, 1)

    # when: Stripe retries
    wait_until(lambda: all(stack.deliver(event).status_code == 200 for event in events), timeout=60, what="200s")
    stripe_ids = {event["id"] for event in events}
    wait_until(lambda: stack.inbox_finished(stripe_ids), timeout=120, interval=2, what="the inbox drains")
    assert_ledger(stack, expected, events)


def _prometheus(stack: Stack, path: str, **params) -> dict:
    response = requests.get(f"http://127.0.0.1:{stack.env['PROMETHEUS_PORT']}/api/v1/{path}", params=params, timeout=10)
    response.raise_for_status()
    return response.json()["data"]


def _targets_up(stack: Stack, workers: int) -> bool:
    try:
        targets = _prometheus(stack, "targets", state="active")["activeTargets"]
    except (OSError, ValueError):
        return False
    jobs = [t["labels"]["job"] for t in targets if t["health"] == "up"]
    return jobs.count("eventpay-web") == 1 and jobs.count("eventpay-worker") == workers and len(jobs) == len(targets)


def _firing(stack: Stack, alert: str) -> bool:
    alerts = _prometheus(stack, "alerts")["alerts"]
    return any(a["labels"]["alertname"] == alert and a["state"] == "firing" for a in alerts)


@pytest.mark.services("prometheus", "web", "worker")
def test_prometheus_scrapes_web_and_every_worker_and_fires_the_backlog_alert_when_every_worker_stops(stack):
    # given: the monitoring profile's Prometheus, with the rules of deploy/prometheus/
    monitoring = ("--profile", "monitoring")
    stack.compose(*monitoring, "up", "--detach", "--no-deps", "prometheus")
    try:
        workers = len(stack.compose("ps", "--quiet", "--status", "running", "worker").stdout.split())
        started = time.monotonic()
        wait_until(lambda: _targets_up(stack, workers), timeout=120, interval=2,
                   what=f"Prometheus: web and {workers} workers up, nothing else")  # fmt: skip
        stack.figures["prometheus: every target up after start (s)"] = round(time.monotonic() - started, 1)
        assert not _firing(stack, "EventPayWebhookBacklog")

        # when: every worker stops while deliveries come in; their rows are set back 10 minutes, as if the
        # workers had been gone that long (the rule waits for 5 minutes of backlog, then 2 more)
        stack.compose("stop", "--timeout", "45", "worker")
        expected, events = make_backlog(stack, 1)
        assert [stack.deliver(event).status_code for event in events] == [200] * len(events)
        ids = ",".join(f"'{event['id']}'" for event in events)
        stack.sql(
            f"UPDATE payments_stripeevent SET received_at = now() - interval '10 minutes' WHERE stripe_id IN ({ids})"
        )
        started = time.monotonic()
        wait_until(lambda: _firing(stack, "EventPayWebhookBacklog"), timeout=240, interval=5,
                   what="EventPayWebhookBacklog firing")  # fmt: skip
        stack.figures["prometheus: backlog alert firing after the row's age passed 5 min (s)"] = round(
            time.monotonic() - started, 1
        )
        # Its own 2 minutes start when service discovery has dropped the stopped workers (or their scrapes fail).
        wait_until(
            lambda: _firing(stack, "EventPayNoWorkers"), timeout=240, interval=5, what="EventPayNoWorkers firing"
        )
    finally:
        stack.compose("start", "worker")
        stack.compose(*monitoring, "rm", "--stop", "--force", "--volumes", "prometheus", check=False)

    # then: the workers back, every row is applied once
    stripe_ids = {event["id"] for event in events}
    wait_until(lambda: stack.inbox_finished(stripe_ids), timeout=180, interval=2, what="the inbox drains")
    assert_ledger(stack, expected, events)


def _waiting_on_locks(stack: Stack) -> dict[str, object]:
    """Whether the task waits on its payment's row lock, and any webhook's insert on the inbox's."""
    inserts, others = stack.sql(
        "SELECT count(*) FILTER (WHERE query LIKE 'INSERT INTO \"payments_stripeevent\"%'),"
        " count(*) FILTER (WHERE query NOT LIKE 'INSERT INTO \"payments_stripeevent\"%')"
        " FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    )[0]
    return {"task": int(others) >= 1, "webhook inserts": int(inserts) >= 1}


@pytest.mark.services("web", "worker")
def test_compose_stop_with_requests_and_tasks_in_flight_cuts_none_short(stack):
    expected, events = make_backlog(stack, 4)
    in_worker, in_web = events[0], events[1:]

    # given: a task waiting 8 s on its payment's row lock, three webhooks waiting 15 s on their inbox rows
    payment_lock = stack.psql_in_background(
        f"BEGIN; SELECT id FROM payments_payment WHERE payment_intent_id = '{next(iter(expected))}' FOR UPDATE;"
        " SELECT pg_sleep(8); COMMIT;\n"
    )
    time.sleep(1)
    assert stack.deliver(in_worker).status_code == 200
    # Rows of their own ids, copied from a stored row (so whatever columns the inbox has), never committed.
    ids = ",".join(f"'{e['id']}'" for e in in_web)
    inbox_lock = stack.psql_in_background(
        "BEGIN; INSERT INTO payments_stripeevent SELECT (json_populate_record(NULL::payments_stripeevent,"
        " (to_jsonb(s) || jsonb_build_object('id', -u.n, 'stripe_id', u.sid))::json)).*"
        " FROM (SELECT * FROM payments_stripeevent ORDER BY id LIMIT 1) AS s,"
        f" unnest(ARRAY[{ids}]) WITH ORDINALITY AS u(sid, n); SELECT pg_sleep(15); ROLLBACK;\n"
    )
    time.sleep(1)
    assert payment_lock.poll() is None and inbox_lock.poll() is None, inbox_lock.stdout.read()
    with ThreadPoolExecutor(len(in_web)) as pool:
        answers = [pool.submit(stack.deliver, event, 60) for event in in_web]
        # A web process stores its concurrent requests' rows in one group commit: PostgreSQL sees one waiting
        # insert per process holding some of them (the others wait in the process for it), not one per request.
        wait_until(lambda: _waiting_on_locks(stack) == {"task": True, "webhook inserts": True},
                   timeout=10, interval=0.2, what="the task and the webhooks' inserts waiting on locks")  # fmt: skip
        time.sleep(1)  # the requests sent with the first to be seen reach their process meanwhile

        # when: the whole stack is stopped
        started = time.monotonic()
        stack.compose("stop", timeout=180)
        stop_seconds = time.monotonic() - started
        results = [future.result() for future in answers]
    payment_lock.wait(timeout=60)
    inbox_lock.wait(timeout=60)

    # then: every request in flight got its answer, and nothing was killed
    assert [r.status_code for r in results] == [200] * len(in_web)
    stack.figures["stop: compose stop with 3 requests and 1 task in flight (s)"] = round(stop_seconds, 1)
    for service in ("web", "worker", "beat"):
        for container in stack.containers(service):
            state = stack.docker("inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", container).stdout.split()
            assert state == ["0", "false"], (service, stack.container_name(container), state)

    # and: started again, everything that was in flight is applied once
    stack.compose("start")
    wait_until(lambda: stack.ready().status_code == 200, timeout=120, what="ready again")
    stripe_ids = {event["id"] for event in events}
    wait_until(lambda: stack.inbox_finished(stripe_ids), timeout=180, interval=2, what="the inbox drains")
    assert_ledger(stack, expected, events)
