"""Evidence and decisions both sides can follow, in a real browser: the merchant answers with
its checklist, support is stopped from deciding an unheard case without an override, weighs
every item, and both parties read the itemised record."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from disputes import services
from disputes.choices import CustomerReply, MemberRole, Outcome, Reason, State
from disputes.links import customer_case_path
from tests.documents import PDF
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    UserFactory,
    customer_actor,
    open_dispute,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("support_groups"),
]

PASSWORD = "correct horse battery staple"  # UserFactory's


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 900}


def _sign_in_to_the_portal(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/portal/login/")
    page.get_by_label("Email address").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _sign_in_to_the_desk(page: Page, url: str, username: str) -> None:
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_checklist_an_override_and_an_itemised_decision(
    page: Page, live_server, camera, tmp_path
):
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    owner = UserFactory(username="owner@demo-shop.example")
    MembershipFactory(user=owner, merchant=merchant, role=MemberRole.OWNER)
    agent = UserFactory(username="anna@support.example", first_name="Anna", is_staff=True)
    agent.groups.add(Group.objects.get(name="support agent"))
    order = OrderFactory(
        merchant=merchant,
        order_number="WEB-7001",
        shipments=[{"carrier": "PostNL", "tracking_number": "3SDEMO7001"}],
    )
    answered = open_dispute(order=order, message="The parcel never came.")
    unheard = open_dispute(
        merchant=merchant, reason=Reason.UNAUTHORIZED, message="I never ordered this."
    )
    proof = tmp_path / "delivery-confirmation.pdf"
    proof.write_bytes(PDF)
    shots = camera(1, area="evidence")

    # The merchant answers with its checklist: carrier and tracking come from the order feed.
    _sign_in_to_the_portal(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/portal/cases/{answered.public_id}/")
    expect(page.get_by_text("0 of 3 essential items given")).to_be_visible()
    answer = page.locator("form[action$='/respond/']")
    expect(answer.get_by_label("Carrier (essential)")).to_have_value("PostNL")
    shots.snap("checklist-before")
    answer.get_by_label("No", exact=True).check()
    answer.get_by_label("Message to the customer").fill("Delivered on 3 March, see the proof.")
    answer.get_by_label("Proof of delivery (essential)").set_input_files(str(proof))
    answer.get_by_role("button", name="Send my answer").click()
    expect(page.get_by_text("all 3 essential items are given")).to_be_visible()
    shots.snap("checklist-complete")
    services.dispute_customer_reply(
        dispute=answered, actor=customer_actor(answered), reply=CustomerReply.DISAGREE
    )

    # Support: the unauthorized purchase went straight to support, the shop was never heard.
    page.context.clear_cookies()
    _sign_in_to_the_desk(page, live_server.url, agent.username)
    page.goto(f"{live_server.url}/admin/disputes/dispute/{unheard.pk}/change/")
    expect(page.locator("#not-heard")).to_be_visible()
    shots.snap("desk-unheard")
    decide = page.locator("form[action$='/decide/']")
    decide.get_by_label("For the customer: the invoice is cancelled by the amount below").check()
    decide.locator("#id_decide-reason").fill("The bank confirmed the card was stolen.")
    decide.locator("#id_decide-code").select_option("not_authorised")
    for group in decide.locator(".evidence-mark").all():
        group.get_by_label("Considered but insufficient").check()
    decide.get_by_role("button", name="Decide", exact=True).click()
    expect(page.get_by_text("has not had its say").first).to_be_visible()
    shots.snap("desk-refused-without-override")
    decide = page.locator("form[action$='/decide/']")
    decide.locator("#id_decide-override_reason").fill(
        "The bank's theft report is conclusive; the shop may appeal with its records."
    )
    decide.get_by_role("button", name="Decide", exact=True).click()
    expect(page.get_by_text("Done.")).to_be_visible()
    unheard.refresh_from_db()
    assert (unheard.state, unheard.outcome) == (State.DECIDED, Outcome.CUSTOMER)

    # The answered case: every item weighed, a line on the decisive one.
    page.goto(f"{live_server.url}/admin/disputes/dispute/{answered.pk}/change/")
    expect(page.locator("#not-heard")).to_have_count(0)
    decide = page.locator("form[action$='/decide/']")
    decide.get_by_label("For the merchant: the invoice is payable again").check()
    decide.locator("#id_decide-reason").fill("The carrier confirms delivery to the address.")
    decide.locator("#id_decide-code").select_option("delivery_proven")
    for group in decide.locator(".evidence-mark").all():
        group.get_by_label("Not relevant").check()
    decide.locator("#id_decide-mark_merchant_proof_of_delivery_0").check()  # decisive
    decide.locator("#id_decide-note_merchant_proof_of_delivery").fill(
        "Signed delivery confirmation."
    )
    shots.snap("desk-itemised-decision")
    decide.get_by_role("button", name="Decide", exact=True).click()
    expect(page.get_by_text("Done.")).to_be_visible()
    expect(page.locator("#decision-record")).to_contain_text("Signed delivery confirmation.")
    shots.snap("desk-decision-record")

    # Both parties read the record; the shop reads the override and its fresh appeal.
    page.context.clear_cookies()
    _sign_in_to_the_portal(page, live_server.url, owner.username)
    page.goto(f"{live_server.url}/portal/cases/{answered.public_id}/")
    record = page.locator("#decision-record")
    expect(record).to_contain_text("Delivery proven")
    expect(record).to_contain_text("Signed delivery confirmation.")
    shots.snap("merchant-record")
    page.goto(f"{live_server.url}/portal/cases/{unheard.public_id}/")
    expect(page.locator("#decision-record")).to_contain_text("even if you appealed before")
    expect(page.get_by_text("Appeal the decision")).to_be_visible()
    shots.snap("merchant-override")
    page.goto(f"{live_server.url}{customer_case_path(answered)}")
    expect(page.locator("#decision-record")).to_contain_text("Signed delivery confirmation.")
    shots.snap("customer-record")
