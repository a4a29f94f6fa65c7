"""The customer's side in a real browser: find the order, open a case, follow it, answer.

Each journey runs in a fresh Chromium context against the live server and saves a screenshot
of every page it visits under screenshots/customer/ (01-… payment dispute, 11-… Dutch
protection extension, 21-… protection case on a desktop window, 31-… find-order accessibility).
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import formats, translation
from playwright.sync_api import Page, expect

from disputes import services
from disputes.actors import Actor
from disputes.choices import PaymentState, Program, ProtectionStatus, Reason, State
from disputes.models import Dispute
from notifications.services import outbox_deliver_due
from tests.documents import PDF
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory

from .conftest import DESKTOP

pytestmark = pytest.mark.browser


@pytest.fixture
def membership():
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    return MembershipFactory(merchant=merchant)


@pytest.fixture
def order(membership):
    return OrderFactory(
        merchant=membership.merchant, order_number="A-100", customer_email="ann@mail.example"
    )


@pytest.fixture
def protected_order(order):
    order.protection_tier = "plus"
    order.protection_status = ProtectionStatus.ACTIVE
    order.protection_ends_at = order.placed_at + timedelta(days=30)
    order.save()
    return order


def find_order(page: Page, live_server, order, shots) -> None:
    """The first step in English: open the shop's link, fill the order's details, continue."""
    page.goto(f"{live_server.url}{reverse('disputes:find-order')}?shop={order.merchant.slug}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a case about an order")
    expect(page.get_by_label("Shop", exact=True)).to_have_value(order.merchant.slug)
    page.get_by_label("Order number").fill(order.order_number)
    page.get_by_label("Email address used for the order").fill(order.customer_email)
    shots.snap("find-order")
    page.get_by_role("button", name="Find my order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.order_number}")
    shots.snap("order-choices")


def test_payment_dispute_from_opening_to_rejecting_a_partial_refund(
    page, live_server, camera, mailoutbox, settings, tmp_path, order, membership
):
    settings.SITE_URL = live_server.url  # the emailed links point at this server
    shots = camera(1)
    receipt = tmp_path / "receipt.pdf"
    receipt.write_bytes(PDF)

    find_order(page, live_server, order, shots)
    page.get_by_role("link", name="Dispute the payment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dispute the payment")
    page.get_by_role("radio", name="Faulty or not as described").check()
    page.get_by_label("Describe the problem in your own words").fill(
        "The screen was cracked when the parcel arrived."
    )
    page.get_by_label("Documents (optional)").set_input_files(receipt)
    shots.snap("dispute-form")
    page.get_by_role("button", name="Open the case").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your case is open")
    dispute = Dispute.objects.get(order=order)
    expect(page.locator("main")).to_contain_text(f"Your case number is {dispute.public_id}.")
    expect(page.get_by_text("Your invoice is paused")).to_be_visible()
    shots.snap("case-opened")
    order.refresh_from_db()
    assert order.payment_state == PaymentState.PAUSED
    assert dispute.state == State.AWAITING_MERCHANT

    # Follow the link from the customer's "your case is open" email.
    outbox_deliver_due()
    opened_mail = next(
        m for m in mailoutbox if m.to == [order.customer_email] and "is open" in m.subject
    )
    match = re.search(re.escape(live_server.url) + r"/c/[^/\s]+/", opened_mail.body)
    assert match, opened_mail.body
    page.goto(match.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {dispute.public_id}")
    expect(page.locator(".status-line")).to_contain_text("Waiting for Demo Shop")
    expect(page.get_by_text("Invoice: Paused during a dispute.")).to_be_visible()
    timeline = page.get_by_role("region", name="What has happened")
    expect(timeline).to_contain_text("The screen was cracked when the parcel arrived.")
    document = timeline.get_by_role("link", name="receipt.pdf")
    expect(document).to_be_visible()
    shots.snap("case-page")
    download = page.request.get(live_server.url + document.get_attribute("href"))
    assert download.ok
    assert download.headers["content-type"] == "application/pdf"
    assert download.body() == PDF

    # The shop offers a partial refund; the customer sees it on the same link.
    services.dispute_respond(
        dispute=dispute,
        actor=Actor.merchant_user(user_id=membership.user_id, merchant_id=membership.merchant_id),
        refund="partial",
        amount="40.00",
        message="We can refund 40 EUR for the cracked screen.",
    )
    page.reload()
    offer = page.get_by_role("region", name="The offer from Demo Shop")
    expect(offer.locator(".offer-line")).to_have_text(re.compile(r"Partial refund: €40\.00"))
    expect(timeline).to_contain_text("We can refund 40 EUR for the cracked screen.")
    answers = offer.get_by_role("group", name="Your answer to the offer")
    expect(answers.get_by_role("radio")).to_have_count(3)
    for label in (
        "I received the refund",
        "I did not receive the refund",
        "I do not accept a partial refund",
    ):
        expect(answers.get_by_role("radio", name=label, exact=True)).to_be_visible()
    shots.snap("partial-offer")

    answers.get_by_role("radio", name="I do not accept a partial refund").check()
    offer.get_by_label("Anything to add? (optional)").fill("40 EUR does not cover a new screen.")
    offer.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you, your answer is saved.")
    expect(page.locator(".status-line")).to_have_text(
        "Our support team is reviewing your case. We will email you when there is a decision."
    )
    expect(page.get_by_role("group", name="Your answer to the offer")).to_have_count(0)
    shots.snap("escalated")
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED


def test_extending_buyer_protection_in_dutch(page, live_server, camera, protected_order):
    order = protected_order
    shots = camera(11)
    page.goto(f"{live_server.url}{reverse('disputes:find-order')}?shop={order.merchant.slug}")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    page.get_by_label("Language").select_option(label="Nederlands")
    page.get_by_role("button", name="Change").click()
    expect(html).to_have_attribute("lang", "nl")

    # Whatever the Dutch catalogue translates by now, fields are found by their names.
    expect(page.locator("#id_shop")).to_have_value(order.merchant.slug)
    page.locator("#id_order_number").fill(order.order_number)
    page.locator("#id_email").fill(order.customer_email)
    shots.snap("nl-find-order")
    page.locator("main button[type=submit]").click()
    expect(html).to_have_attribute("lang", "nl")
    shots.snap("nl-order-choices")
    page.locator(f'main a[href="{reverse("disputes:protection")}"]').click()
    page.locator('input[name="answer"][value="extend"]').check()
    shots.snap("nl-protection-form")
    page.locator("main button[type=submit]").click()

    expect(html).to_have_attribute("lang", "nl")
    new_end = order.placed_at + timedelta(days=60)
    with translation.override("nl"):
        dutch_date = formats.date_format(new_end.astimezone(UTC), "DATE_FORMAT")
    expect(page.locator("main p").first).to_contain_text(dutch_date)
    shots.snap("nl-protection-extended")
    order.refresh_from_db()
    assert order.protection_ends_at == new_end
    assert order.protection_status == ProtectionStatus.ACTIVE


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_buyer_protection_case_for_an_order_not_received(
    page, live_server, camera, protected_order, viewport
):
    order = protected_order
    shots = camera(21)
    find_order(page, live_server, order, shots)
    page.get_by_role("link", name="Use buyer protection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Buyer protection")
    page.get_by_role("radio", name="I have not received my order").check()
    page.get_by_label("Describe the problem or your request in your own words").fill(
        "Still waiting after three weeks; tracking has not moved."
    )
    shots.snap("protection-form")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your case is open")
    dispute = Dispute.objects.get(order=order)
    assert (dispute.program, dispute.reason) == (Program.BUYER_PROTECTION, Reason.NOT_RECEIVED)
    expect(page.locator("main")).to_contain_text(f"Your case number is {dispute.public_id}.")
    expect(page.get_by_text("Your invoice is paused")).to_have_count(0)  # protection pauses none
    shots.snap("protection-case-opened")


def test_find_order_page_works_with_the_keyboard_and_fits_a_phone(page, live_server, camera):
    MerchantFactory(name="Demo Shop", slug="demo-shop")
    shots = camera(31)
    page.goto(live_server.url + reverse("disputes:find-order"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shots.snap("find-order-empty")
    assert_fits_the_screen(page, 360)

    # The first Tab reaches the skip link, which shows itself on screen.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()

    # Every control has a label a screen reader announces.
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label'))
                 .map(el => el.name || el.id)"""
    )
    assert unlabelled == []

    # Submit the empty form from the keyboard: the summary names each field and links to it.
    page.get_by_label("Order number").press("Enter")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    # The summary takes the focus and the title says "Error:" first, without any script.
    expect(page.locator("#error-summary")).to_be_focused()
    assert page.title().startswith("Error: ")
    links = summary.get_by_role("link")
    expect(links).to_have_count(3)
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    assert hrefs == ["#id_shop", "#id_order_number", "#id_email"]
    for href in hrefs:
        field = page.locator(href)
        expect(field).to_have_count(1)
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description("This field is required.")
    shots.snap("find-order-errors")
    assert_fits_the_screen(page, 360)

    summary.get_by_role("link", name=re.compile("^Email address")).click()
    expect(page).to_have_url(re.compile("#id_email$"))
    expect(page.locator("#id_email")).to_be_in_viewport()


def assert_fits_the_screen(page: Page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"page is {scroll_width}px wide on a {width}px screen"
