"""The Prometheus alert rules (deploy/prometheus/alerts.yml) against their unit tests, with promtool
(Debian's `prometheus` package; .ci/run installs it). A missing promtool fails: the rules are never
left untested."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import ROOT

RULES = ROOT / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: install Debian's prometheus package (apt-get install prometheus)"
    return subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True, timeout=120)


def test_every_alert_rule_passes_its_unit_tests():
    done = _promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test():
    rules = _promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    alerts = {
        line.split(":", 1)[1].strip() for line in (RULES / "alerts.yml").read_text().splitlines() if "- alert:" in line
    }
    tested = (RULES / "alerts.test.yml").read_text()
    assert alerts and {alert for alert in alerts if f"alertname: {alert}" not in tested} == set()


def test_the_scrape_config_loads_the_rules_and_names_the_jobs_they_watch():
    done = _promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    config = (RULES / "prometheus.yml").read_text()
    assert "  - alerts.yml" in config
    assert "job_name: eventpay-web" in config and "job_name: eventpay-worker" in config
