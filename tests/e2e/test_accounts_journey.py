"""Accounts in a real browser against the real stack: an organiser signs up, confirms the address from the
emailed link, forgets the password and sets a new one from another emailed link (the old API token then
refused); an operator enrols an authenticator app for the admin, then logs in with a recovery code."""

from __future__ import annotations

import base64
import re
import uuid

import pytest
import requests
from django_otp.oath import totp
from playwright.sync_api import Page, expect

from tests.conftest import wait_until
from tests.e2e.test_checkout_flow import sign_up
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "another-long-passphrase"
PASSWORD = "correct-horse-battery"


def emailed_path(smtp_server, address: str, route: str, *, after: int = 0) -> str:
    """The site path of the link in the newest email to `address` with that route (the worker sends it)."""

    def link() -> str | None:
        for message in smtp_server.messages(to=address)[after:]:
            match = re.search(rf"https?://[^/\s]+(/{route}/\S+)", message.get_body(("plain",)).get_content())
            if match:
                return match[1]
        return None

    return wait_until(link, timeout=30, message=f"an email to {address} with a /{route}/ link")


def test_an_organiser_verifies_the_address_then_resets_a_forgotten_password(stack, smtp_server, page: Page, shots):
    # given: a new organiser, and a token a script of theirs got with the first password
    username = sign_up(page, stack.url)
    address = f"{username}@example.com"
    expect(page.get_by_role("form", name="Email verification")).to_be_visible()
    old_token = requests.post(
        f"{stack.url}/api/auth/token/", json={"username": username, "password": "a-long-enough-passphrase"}, timeout=10
    ).json()["token"]
    events = requests.get(f"{stack.url}/api/events/", headers={"Authorization": f"Token {old_token}"}, timeout=10)
    assert events.status_code == 200

    # when: they open the verification link from the email
    page.goto(stack.url + emailed_path(smtp_server, address, "verify-email"))

    # then
    expect(page.get_by_text("Your email address is confirmed.")).to_be_visible()
    shots(page, "email-confirmed")

    # when: they log out, forget the password, and set a new one from the emailed link
    mails = len(smtp_server.messages(to=address))
    page.goto(f"{stack.url}/events")
    page.get_by_role("button", name=f"Log out {username}").click()
    expect(page.get_by_text("You have been logged out.")).to_be_visible()
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(address)
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("status")).to_be_visible()
    shots(page, "reset-link-sent")
    page.goto(stack.url + emailed_path(smtp_server, address, "reset-password", after=mails))
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_text("Your password is set")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # then: they are in with the new password, and the old token is refused
    expect(page.get_by_role("heading", name="My events")).to_be_visible()
    shots(page, "logged-in-with-new-password")
    refused = requests.get(f"{stack.url}/api/events/", headers={"Authorization": f"Token {old_token}"}, timeout=10)
    assert refused.status_code == 403 and refused.json()["detail"]


@pytest.fixture
def new_operator(transactional_db):
    """Created before the browser starts (Django refuses the ORM inside Playwright's loop)."""
    return UserFactory(username=f"op{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True)


def admin_log_in(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_an_operator_enrols_an_authenticator_app_then_logs_in_with_a_recovery_code(
    live_server, new_operator, browser, shots
):
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    # when: logged in with the password, the admin sends them to enrol; the app reads the key shown
    admin_log_in(page, live_server.url, new_operator.username)
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    expect(page.locator(".mfa-qr-code svg")).to_be_visible()
    shots(page, "enrol")
    secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm").click()

    # then: the recovery codes, once, and the admin
    codes = page.locator("#mfa-recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    shots(page, "recovery-codes")
    page.get_by_role("link", name="Continue to the admin").click()
    expect(page.get_by_text("Site administration")).to_be_visible()

    # when: a new log-in, with a recovery code (the phone is elsewhere)
    page.get_by_role("button", name="Log out").click()
    admin_log_in(page, live_server.url, new_operator.username)
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()

    # then
    expect(page.get_by_text("Site administration")).to_be_visible()
    page.goto(f"{live_server.url}/admin/payments/payment/")
    expect(page.locator("#changelist")).to_be_visible()
    shots(page, "admin-after-recovery-code")
