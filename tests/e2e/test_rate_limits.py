"""A limit as a new user meets it, in a real browser against the live server: the sign-up after the
hour's budget from one address is spent says when to try again, in words, from the answer's Retry-After."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from core.limits import wait_in_words

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BROWSER_ADDRESS = "127.0.0.1"  # where the browser reaches the live server from


@pytest.fixture
def sign_ups_spent() -> None:
    """Every sign-up the hour allows (THROTTLE_REGISTER) from the browser's address, spent before the browser
    starts (Playwright's loop then owns this thread). Empty bodies: refused, and counted all the same."""
    allowed = int(ScopedRateThrottle.THROTTLE_RATES["register"].split("/")[0])
    client = APIClient()
    answers = [client.post(reverse("register"), {}, format="json", REMOTE_ADDR=BROWSER_ADDRESS) for _ in range(allowed)]
    assert {answer.status_code for answer in answers} == {400}


def test_the_sign_up_after_the_hours_budget_says_when_to_try_again(live_server, sign_ups_spent, page: Page, shots):
    # given
    page.goto(f"{live_server.url}/signup")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password").fill("a-long-enough-passphrase")

    # when
    with page.expect_response(lambda response: response.url.endswith("/api/auth/register/")) as answer:
        page.get_by_role("button", name="Sign up").click()

    # then: the page says the wait the server gave, in words, and the form can be sent again later
    response = answer.value
    assert response.status == 429
    retry_after = int(response.headers["retry-after"])
    assert 3500 < retry_after <= 3600
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(f"Too many attempts. Try again in {wait_in_words(retry_after)}.")
    expect(page.get_by_role("button", name="Sign up")).to_be_enabled()
    expect(page).to_have_url(re.compile(r"/signup$"))
    shots(page, "throttled")
