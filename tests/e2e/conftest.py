"""A real browser for the end-to-end tests: Debian's Chromium driven by Playwright (never a downloaded one)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Started per test: the sync API runs an event loop in this thread, which must be gone
    # before pytest-django flushes the database (Django refuses ORM calls inside a loop).
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Every page says in the console what its Content-Security-Policy refused: the event, and Chromium's own line.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (event) => {
  console.error(`securitypolicyviolation: ${event.effectiveDirective} blocked ${event.blockedURI} in ${event.sourceFile}`);
});
"""


def is_csp_violation(console_line: str) -> bool:
    return "securitypolicyviolation:" in console_line or "Content Security Policy" in console_line


@pytest.fixture
def csp_violations() -> list[str]:
    """What the page's policy refused, from the console; the test fails if any is left at its end (a test
    that provokes one takes it out)."""
    return []


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest, csp_violations: list[str]) -> Iterator[Page]:
    """A phone-sized page; the browser's console errors are printed if the test fails."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []

    def on_console(line: str) -> None:
        console.append(line)
        if is_csp_violation(line):
            csp_violations.append(line)

    page.on("console", lambda message: on_console(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        page.screenshot(path=str(screenshot_dir(request.node.name) / "failure.png"), full_page=True)
        print("browser console:\n" + "\n".join(console))
    context.close()
    assert not csp_violations, "the Content-Security-Policy refused:\n" + "\n".join(csp_violations)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def screenshot_dir(test_name: str) -> Path:
    path = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shots(request: pytest.FixtureRequest):
    """`shots(page, "step")` saves test-artifacts/e2e/<test>/NN-step.png."""
    directory = screenshot_dir(request.node.name)
    shutil.rmtree(directory)
    directory.mkdir(parents=True)
    counter = iter(range(1, 100))

    def take(page: Page, step: str) -> None:
        page.screenshot(path=str(directory / f"{next(counter):02d}-{step}.png"), full_page=True)

    return take
