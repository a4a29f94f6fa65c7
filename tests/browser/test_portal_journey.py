"""A merchant answers a case in the portal, in a real browser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from disputes.choices import EventType, MemberRole, RefundOffer, State
from tests.documents import PDF
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    UserFactory,
    open_dispute,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"  # UserFactory's


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 900}


def test_merchant_finds_a_case_and_answers_with_a_partial_refund(
    page: Page, live_server, camera, tmp_path
):
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    user = UserFactory(username="owner@demo-shop.example")
    MembershipFactory(user=user, merchant=merchant, role=MemberRole.OWNER)
    for _ in range(3):
        open_dispute(merchant=merchant)
    order = OrderFactory(merchant=merchant, order_number="WEB-4242", amount=Decimal("80.00"))
    dispute = open_dispute(order=order, message="The jacket arrived torn.")
    shots = camera(1, area="portal")
    document = tmp_path / "repair-quote.pdf"
    document.write_bytes(PDF)

    page.goto(f"{live_server.url}/portal/login/")
    shots.snap("login")
    page.get_by_label("Email address").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    shots.snap("dashboard")

    page.get_by_role("link", name="Cases", exact=True).click()
    expect(page.get_by_role("link", name="Needs your response 4")).to_be_visible()
    shots.snap("queue")
    page.get_by_text("Search and filter").click()
    page.get_by_label("Search by case id, order number or customer email").fill("WEB-4242")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    shots.snap("search-result")

    page.get_by_role("link", name=dispute.public_id).click()
    expect(page.locator("blockquote")).to_have_text("The jacket arrived torn.")
    expect(page.get_by_label("Refund amount")).to_have_value("80.00")
    shots.snap("case")

    page.get_by_label("Yes", exact=True).check()
    page.get_by_label("Refund amount").fill("30.00")
    page.get_by_label("Message to the customer", exact=True).fill(
        "We refund 30 EUR for the repair."
    )
    page.locator("#id_answer-documents").set_input_files(str(document))
    page.get_by_role("button", name="Send my answer").click()

    expect(page.get_by_text("Your answer is sent to the customer.")).to_be_visible()
    timeline = page.locator("ol.events")
    expect(timeline).to_contain_text("Merchant answered")
    expect(timeline).to_contain_text("We refund 30 EUR for the repair.")
    expect(timeline.get_by_role("link", name="repair-quote.pdf")).to_be_visible()
    shots.snap("answered")

    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_CUSTOMER
    assert (dispute.refund_offer, dispute.refund_offer_amount) == (
        RefundOffer.PARTIAL,
        Decimal("30.00"),
    )
    offer = dispute.events.get(event_type=EventType.OFFER_MADE)
    assert offer.attachments.get().original_name == "repair-quote.pdf"
