"""The home page's list of live events in a real browser, against the live server: the first page, then the
second through "Load more", as a keyboard user reaches it. Only live, upcoming events are listed, in start
order, each once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from core.pagination import PAGE_SIZE
from tests.factories import EventFactory, UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LIVE = PAGE_SIZE + 5


@pytest.fixture
def live_events() -> list[str]:
    """Stored before the browser starts (Playwright's loop then owns this thread): more live events than a
    page holds, and three that are not listed."""
    owner = UserFactory()
    now = timezone.now()
    titles = [f"Live event {i:02d}" for i in range(LIVE)]
    # Created in reverse start order: the list follows start times, not creation.
    for i, title in reversed(list(enumerate(titles))):
        EventFactory(owner=owner, title=title, starts_at=now + timedelta(days=1 + i), is_active=True, activated_at=now)
    EventFactory(owner=owner, title="A draft", starts_at=now + timedelta(days=2))
    EventFactory(owner=owner, title="Already over", starts_at=now - timedelta(days=1), is_active=True, activated_at=now)
    EventFactory(
        owner=owner, title="Called off", starts_at=now + timedelta(days=3), is_active=True, activated_at=now,
        cancelled_at=now,
    )  # fmt: skip
    return titles


def test_a_visitor_loads_the_second_page_of_live_events(live_server, live_events, page: Page, shots):
    # given
    titles = live_events
    page.goto(f"{live_server.url}/")
    cards = page.locator("ul.cards > li")
    expect(cards).to_have_count(PAGE_SIZE)
    expect(cards.first.get_by_role("heading")).to_have_text(titles[0])
    shots(page, "first-page")
    load_more = page.get_by_role("button", name="Load more")

    # when: the keyboard reaches the button after the events' links, and presses it
    for _ in range(PAGE_SIZE + 10):
        if load_more.evaluate("button => button === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(load_more).to_be_focused()
    page.keyboard.press("Enter")

    # then
    expect(cards).to_have_count(LIVE)
    shots(page, "second-page")
    assert [cards.nth(i).get_by_role("heading").inner_text() for i in range(LIVE)] == titles
    expect(page.get_by_role("status")).to_have_text("5 more events loaded. All events are shown.")
    expect(load_more).to_have_count(0)
    expect(page.get_by_role("link", name=titles[PAGE_SIZE])).to_be_focused()
    for hidden in ("A draft", "Already over", "Called off"):
        expect(page.get_by_text(hidden)).to_have_count(0)

    # and the focused event opens its public page
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/e/\d+$"))
    expect(page.get_by_role("heading", name=titles[PAGE_SIZE])).to_be_visible()
