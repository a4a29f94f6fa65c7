"""`manage.py verify_ledger`: the payment instructions replay to what the portal holds, and any
tampering with an order, a case or a fee shows up as a difference with a non-zero exit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing.models import FeeLine
from disputes import services
from disputes.choices import InstructionKind, Outcome, PaymentState, Program, Reason
from disputes.models import Dispute, Order, PaymentInstruction
from disputes.orders import order_patch
from tests.factories import MembershipFactory, OrderFactory, decision_marks, staff_actor

pytestmark = pytest.mark.django_db
START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def escalated_case(*, paid: bool) -> Dispute:
    merchant = MembershipFactory().merchant
    order = OrderFactory(merchant=merchant, placed_at=START, amount=Decimal("100.00"))
    if paid:
        order_patch(
            merchant=merchant,
            order_number=order.order_number,
            changes={"paid_at": START.isoformat()},
            now=START,
        )
        order.refresh_from_db()
    dispute = services.dispute_open(
        order=order,
        program=Program.PAYMENT_DISPUTE,
        reason=Reason.NOT_RECEIVED,
        message="The parcel never arrived.",
        now=START + timedelta(days=1),
    )
    services.dispute_escalate_overdue(now=START + timedelta(days=40))
    dispute.refresh_from_db()
    return dispute


def decide(dispute: Dispute, outcome: Outcome, amount: str | None = None) -> None:
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        outcome=outcome,
        amount=amount,
        reason="Decided on the documents.",
        now=START + timedelta(days=41),
    )


def kinds(dispute: Dispute) -> list[tuple[str, Decimal]]:
    return list(
        PaymentInstruction.objects.filter(order=dispute.order)
        .order_by("sequence")
        .values_list("kind", "amount")
    )


def verify() -> str:
    out = StringIO()
    try:
        call_command("verify_ledger", stdout=out)
    except CommandError as error:
        raise AssertionError(out.getvalue()) from error
    return out.getvalue()


def verify_fails() -> str:
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_ledger", stdout=out)
    return out.getvalue() + str(failure.value)


def test_an_invoice_decided_for_the_merchant_is_paused_then_reactivated():
    dispute = escalated_case(paid=False)
    decide(dispute, Outcome.MERCHANT)
    assert kinds(dispute) == [
        (InstructionKind.PAUSE_INVOICE, Decimal("100.00")),
        (InstructionKind.FEE_CHARGED, Decimal("7.50")),
        (InstructionKind.REACTIVATE_INVOICE, Decimal("100.00")),
    ]
    assert "agree" in verify()


def test_a_split_on_an_invoice_cancels_part_and_reactivates_the_rest():
    dispute = escalated_case(paid=False)
    decide(dispute, Outcome.SPLIT, "40.00")
    money = [k for k in kinds(dispute) if k[0] != InstructionKind.FEE_CHARGED]
    assert InstructionKind.CANCEL_INVOICE in [kind for kind, _amount in money]
    assert Order.objects.get(pk=dispute.order_id).moved_to_customer == Decimal("40.00")
    assert "agree" in verify()


def test_a_paid_order_decided_for_the_customer_is_charged_back_and_a_reopen_reverses_it():
    dispute = escalated_case(paid=True)
    decide(dispute, Outcome.CUSTOMER)
    assert (InstructionKind.CHARGE_BACK, Decimal("100.00")) in kinds(dispute)
    assert Order.objects.get(pk=dispute.order_id).payment_state == PaymentState.CHARGED_BACK
    assert "agree" in verify()

    services.dispute_reopen(
        dispute=dispute, actor=staff_actor(), reason="New evidence.", now=START + timedelta(days=42)
    )
    dispute.refresh_from_db()
    decide(dispute, Outcome.MERCHANT)
    assert (InstructionKind.REVERSE_CHARGEBACK, Decimal("100.00")) in kinds(dispute)
    assert "agree" in verify()


def test_an_order_whose_state_was_changed_behind_the_instructions_is_reported():
    dispute = escalated_case(paid=True)
    decide(dispute, Outcome.CUSTOMER)
    Order.objects.filter(pk=dispute.order_id).update(payment_state=PaymentState.PAID)
    report = verify_fails()
    assert f"#{dispute.order.order_number}" in report
    assert "instructions leave it charged_back, the order is paid" in report
    assert "1 difference(s)" in report


def test_a_settled_amount_changed_behind_the_instructions_is_reported():
    dispute = escalated_case(paid=True)
    decide(dispute, Outcome.CUSTOMER)
    Dispute.objects.filter(pk=dispute.pk).update(settled_amount=Decimal("60.00"))
    assert "its outcome says 60.00" in verify_fails()


def test_a_fee_changed_behind_its_instruction_is_reported():
    dispute = escalated_case(paid=False)
    FeeLine.objects.filter(dispute=dispute).update(amount=Decimal("25.00"))
    assert "fee line" in verify_fails()


def test_a_gap_in_the_numbering_is_reported():
    dispute = escalated_case(paid=False)
    last = PaymentInstruction.objects.order_by("-sequence").first()
    assert last is not None
    PaymentInstruction.objects.create(
        sequence=last.sequence + 2,
        public_id="pi_gap",
        kind=InstructionKind.PAUSE_INVOICE,
        merchant=dispute.merchant,
        order=dispute.order,
        amount=Decimal("1.00"),
        currency="EUR",
        created_at=START,
    )
    assert f"expected #{last.sequence + 1}, found #{last.sequence + 2}" in verify_fails()


def test_one_merchant_can_be_checked_alone():
    dispute = escalated_case(paid=True)
    other = escalated_case(paid=True)
    Order.objects.filter(pk=other.order_id).update(payment_state=PaymentState.REFUNDED)
    out = StringIO()
    call_command("verify_ledger", "--merchant", dispute.merchant.slug, stdout=out)
    assert "agree" in out.getvalue()
    with pytest.raises(CommandError, match="No merchant"):
        call_command("verify_ledger", "--merchant", "nobody")


def test_a_refund_the_provider_made_meanwhile_is_not_paid_again():
    dispute = escalated_case(paid=True)
    order_patch(
        merchant=dispute.merchant,
        order_number=dispute.order.order_number,
        changes={"refunded_outside_amount": "100.00"},
        now=START + timedelta(days=40),
    )
    decide(dispute, Outcome.CUSTOMER)
    assert InstructionKind.CHARGE_BACK not in [kind for kind, _amount in kinds(dispute)]
    order = Order.objects.get(pk=dispute.order_id)
    assert order.payment_state == PaymentState.REFUNDED
    assert order.moved_to_customer == Decimal("0.00")
    assert "agree" in verify()


def test_a_partial_refund_outside_leaves_only_the_rest_to_charge_back():
    dispute = escalated_case(paid=True)
    order_patch(
        merchant=dispute.merchant,
        order_number=dispute.order.order_number,
        changes={"refunded_outside_amount": "30.00"},
        now=START + timedelta(days=40),
    )
    decide(dispute, Outcome.CUSTOMER)
    assert (InstructionKind.CHARGE_BACK, Decimal("70.00")) in kinds(dispute)
    assert "agree" in verify()


def test_an_invoice_the_provider_cancelled_meanwhile_is_not_reactivated():
    dispute = escalated_case(paid=False)
    order_patch(
        merchant=dispute.merchant,
        order_number=dispute.order.order_number,
        changes={"cancelled_at": (START + timedelta(days=40)).isoformat()},
        now=START + timedelta(days=40),
    )
    decide(dispute, Outcome.MERCHANT)
    assert InstructionKind.REACTIVATE_INVOICE not in [kind for kind, _amount in kinds(dispute)]
    assert Order.objects.get(pk=dispute.order_id).payment_state == PaymentState.CANCELLED
    assert "agree" in verify()


def test_money_paid_back_twice_is_reported():
    dispute = escalated_case(paid=True)
    decide(dispute, Outcome.CUSTOMER)
    Order.objects.filter(pk=dispute.order_id).update(refunded_outside_amount=Decimal("50.00"))
    assert "the customer got back 150.00 of an order of 100.00" in verify_fails()
