"""Every page of the customer side, the merchant portal and the support desk, for both programs,
at desktop and phone widths, in English and Finnish: axe-core finds no serious or critical
violation, and no page repeats an element id. A screenshot of each is kept in
screenshots/a11y/.

axe-core comes from the `axe-playwright-python` package (its bundled axe.min.js, installed by
`make test`), never from a CDN."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, BrowserContext, Page

from disputes import services
from disputes.choices import CustomerReply, MemberRole, Outcome, Program, Reason, RefundOffer
from disputes.links import customer_case_path
from disputes.memberships import team_invite
from portal.emails import invitation_token
from tests.browser.conftest import SCREENSHOTS
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    UserFactory,
    customer_actor,
    decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("support_groups"),
]

PASSWORD = "correct horse battery staple"  # UserFactory's
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
# What the walk fails on: axe's two highest impacts.
BLOCKING = {"serious", "critical"}
AXE = Axe()

DUPLICATE_IDS = """() => {
  const seen = {}, twice = [];
  for (const element of document.querySelectorAll("[id]")) {
    if (seen[element.id]) twice.push(element.id); else seen[element.id] = true;
  }
  return [...new Set(twice)];
}"""


@dataclass
class World:
    owner: str
    agent: str
    pages: dict[str, list[tuple[str, str]]]  # area -> [(name, path)]


def _world() -> World:
    merchant = MerchantFactory(
        name="Demo Shop", slug="demo-shop", country="FI", time_zone="Europe/Helsinki"
    )
    owner = UserFactory(username="owner@demo-shop.example")
    MembershipFactory(user=owner, merchant=merchant, role=MemberRole.OWNER)
    agent = UserFactory(username="anna@support.example", first_name="Anna", is_staff=True)
    agent.groups.add(Group.objects.get(name="support lead"))

    waiting = open_dispute(merchant=merchant, message="The parcel never came.")
    offered = open_dispute(merchant=merchant, reason=Reason.WRONG_AMOUNT, message="Too much.")
    services.dispute_respond(
        dispute=offered,
        actor=merchant_actor(merchant),
        refund=RefundOffer.PARTIAL,
        amount="30.00",
        message="We refund the difference.",
    )
    decided = open_dispute(merchant=merchant, message="Never arrived.")
    services.dispute_respond(
        dispute=decided,
        actor=merchant_actor(merchant),
        refund=RefundOffer.NONE,
        amount=None,
        message="Delivered.",
        evidence=[services.EvidenceInput("tracking_number", "3S1")],
    )
    services.dispute_customer_reply(
        dispute=decided, actor=customer_actor(decided), reply=CustomerReply.DISAGREE
    )
    services.dispute_decide(
        dispute=decided,
        actor=staff_actor(),
        outcome=Outcome.MERCHANT,
        reason="Tracking shows delivery.",
        code="delivery_proven",
        assessments=decision_marks(decided)["assessments"],
    )
    unheard = open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, message="Not me.")
    protection = open_dispute(
        merchant=merchant, program=Program.BUYER_PROTECTION, message="Not delivered."
    )
    invitation = team_invite(
        merchant=merchant,
        email="new@demo-shop.example",
        role=MemberRole.AGENT,
        invited_by_id=owner.pk,
    )
    protected_order = OrderFactory(merchant=merchant, protected=True)
    free_order = OrderFactory(merchant=merchant)

    customer = [
        ("find-order", "/open/"),
        ("case-waiting", customer_case_path(waiting)),
        ("case-offer", customer_case_path(offered)),
        ("case-decided", customer_case_path(decided)),
        ("case-protection", customer_case_path(protection)),
        ("link-renewal", "/case-link/"),
        ("team-invitation", f"/portal/invitations/{invitation_token(invitation.pk)}/"),
        ("not-found", "/no-such-page/"),
    ]
    portal = [
        ("dashboard", "/portal/"),
        ("queue", "/portal/cases/"),
        ("case-to-answer", f"/portal/cases/{waiting.public_id}/"),
        ("case-decided", f"/portal/cases/{decided.public_id}/"),
        ("case-protection", f"/portal/cases/{protection.public_id}/"),
        ("fees", "/portal/fees/"),
        ("team", "/portal/team/"),
        ("preferences", "/portal/settings/notifications/"),
        ("leave", "/portal/team/leave/"),
    ]
    desk = [
        ("queue", "/admin/disputes/dispute/"),
        ("case-unheard", f"/admin/disputes/dispute/{unheard.pk}/change/"),
        ("case-decided", f"/admin/disputes/dispute/{decided.pk}/change/"),
        ("figures", "/admin/disputes/dispute/figures/"),
        ("two-factor", "/admin/two-factor/"),
    ]
    _orders = (protected_order, free_order)  # the public forms' orders, opened by the walk
    return World(
        owner.username,
        agent.username,
        {
            "customer": customer,
            "portal": portal,
            "desk": desk,
            "_orders": [(o.order_number, o.customer_email) for o in _orders],
        },
    )


@pytest.fixture
def walk_context(browser: Browser, request: Any) -> Iterator[BrowserContext]:
    viewport, language = request.param
    ctx = browser.new_context(
        viewport=viewport,
        locale=language,
        timezone_id="Europe/Helsinki",
        extra_http_headers={"Accept-Language": language},
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


def _check(page: Page, label: str, folder: str) -> list[str]:
    """axe and the id check on the page as it stands; returns what is wrong, in words."""
    problems = []
    results = AXE.run(page).response
    for violation in results["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [", ".join(node["target"]) for node in violation["nodes"][:3]]
            problems.append(f"{label}: {violation['id']} ({violation['impact']}) at {targets}")
    for duplicate in page.evaluate(DUPLICATE_IDS):
        problems.append(f"{label}: the id {duplicate!r} is used more than once")
    path = SCREENSHOTS / "a11y" / f"{folder}-{label.replace('/', '-')}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return problems


@pytest.mark.parametrize(
    "walk_context",
    [(DESKTOP, "en"), (PHONE, "en"), (DESKTOP, "fi"), (PHONE, "fi")],
    ids=["desktop-en", "phone-en", "desktop-fi", "phone-fi"],
    indirect=True,
)
def test_every_page_passes_axe_and_has_unique_ids(
    walk_context: BrowserContext, live_server: Any, request: pytest.FixtureRequest
):
    world = _world()
    page = walk_context.new_page()
    folder = request.node.callspec.id  # desktop-en, phone-fi, ...
    problems: list[str] = []

    for name, path in world.pages["customer"]:
        page.goto(live_server.url + path)
        problems += _check(page, f"customer/{name}", folder)
    # The public forms: find the order, then both programs' opening forms, with an error shown.
    number, email = world.pages["_orders"][1]
    page.goto(f"{live_server.url}/open/")
    page.locator("select[name=shop]").select_option("demo-shop")
    page.locator("input[name=order_number]").fill(number)
    page.locator("input[name=email]").fill(email)
    page.locator("form button[type=submit]").last.click()
    problems += _check(page, "customer/start", folder)
    page.goto(f"{live_server.url}/open/dispute/")
    problems += _check(page, "customer/open-dispute", folder)
    page.locator("form[method=post] button[type=submit]").last.click()  # nothing filled in
    problems += _check(page, "customer/open-dispute-errors", folder)

    page.goto(f"{live_server.url}/portal/login/")
    problems += _check(page, "portal/login", folder)
    page.locator("input[name=username]").fill(world.owner)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").last.click()
    for name, path in world.pages["portal"]:
        page.goto(live_server.url + path)
        problems += _check(page, f"portal/{name}", folder)
    # A tab of the queue: filters stay closed, and on a phone each case shows its time left
    # without scrolling sideways.
    page.goto(f"{live_server.url}/portal/cases/?tab=needs_response")
    assert page.locator("details.filters").get_attribute("open") is None
    if folder.startswith("phone"):
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the queue is {width}px wide on a phone"
        first_time = page.locator("table.queue .queue__time").first
        box = first_time.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"]
        assert box["y"] < PHONE["height"], "the first case's time left is below the fold"

    walk_context.clear_cookies()
    page.goto(f"{live_server.url}/admin/login/")
    problems += _check(page, "desk/login", folder)
    page.locator("input[name=username]").fill(world.agent)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    for name, path in world.pages["desk"]:
        page.goto(live_server.url + path)
        problems += _check(page, f"desk/{name}", folder)

    assert not problems, "\n".join(problems)
