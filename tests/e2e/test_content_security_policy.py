"""The Content-Security-Policy in a real browser: a script injected into a page does not run and is
reported to the server, and the pages that are not the React app render under their own policy. Every
other browser test fails on any violation too (tests/e2e/conftest.py)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from core.metrics import PROCESS_REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

INJECT_INLINE_SCRIPT = """() => {
  const script = document.createElement('script');
  script.textContent = 'window.injected = true';
  document.head.appendChild(script);
}"""


def reported(directive: str) -> float:
    # The live server runs in this process: its counters are the ones /api/metrics serves.
    return PROCESS_REGISTRY.get_sample_value("eventpay_csp_violations_total", {"directive": directive}) or 0.0


def wait_in_page(page: Page, predicate, *, seconds: float, message: str) -> None:
    """Polls while the page's events are delivered (the sync API delivers them only inside its own calls)."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, message
        page.wait_for_timeout(100)


def test_an_injected_inline_script_is_blocked_and_reported(live_server, page: Page, csp_violations: list[str]):
    # given: the sign-up page, as any visitor opens it
    page.goto(f"{live_server.url}/signup")
    expect(page.get_by_role("button", name="Sign up")).to_be_visible()
    before = reported("script-src-elem")

    # when: a script is injected into it (as a cross-site scripting flaw or a tampered dependency would)
    page.evaluate(INJECT_INLINE_SCRIPT)

    # then: it did not run, the browser said why, and the report reached the server
    assert page.evaluate("window.injected") is None
    wait_in_page(page, lambda: csp_violations, seconds=5, message="no violation in the console")
    assert any("script-src-elem blocked inline" in line for line in csp_violations), csp_violations
    started = time.monotonic()
    wait_in_page(page, lambda: reported("script-src-elem") > before, seconds=90, message="no report reached the server")
    print(f"\nCSP report delivered {time.monotonic() - started:.1f} s after the violation")
    csp_violations.clear()  # provoked on purpose: the page fixture fails a test on any other


def test_the_api_docs_render_under_their_policy(live_server, page: Page):
    # when
    page.goto(f"{live_server.url}/api/docs/")

    # then: Swagger UI ran (its set-up script is a file) and drew the operations; no violation
    expect(page.get_by_role("heading", name="EventPay API")).to_be_visible()
    expect(page.get_by_text("/api/events/").first).to_be_visible()
