"""Rules over an order's whole history, each seen through the interface where it went wrong:
the customer pages, the support desk, the beat tasks, the statement job and the portal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import reverse

from billing import tasks as billing_tasks
from billing.models import FeeLine, FeeSchedule, Statement, StatementLine
from disputes import services
from disputes import tasks as dispute_tasks
from disputes.choices import (
    CustomerReply,
    EventType,
    Outcome,
    PaymentState,
    Program,
    ProtectionStatus,
    Reason,
    RefundOffer,
    State,
)
from disputes.links import customer_case_path, protection_answer_url
from disputes.models import ContractTerms, Dispute
from notifications.models import OutboxMessage
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

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def order():
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    MembershipFactory(merchant=merchant)
    return OrderFactory(
        merchant=merchant,
        order_number="A-100",
        customer_email="ann@mail.example",
        placed_at=NOW - timedelta(days=3),
    )


def find(client, order):
    return client.post(
        reverse("disputes:find-order"),
        {
            "shop": order.merchant.slug,
            "order_number": order.order_number,
            "email": "ann@mail.example",
        },
    )


def open_from_the_public_form(client, order):
    find(client, order)
    return client.post(
        reverse("disputes:open-dispute"),
        {"reason": Reason.NOT_RECEIVED, "message": "It never came, again."},
    )


def decide(dispute, outcome, *, now=NOW):
    services.dispute_escalate_overdue(now=dispute.due_at) if dispute.due_at else None
    return services.dispute_decide(
        dispute=Dispute.objects.get(pk=dispute.pk),
        **decision_marks(Dispute.objects.get(pk=dispute.pk)),
        actor=staff_actor(),
        outcome=outcome,
        reason="Tracking shows the parcel was delivered.",
        now=now,
    )


# --- 1. A decided or settled case is the order's last word on its program -------------------------


def test_after_a_decision_for_the_merchant_the_public_form_refuses_a_new_dispute(client, order):
    first = open_dispute(order=order, now=NOW)
    decide(first, Outcome.MERCHANT, now=NOW + timedelta(days=30))
    order.refresh_from_db()
    assert order.payment_state == PaymentState.ACTIVE

    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        start = client.get(reverse("disputes:start")) if find(client, order) else None
        response = open_from_the_public_form(client, order)

    page = response.content.decode()
    assert first.public_id in start.content.decode()  # said before the form is even filled in
    assert f"already had a payment dispute, {first.public_id}" in page
    assert "support@localhost" in page  # how to reach support
    assert Dispute.objects.filter(order=order).count() == 1
    order.refresh_from_db()
    assert order.payment_state == PaymentState.ACTIVE  # the invoice is not paused again
    assert FeeLine.objects.filter(dispute__order=order).count() == 1


def test_the_refusal_speaks_the_customers_language(client, order):
    first = open_dispute(order=order, now=NOW)
    decide(first, Outcome.MERCHANT, now=NOW + timedelta(days=30))

    find(client, order)
    response = client.post(
        reverse("disputes:open-dispute"),
        {"reason": Reason.NOT_RECEIVED, "message": "Nog steeds niet."},
        HTTP_ACCEPT_LANGUAGE="nl",
    )

    assert first.public_id in response.content.decode()
    assert "already had a payment dispute" not in response.content.decode()


def test_after_ok_end_the_protection_a_new_protection_case_is_refused(client, order):
    order.protection_tier, order.protection_status = "plus", ProtectionStatus.ACTIVE
    order.protection_ends_at = order.placed_at + timedelta(days=30)
    order.save()
    case = open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW)
    services.dispute_respond(
        dispute=case,
        actor=merchant_actor(order.merchant),
        refund=RefundOffer.NONE,
        amount=None,
        message="It was delivered to the neighbour.",
        now=NOW + timedelta(hours=1),
    )
    services.dispute_customer_reply(
        dispute=case,
        actor=customer_actor(case),
        reply=CustomerReply.ACCEPT_NO_REFUND,
        now=NOW + timedelta(hours=2),
    )
    order.refresh_from_db()
    assert order.protection_status == ProtectionStatus.ENDED  # it ended with its case

    find(client, order)
    response = client.post(
        reverse("disputes:protection"),
        {"answer": "not_received", "message": "Actually it is missing."},
    )

    assert Dispute.objects.filter(order=order).count() == 1
    assert response.status_code == 200
    assert f"already had a buyer protection case, {case.public_id}" in response.content.decode()


def test_a_withdrawn_dispute_does_not_block_a_new_one(client, order):
    first = open_dispute(order=order, now=NOW)
    services.dispute_withdraw(dispute=first, actor=customer_actor(first), now=NOW)

    response = open_from_the_public_form(client, order)

    assert response.status_code == 302
    assert Dispute.objects.filter(order=order, state=State.AWAITING_MERCHANT).count() == 1


def test_support_reopens_a_decided_case_from_the_desk_with_a_written_reason(
    client, order, support_groups
):
    first = open_dispute(order=order, now=NOW)
    decide(first, Outcome.MERCHANT, now=NOW + timedelta(days=30))
    lead = UserFactory(is_staff=True)
    lead.groups.add(Group.objects.get(name="support lead"))
    client.force_login(lead)
    desk = reverse("admin:disputes_dispute_change", args=[first.pk])
    assert "Reopen the case" in client.get(desk).content.decode()

    response = client.post(
        reverse("admin:disputes_dispute_desk_action", args=[first.pk, "reopen"]),
        {"reopen-reason": "The customer sent a carrier letter: the parcel was lost."},
    )

    assert response.status_code == 302
    first.refresh_from_db()
    order.refresh_from_db()
    assert (first.state, first.outcome, first.closed_at) == (State.ESCALATED, "", None)
    assert order.payment_state == PaymentState.PAUSED  # paused again while support decides
    reopened = first.events.get(event_type=EventType.REOPENED)
    assert reopened.message == "The customer sent a carrier letter: the parcel was lost."
    assert FeeLine.objects.filter(dispute=first).count() == 1  # no second fee
    kinds = set(OutboxMessage.objects.filter(dispute=first).values_list("kind", flat=True))
    assert {"merchant_case_reopened", "customer_case_reopened"} <= kinds


def test_an_agent_cannot_reopen(client, order, support_groups):
    first = open_dispute(order=order, now=NOW)
    decide(first, Outcome.MERCHANT, now=NOW + timedelta(days=30))
    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="support agent"))
    client.force_login(agent)

    response = client.post(
        reverse("admin:disputes_dispute_desk_action", args=[first.pk, "reopen"]),
        {"reopen-reason": "Because."},
    )

    assert response.status_code == 403
    first.refresh_from_db()
    assert first.state == State.DECIDED


def test_a_case_is_not_reopened_while_the_order_has_another_open_case(order):
    order.protection_tier, order.protection_status = "plus", ProtectionStatus.ACTIVE
    order.protection_ends_at = order.placed_at + timedelta(days=30)
    order.save()
    first = open_dispute(order=order, reason=Reason.WRONG_AMOUNT, now=NOW)
    decide(first, Outcome.MERCHANT, now=NOW + timedelta(days=1))
    open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW + timedelta(days=2))

    with pytest.raises(Exception, match="another open case"):
        services.dispute_reopen(dispute=first, actor=staff_actor(), reason="Look again.")


# --- 2. Protection ends when its case ends --------------------------------------------------------


def protected_order(**kwargs):
    return OrderFactory(protected=True, placed_at=NOW - timedelta(days=10), **kwargs)


def test_after_a_protection_case_is_decided_for_the_customer_no_checkin_goes_out(client):
    order = protected_order()
    case = open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW)
    services.dispute_escalate_overdue(now=case.due_at)
    decide(case, Outcome.CUSTOMER, now=NOW + timedelta(days=6))
    order.refresh_from_db()
    assert (order.payment_state, order.protection_status) == (
        PaymentState.CANCELLED,
        ProtectionStatus.ENDED,
    )

    with time_machine.travel(order.placed_at + timedelta(days=23, minutes=5), tick=False):
        dispute_tasks.send_protection_checkins()
        dispute_tasks.send_protection_ending_notices()

    assert not OutboxMessage.objects.filter(
        kind__in=["customer_protection_checkin", "customer_protection_ending"]
    ).exists()


def test_an_old_checkin_link_says_the_protection_ended_and_opens_nothing(client):
    order = protected_order()
    link = protection_answer_url(order, "not_received").removeprefix("http://127.0.0.1:8000")
    case = open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW)
    services.dispute_escalate_overdue(now=case.due_at)
    decide(case, Outcome.CUSTOMER, now=NOW + timedelta(days=6))

    response = client.get(link)

    assert response.status_code == 200
    assert "no active buyer protection any more" in response.content.decode()
    post = client.post(reverse("disputes:protection"), {"answer": "not_received", "message": "x"})
    assert post.status_code == 302  # no order was verified by the old link: find it first
    assert Dispute.objects.filter(order=order).count() == 1


# --- 3. "All fine" while a case is open withdraws it, after a confirmation ------------------------


def test_all_fine_with_an_open_case_asks_first_then_withdraws_it_and_costs_no_fee(client):
    order = protected_order()
    case = open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW)
    link = protection_answer_url(order, "all_fine").removeprefix("http://127.0.0.1:8000")
    client.get(link)

    asked = client.post(reverse("disputes:protection"), {"answer": "all_fine"})

    assert asked.status_code == 200
    assert case.public_id in asked.content.decode()
    assert "withdraw my case and end my protection" in asked.content.decode()
    case.refresh_from_db()
    assert case.state == State.AWAITING_MERCHANT  # nothing changed before the confirmation

    done = client.post(
        reverse("disputes:protection"), {"answer": "all_fine", "confirm_withdrawal": "on"}
    )

    assert "Your buyer protection for this order has ended" in done.content.decode()
    case.refresh_from_db()
    order.refresh_from_db()
    assert case.state == State.WITHDRAWN
    assert order.protection_status == ProtectionStatus.ENDED
    services.dispute_escalate_overdue(now=NOW + timedelta(days=30))
    assert not FeeLine.objects.filter(dispute=case).exists()


# --- 4. An appeal is not undone from the side -----------------------------------------------------


def test_during_an_appeal_the_customer_cannot_withdraw_but_can_add_a_statement(client):
    case = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW)
    decide(case, Outcome.CUSTOMER, now=NOW + timedelta(days=1))
    services.dispute_appeal(
        dispute=case,
        actor=merchant_actor(case.merchant),
        message="The customer's own address, signed for.",
        now=NOW + timedelta(days=2),
    )
    case.refresh_from_db()
    page_url = customer_case_path(case)

    page = client.get(page_url).content.decode()
    refused = client.post(
        reverse("disputes:customer-withdraw", kwargs={"token": page_url.split("/")[2]}),
        {"withdraw-confirm": "on"},
    )
    statement = client.post(
        reverse("disputes:customer-message", kwargs={"token": page_url.split("/")[2]}),
        {"message-message": "I never ordered this; my card was stolen."},
    )

    assert "has appealed" in page
    assert "Withdraw my case" not in page
    assert "cannot be withdrawn now" in refused.content.decode()
    assert statement.status_code == 302
    case.refresh_from_db()
    assert case.state == State.ESCALATED
    assert case.order.payment_state == PaymentState.CANCELLED


# --- 5. Every ended month is billed exactly once --------------------------------------------------


def escalate_in(merchant, moment):
    with time_machine.travel(moment, tick=False):
        return open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=moment)


def test_a_missed_first_of_the_month_is_caught_up_by_the_next_run_and_billed_once():
    merchant = MerchantFactory()
    escalate_in(merchant, datetime(2026, 9, 10, 12, tzinfo=UTC))
    escalate_in(merchant, datetime(2026, 10, 10, 12, tzinfo=UTC))
    # The beat was down on 1 October and on 1 November: neither month was billed.

    with time_machine.travel(datetime(2026, 11, 2, 2, 0, tzinfo=UTC), tick=False):
        issued = billing_tasks.issue_monthly_statements()
        again = billing_tasks.issue_monthly_statements()

    months = sorted(Statement.objects.values_list("period_start", flat=True))
    assert [f"{m:%Y-%m}" for m in months] == ["2026-09", "2026-10"]
    assert (issued, again) == (2, 0)
    assert StatementLine.objects.filter(kind="standard").count() == 2


# --- 6. "Another request" is not a claim ----------------------------------------------------------


def test_another_request_does_not_push_a_merchant_onto_the_elevated_fee():
    merchant = MerchantFactory()
    march = datetime(2026, 3, 3, 9, tzinfo=UTC)
    with time_machine.travel(march, tick=False):
        for _ in range(100):
            OrderFactory(merchant=merchant, placed_at=march)
        claim = open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=march)
        for _ in range(2):
            open_dispute(
                program=Program.BUYER_PROTECTION,
                reason=Reason.OTHER_REQUEST,
                merchant=merchant,
                now=march,
            )
    # 1 claim and 2 requests for 103 orders: 0.97 %; counted as claims it would be 2.9 %.

    with time_machine.travel(datetime(2026, 4, 1, 2, tzinfo=UTC), tick=False):
        billing_tasks.issue_monthly_statements()

    statement = Statement.objects.get(merchant=merchant)
    assert (statement.disputes_opened, statement.orders_placed) == (1, 103)
    assert not statement.lines.filter(kind="surcharge").exists()
    assert statement.lines.get(kind="standard").dispute == claim


# --- 7. No guessed money --------------------------------------------------------------------------


def test_a_currency_without_a_fee_schedule_is_an_error_of_manage_py_check():
    OrderFactory(currency="USD")

    with pytest.raises(SystemCheckError, match=r"billing\.E001.*USD"):
        call_command("check")


def test_the_fee_schedule_admin_names_the_currencies_it_does_not_price(admin_client):
    OrderFactory(currency="JPY")
    page = admin_client.get(reverse("admin:billing_feeschedule_changelist"), follow=True)
    assert "There are orders in JPY, but no fee schedule" in page.content.decode()
    FeeSchedule.objects.create(
        currency="JPY", valid_from=NOW.date(), standard_fee=Decimal("1200"), elevated_fee=0
    )
    page = admin_client.get(reverse("admin:billing_feeschedule_changelist"))
    assert "There are orders in" not in page.content.decode()


# --- 8. Warnings match charges --------------------------------------------------------------------


def test_the_dashboard_says_elevated_fee_only_when_the_statement_would_charge_it(client):
    membership = MembershipFactory()
    merchant = membership.merchant
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        for _ in range(97):
            OrderFactory(merchant=merchant, placed_at=now - timedelta(days=1))
        for _ in range(2):  # 2 claims for 99 orders: 2 %, above 1.5 % but under 100 orders
            open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=now)
        client.force_login(membership.user)
        page = client.get(reverse("portal:dashboard")).content.decode()
        fees = client.get(reverse("portal:fees-statements")).content.decode()

    assert "carry the elevated fee" not in page
    assert "fewer than 100 orders this month no elevated fee is charged" in page
    assert "if it stays there, cases escalated this month carry the elevated fee" not in fees


@pytest.mark.parametrize(("plan", "warned"), [(None, True), ("partner", False)])
def test_the_dashboard_judges_the_rate_by_the_merchants_own_fee_plan(client, plan, warned):
    membership = MembershipFactory()
    merchant = membership.merchant
    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    FeeSchedule.objects.create(
        plan="partner",
        currency="EUR",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC).date(),
        standard_fee=Decimal("15.00"),
        elevated_fee=Decimal("5.00"),
        rate_threshold=Decimal("0.0500"),
        minimum_orders=10,
    )
    if plan:
        ContractTerms.objects.create(
            merchant=merchant, valid_from=datetime(2026, 11, 1, tzinfo=UTC).date(), fee_plan=plan
        )
    with time_machine.travel(now, tick=False):
        OrderFactory.create_batch(196, merchant=merchant, placed_at=now - timedelta(days=1))
        for _ in range(4):  # 4 claims for 200 orders: 2 %, over the standard 1.5 %, under 5 %
            open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=now)
        client.force_login(membership.user)
        page = client.get(reverse("portal:dashboard")).content.decode()

    assert ("carry the elevated fee" in page) is warned


# --- 9. Every window ends at the end of a local day -----------------------------------------------


def test_a_santiago_deadline_over_the_midnight_dst_change_shows_23_59_of_its_last_day(client):
    membership = MembershipFactory(merchant__time_zone="America/Santiago", merchant__country="CL")
    # Opened on 15 August: the 21 days end on 5 September; Chile's clocks jump from 00:00 to
    # 01:00 on 6 September, so that day begins at 01:00 (04:00 UTC).
    opened = datetime(2026, 8, 15, 15, 0, tzinfo=UTC)
    case = open_dispute(merchant=membership.merchant, now=opened)
    assert case.due_at == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    client.force_login(membership.user)

    with time_machine.travel(opened + timedelta(hours=1), tick=False):
        page = client.get(reverse("portal:case", args=[case.public_id])).content.decode()

    assert "5 September 2026, 23:59" in page
    assert "6 September 2026, 01:00" not in page
