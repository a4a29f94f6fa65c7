"""Pages that tell the truth: the zone of a deadline, what each side chose, what a case costs,
what a decision does to an unpaid invoice, and who may still appeal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes import services
from disputes.choices import CustomerReply, Outcome, PaymentState, Program, Reason, RefundOffer
from disputes.links import customer_case_path
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

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("support_groups")]


def portal(merchant) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(MembershipFactory(merchant=merchant).user)
    return client


def case_page(merchant, dispute) -> str:  # type: ignore[no-untyped-def]
    return portal(merchant).get(reverse("portal:case", args=[dispute.public_id])).content.decode()


def test_customer_pages_name_the_time_zone_of_a_deadline():
    dispute = open_dispute(merchant=MerchantFactory(time_zone="Europe/Helsinki"))
    page = Client().get(customer_case_path(dispute)).content.decode()
    assert "23:59 (Eastern European Time)" in page
    finnish = Client(HTTP_ACCEPT_LANGUAGE="fi").get(customer_case_path(dispute)).content.decode()
    assert "(Itä-Euroopan aika)" in finnish


def test_the_timeline_says_what_each_side_chose():
    dispute = open_dispute()
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.PARTIAL,
        amount="40.00",
        message="Half back.",
    )
    services.dispute_customer_reply(
        dispute=dispute, actor=customer_actor(dispute), reply=CustomerReply.REJECT_PARTIAL
    )
    customer = Client().get(customer_case_path(dispute)).content.decode()
    assert "Offer: Partial refund, €40.00." in customer
    merchant = case_page(dispute.merchant, dispute)
    assert "Answer: “I do not accept a partial refund”." in merchant


def test_the_merchant_sees_the_fee_an_unanswered_case_costs_and_then_what_it_cost():
    dispute = open_dispute()
    page = case_page(dispute.merchant, dispute)
    assert "if the case goes to support" in page
    assert "the case goes to support and a dispute fee of" in page
    services.dispute_escalate_overdue(now=dispute.due_at)
    page = case_page(dispute.merchant, dispute)
    assert "if the case goes to support" not in page
    assert "Dispute fee" in page


def test_a_decision_on_an_unpaid_invoice_cancels_it_and_says_so_and_the_shop_may_appeal():
    dispute = open_dispute()  # a pay-later invoice, paused by the case
    services.dispute_escalate_overdue(now=dispute.due_at)
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="No proof of delivery.",
        **decision_marks(dispute),
    )
    dispute.refresh_from_db()
    assert dispute.order.payment_state == PaymentState.CANCELLED
    page = Client().get(customer_case_path(dispute)).content.decode()
    assert "Your invoice is cancelled by €100.00: you do not pay that part." in page
    assert "Returned to you" not in page
    assert "may appeal this decision once, until" in page
    merchant = case_page(dispute.merchant, dispute)
    assert "To the customer" in merchant
    assert "€100.00" in merchant


def test_the_desk_words_the_outcomes_by_payment_state_and_keeps_fraud_to_unauthorized(client):
    agent = UserFactory(is_staff=True)
    agent.groups.add(Group.objects.get(name="support agent"))
    client.force_login(agent)
    paid = OrderFactory(is_invoice=False, payment_state=PaymentState.PAID, protected=True)
    protection = open_dispute(order=paid, program=Program.BUYER_PROTECTION)
    services.dispute_escalate_overdue(now=protection.due_at)
    desk = client.get(reverse("admin:disputes_dispute_change", args=[protection.pk]))
    text = desk.content.decode()
    assert "charge back the amount below" in text
    assert "proven as fraud" not in text
    unpaid = open_dispute(reason=Reason.UNAUTHORIZED)
    text = client.get(reverse("admin:disputes_dispute_change", args=[unpaid.pk])).content.decode()
    assert "the invoice is cancelled by the amount below" in text
    assert "charge back" not in text
    assert "proven as fraud" in text


def test_the_dashboard_shows_last_months_final_rate():
    merchant = MerchantFactory()
    last_month = timezone.now().replace(day=1) - timedelta(days=3)
    for _ in range(4):
        OrderFactory(merchant=merchant, placed_at=last_month)
    open_dispute(order=OrderFactory(merchant=merchant, placed_at=last_month), now=last_month)
    page = portal(merchant).get(reverse("portal:dashboard")).content.decode()
    assert "Last month's final rate: 20.00 %." in page
