"""A support agent works a case in the admin desk, in a real browser."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Page, expect

from disputes import services
from disputes.actors import Actor
from disputes.choices import EventType, Outcome, PaymentState, Reason, State
from tests.factories import MembershipFactory, MerchantFactory, UserFactory, open_dispute

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("support_groups"),
]

PASSWORD = "correct horse battery staple"  # UserFactory's


@pytest.fixture
def viewport() -> dict[str, int]:
    return {"width": 1280, "height": 900}


def test_agent_asks_the_merchant_for_information_then_decides(page: Page, live_server, camera):
    agent = UserFactory(username="agent@support.example", is_staff=True)
    agent.groups.add(Group.objects.get(name="support agent"))
    merchant = MerchantFactory(name="Demo Shop")
    membership = MembershipFactory(merchant=merchant)
    dispute = open_dispute(
        merchant=merchant, reason=Reason.UNAUTHORIZED, message="I never ordered this."
    )
    shots = camera(1, area="support")

    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(agent.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/disputes/dispute/")
    expect(page.get_by_role("link", name=dispute.public_id)).to_be_visible()
    shots.snap("queue")

    page.get_by_role("link", name=dispute.public_id).click()
    expect(page.get_by_text("I never ordered this.").first).to_be_visible()
    shots.snap("case-desk")
    page.get_by_label("the merchant", exact=True).check()
    page.get_by_label("What do you need?").fill("Please send the signed delivery note.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text("Done.")).to_be_visible()
    shots.snap("information-requested")
    dispute.refresh_from_db()
    assert dispute.state == State.INFO_REQUESTED

    services.dispute_add_message(
        dispute=dispute,
        actor=Actor.merchant_user(user_id=membership.user_id, merchant_id=merchant.pk),
        message="We have no signed note; the parcel went to a neighbour.",
    )
    page.reload()
    expect(page.get_by_text("the parcel went to a neighbour")).to_be_visible()
    page.get_by_label("For the customer: the invoice is cancelled by the amount below").check()
    page.locator("#id_decide-reason").fill(
        "Without proof of delivery to the customer, the purchase is not shown to be theirs."
    )
    page.locator("#id_decide-code").select_option("not_authorised")
    decide = page.locator("form[action$='/decide/']")
    for group in decide.locator(".evidence-mark").all():
        group.get_by_label("Not relevant").check()
    page.get_by_role("button", name="Decide", exact=True).click()
    expect(page.get_by_text("Done.")).to_be_visible()
    shots.snap("decided")

    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome, dispute.decided_by) == (
        State.DECIDED,
        Outcome.CUSTOMER,
        agent,
    )
    assert dispute.order.payment_state == PaymentState.CANCELLED
    assert dispute.events.filter(event_type=EventType.INFO_PROVIDED).count() == 1
