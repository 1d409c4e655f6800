"""The organiser's whole journey in a real browser, against the real stack: the built React app
served by Django, a Celery worker on Redis, PostgreSQL, localstripe (its Stripe.js stand-in plus
our offline adapter in the page, its signed webhooks to the live server)."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

from tests.factories import EventFactory, PaymentFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SUCCEEDING_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"
ACTIVATION = 20_000  # ms: webhook (about 1 s in localstripe) + worker + polling


def sign_up(page: Page, url: str) -> str:
    username = f"org{uuid.uuid4().hex[:8]}"
    page.goto(f"{url}/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill("a-long-enough-passphrase")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="My events")).to_be_visible()
    return username


def create_event(page: Page, title: str) -> str:
    page.get_by_role("link", name="New event").first.click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Date and time").fill("2031-05-01T19:00")
    page.get_by_label("Location").fill("Lisbon")
    page.get_by_label("Description").fill("Talks, then dinner.")
    page.get_by_role("button", name=re.compile("Create event")).click()
    page.wait_for_url(re.compile(r"/events/\d+/pay$"))
    return re.search(r"/events/(\d+)/pay$", page.url).group(1)


def fill_card(page: Page, number: str) -> None:
    # The stand-in renders plain inputs; the adapter gives them these accessible names.
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry month (MM)").fill("12")
    page.get_by_label("Expiry year (YY)").fill("34")
    page.get_by_label("Security code (CVC)").fill("123")
    page.get_by_label("Postal code").fill("10001")


def event_json(page: Page, url: str, event_id: str) -> dict:
    response = page.request.get(f"{url}/api/events/{event_id}/")  # the browser's own session
    assert response.ok, response.text()
    return response.json()


def test_organiser_pays_and_the_event_goes_live(stack, page: Page, shots):
    started = time.monotonic()
    # given
    sign_up(page, stack.url)
    shots(page, "signed-up")
    title = "Launch party " + uuid.uuid4().hex[:4]
    event_id = create_event(page, title)
    pay = page.get_by_role("button", name="Pay $15.00")
    expect(pay).to_be_enabled()
    fill_card(page, SUCCEEDING_CARD)
    shots(page, "payment-form")

    # when
    pay.click()

    # then
    page.wait_for_url(re.compile(r"/payments/status\?payment_intent=pi_\w+&payment_intent_client_secret=.+"))
    expect(page.get_by_text("Your event is live")).to_be_visible(timeout=ACTIVATION)
    shots(page, "event-live")
    assert event_json(page, stack.url, event_id)["is_active"] is True

    page.get_by_role("link", name="See all live events").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    shots(page, "public-listing")

    page.get_by_role("link", name="My events").click()
    card = page.get_by_role("listitem").filter(has_text=title)
    expect(card.get_by_text("Live", exact=True)).to_be_visible()
    expect(card.get_by_role("link", name=re.compile("Pay to activate"))).to_have_count(0)
    print(f"\nE2E happy path: {time.monotonic() - started:.1f} s")


def test_declined_card_is_shown_and_the_event_stays_inactive(stack, page: Page, shots):
    started = time.monotonic()
    # given
    sign_up(page, stack.url)
    title = "Declined party " + uuid.uuid4().hex[:4]
    event_id = create_event(page, title)
    pay = page.get_by_role("button", name="Pay $15.00")
    expect(pay).to_be_enabled()
    fill_card(page, DECLINED_CARD)

    # when
    pay.click()

    # then: the decline is said in place, and nothing goes live
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(pay).to_be_enabled()
    assert re.search(r"/events/\d+/pay$", page.url)
    shots(page, "card-declined")
    deadline = time.monotonic() + ACTIVATION / 1000
    while event_json(page, stack.url, event_id)["payment_status"] != "failed":
        assert time.monotonic() < deadline, "the payment_failed webhook was not applied"
        page.wait_for_timeout(200)
    assert event_json(page, stack.url, event_id)["is_active"] is False

    page.get_by_role("link", name="My events").click()
    card = page.get_by_role("listitem").filter(has_text=title)
    expect(card.get_by_text("Payment failed", exact=True)).to_be_visible()
    shots(page, "my-events-payment-failed")
    page.get_by_role("link", name="Live events").click()
    expect(page.get_by_role("heading", name="Live events")).to_be_visible()
    expect(page.get_by_text(title)).to_have_count(0)
    print(f"\nE2E decline: {time.monotonic() - started:.1f} s")

    # and then: the organiser tries again with another card, and the event goes live
    page.get_by_role("link", name="My events").click()
    page.get_by_role("listitem").filter(has_text=title).get_by_role("link", name=re.compile("Pay to activate")).click()
    pay = page.get_by_role("button", name="Pay $15.00")
    expect(pay).to_be_enabled()
    fill_card(page, SUCCEEDING_CARD)
    pay.click()
    expect(page.get_by_text("Your event is live")).to_be_visible(timeout=ACTIVATION)
    shots(page, "retry-event-live")
    assert event_json(page, stack.url, event_id)["is_active"] is True


def test_after_a_decline_another_card_in_the_same_form_takes_the_event_live(stack, page: Page, shots):
    # given: a declined card, said in place
    sign_up(page, stack.url)
    event_id = create_event(page, "Second card " + uuid.uuid4().hex[:4])
    pay = page.get_by_role("button", name="Pay $15.00")
    expect(pay).to_be_enabled()
    fill_card(page, DECLINED_CARD)
    pay.click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")

    # when: the organiser types another card where they are. Real Stripe confirms the same intent with
    # it; localstripe cannot confirm a declined intent again, so the page asks the API for the payment to
    # use now, opens a fresh form and says why, and the card is typed once more.
    fill_card(page, SUCCEEDING_CARD)
    pay.click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter your card again.")
    shots(page, "card-again-fresh-form")
    fill_card(page, SUCCEEDING_CARD)
    page.get_by_role("button", name="Pay $15.00").click()

    # then
    expect(page.get_by_text("Your event is live")).to_be_visible(timeout=ACTIVATION)
    assert event_json(page, stack.url, event_id)["is_active"] is True


@pytest.fixture
def organiser_with_checkouts_open(transactional_db) -> tuple[str, str]:
    """Stored before the browser starts (Playwright's loop then owns this thread): an organiser who left as
    many checkouts unpaid as the API allows; their username and password."""
    password = "a-long-enough-passphrase"
    owner = UserFactory(username=f"org{uuid.uuid4().hex[:8]}", password=password)
    for _ in range(settings.CHECKOUT_OPEN_PAYMENTS_LIMIT):
        PaymentFactory(event=EventFactory(owner=owner))
    return owner.username, password


def test_an_organiser_with_too_many_checkouts_open_is_told_why_not_that_the_event_is_live(
    stack, organiser_with_checkouts_open, page: Page, shots
):
    # given
    username, password = organiser_with_checkouts_open
    page.goto(f"{stack.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="My events")).to_be_visible()

    # when: they create one more event, which takes them to its payment page
    event_id = create_event(page, "One checkout too many")

    # then: the API's reason and a way to try again; no form, and no claim that the event is live
    expect(page.get_by_role("alert")).to_contain_text("unpaid checkouts open")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_role("heading", name="Already live")).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    shots(page, "too-many-checkouts-open")
    assert event_json(page, stack.url, event_id)["is_active"] is False
