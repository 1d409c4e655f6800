"""After "pay and go live", in a real browser against the real stack: an organiser edits an event and
cancels it once live; the receipt page of a payment; an operator's refund from the admin that takes the
event off the public list."""

from __future__ import annotations

import re
import uuid

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from tests.e2e.test_checkout_flow import ACTIVATION, SUCCEEDING_CARD, create_event, event_json, fill_card, sign_up
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def pay_and_go_live(page: Page) -> None:
    pay = page.get_by_role("button", name="Pay $15.00")
    expect(pay).to_be_enabled()
    fill_card(page, SUCCEEDING_CARD)
    pay.click()
    expect(page.get_by_text("Your event is live")).to_be_visible(timeout=ACTIVATION)


def open_event(page: Page, url: str, event_id: str) -> None:
    page.goto(f"{url}/events/{event_id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_an_organiser_edits_an_event_then_cancels_it_once_live(stack, page: Page, shots):
    # given: a draft
    sign_up(page, stack.url)
    title = "Quiz night " + uuid.uuid4().hex[:4]
    event_id = create_event(page, title)
    open_event(page, stack.url, event_id)

    # when: the organiser edits it
    page.get_by_role("link", name="Edit event").click()
    expect(page.get_by_role("heading", name="Edit event")).to_be_visible()
    page.get_by_label("Title").fill(title + " (edited)")
    page.get_by_label("Location").fill("Porto")
    shots(page, "edit-form")
    page.get_by_role("button", name="Save changes").click()

    # then
    expect(page.get_by_text("Your changes are saved.")).to_be_visible()
    expect(page.get_by_role("heading", name=title + " (edited)")).to_be_visible()
    expect(page.get_by_text("Porto")).to_be_visible()
    shots(page, "edited")

    # and when: it goes live, then is cancelled (confirmed in a dialog)
    page.goto(f"{stack.url}/events/{event_id}/pay")
    pay_and_go_live(page)
    open_event(page, stack.url, event_id)
    page.get_by_role("button", name="Cancel event").click()
    dialog = page.get_by_role("dialog", name="Cancel this event?")
    expect(dialog).to_be_visible()
    shots(page, "cancel-dialog")
    dialog.get_by_role("button", name="Yes, cancel it").click()

    # then: the page says so, the public list no longer shows it, its public page says cancelled
    expect(page.get_by_text("This event is cancelled.")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel event")).to_have_count(0)
    assert event_json(page, stack.url, event_id)["status"] == "cancelled"
    shots(page, "cancelled")
    page.get_by_role("link", name="Live events").click()
    expect(page.get_by_role("heading", name="Live events")).to_be_visible()
    expect(page.get_by_text(title)).to_have_count(0)
    page.goto(f"{stack.url}/e/{event_id}")
    expect(page.get_by_text("Cancelled: this event will not take place.")).to_be_visible()
    shots(page, "public-page-cancelled")


@pytest.fixture
def staff(transactional_db) -> TOTPDevice:
    """An operator's authenticator app, created before the browser starts (Django refuses the ORM inside
    Playwright's loop); its user is the operator."""
    operator = UserFactory(username=f"op{uuid.uuid4().hex[:6]}", is_staff=True, is_superuser=True)
    return TOTPDevice.objects.create(user=operator, name="Authenticator app", confirmed=True)


def test_a_receipt_then_an_operators_refund_takes_the_event_off_the_public_list(
    stack, staff, page: Page, browser, shots
):
    # given: a live event, paid with a Visa card
    sign_up(page, stack.url)
    title = "Book club " + uuid.uuid4().hex[:4]
    event_id = create_event(page, title)
    pay_and_go_live(page)

    # when: the organiser opens the payment's receipt (the card arrives from Stripe's charge via the worker)
    open_event(page, stack.url, event_id)
    payments = page.get_by_role("region", name="Payments")
    for _ in range(50):
        if payments.get_by_text("Visa ending in 4242").count():
            break
        page.wait_for_timeout(300)
        page.reload()
    expect(payments.get_by_text("Visa ending in 4242")).to_be_visible()
    # The payments table scrolls inside its box; the phone-sized page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    payments.get_by_role("link", name=re.compile("^Receipt")).click()

    # then
    expect(page.get_by_role("heading", name=re.compile(r"^Receipt EP-\d{4}-\d{6}$"))).to_be_visible()
    expect(page.get_by_text("$15.00")).to_be_visible()
    expect(page.get_by_text("Visa ending in 4242")).to_be_visible()
    expect(page.get_by_text(f"Activation fee for “{title}”", exact=False)).to_be_visible()
    shots(page, "receipt")

    # and when: an operator refunds it from the admin, with a reason
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(f"{stack.url}/admin/login/")
    admin.get_by_label("Username").fill(staff.user.username)
    admin.get_by_label("Password").fill("correct-horse-battery")
    admin.get_by_role("button", name="Log in").click()
    admin.get_by_label("Code").fill(f"{totp(staff.bin_key):06d}")
    admin.get_by_role("button", name="Verify").click()
    expect(admin.get_by_text("Site administration")).to_be_visible()
    admin.goto(f"{stack.url}/admin/payments/payment/")
    row = admin.get_by_role("row").filter(has_text=title)
    row.get_by_role("checkbox").check()
    admin.get_by_label("Action:").select_option(label="Refund (succeeded payments; give a reason, then confirm)")
    admin.get_by_label("Reason (to refund, reopen or accept)").fill("The organiser paid twice")
    admin.get_by_role("button", name="Go").click()
    expect(admin.get_by_text("1 succeeded and will be refunded in full at Stripe")).to_be_visible()
    admin.get_by_role("button", name="Yes, refund 1").click()
    expect(admin.get_by_text("Refund: 1 done, 0 skipped, 0 errors.")).to_be_visible()
    shots(admin, "admin-refunded")

    # then: the event is off the public list, and the organiser sees the refund
    page.goto(stack.url + "/")
    expect(page.get_by_role("heading", name="Live events")).to_be_visible()
    expect(page.get_by_text(title)).to_have_count(0)
    open_event(page, stack.url, event_id)
    expect(page.get_by_role("region", name="Payments").get_by_text("Refunded")).to_be_visible()
    expect(page.get_by_role("button", name="Delete event")).to_have_count(0)
    shots(page, "organiser-sees-refund")
