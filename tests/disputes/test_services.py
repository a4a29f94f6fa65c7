"""Every transition of both programs, through the services, with its side effects."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import FeeKind, FeeLine
from disputes import services
from disputes.actors import SYSTEM
from disputes.choices import (
    CustomerReply,
    EventType,
    Outcome,
    Party,
    PaymentState,
    Program,
    ProtectionStatus,
    Reason,
    RefundOffer,
    State,
)
from disputes.errors import (
    DeadlinePassed,
    DisputeAlreadyOpen,
    DisputeNotFound,
    InvalidAmount,
    InvalidChoice,
    MissingMessage,
    NotEligible,
    TransitionNotAllowed,
)
from disputes.models import Dispute, DisputeEvent
from disputes.policies import ProtectionEnd
from notifications.models import OutboxMessage
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    customer_actor,
    decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 11:00 in Amsterdam


def event_types(dispute: Dispute) -> list[str]:
    return list(dispute.events.order_by("created_at", "id").values_list("event_type", flat=True))


def kinds_queued(dispute: Dispute) -> list[str]:
    return sorted(OutboxMessage.objects.filter(dispute=dispute).values_list("kind", flat=True))


def snapshot(dispute: Dispute) -> tuple:
    """Everything a rejected call must leave untouched."""
    dispute.refresh_from_db()
    dispute.order.refresh_from_db()
    return (
        dispute.state,
        dispute.due_at,
        dispute.refund_offer,
        dispute.refund_offer_amount,
        dispute.settled_amount,
        dispute.order.payment_state,
        DisputeEvent.objects.filter(dispute=dispute).count(),
        FeeLine.objects.filter(dispute=dispute).count(),
        OutboxMessage.objects.filter(dispute=dispute).count(),
    )


# --- Opening -------------------------------------------------------------------------------------


def test_opening_a_payment_dispute_pauses_the_invoice_and_starts_the_21_day_window():
    merchant = MerchantFactory()
    MembershipFactory(merchant=merchant)
    dispute = open_dispute(merchant=merchant, now=NOW)

    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_MERCHANT
    assert dispute.next_actor == Party.MERCHANT
    # 2 March + 21 days = 23 March, open until local midnight (23:00 UTC in winter time).
    assert dispute.due_at == datetime(2026, 3, 23, 23, 0, tzinfo=UTC)
    assert dispute.reminder_due_at == dispute.due_at - timedelta(days=7)
    assert dispute.order.payment_state == PaymentState.PAUSED
    assert dispute.disputed_amount == dispute.order_amount == Decimal("100.00")
    assert event_types(dispute) == [EventType.OPENED]
    assert kinds_queued(dispute) == ["customer_case_opened", "merchant_new_case"]
    assert not FeeLine.objects.exists()


def test_public_id_is_random_readable_and_not_the_primary_key():
    ids = [open_dispute(now=NOW).public_id for _ in range(20)]
    assert len(set(ids)) == 20
    crockford = "[0-9ABCDEFGHJKMNPQRSTVWXYZ]{4}"
    assert all(re.fullmatch(f"DP-{crockford}-{crockford}-{crockford}", i) for i in ids)
    # Consecutive cases share no prefix: the id says nothing about how many cases exist.
    assert len({i[:5] for i in ids}) > 10


def test_unauthorized_purchase_goes_straight_to_support_with_a_fee():
    dispute = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW)
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert dispute.next_actor == Party.SUPPORT
    assert dispute.due_at is None
    assert dispute.escalated_at == NOW
    assert event_types(dispute) == [EventType.OPENED, EventType.ESCALATED]
    fee = FeeLine.objects.get(dispute=dispute)
    assert (fee.kind, fee.amount, fee.currency) == (FeeKind.STANDARD, Decimal("7.50"), "EUR")


def test_buyer_protection_case_gets_five_calendar_days_and_leaves_the_invoice_alone():
    dispute = open_dispute(program=Program.BUYER_PROTECTION, now=NOW)
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_MERCHANT
    assert dispute.due_at == datetime(2026, 3, 7, 23, 0, tzinfo=UTC)  # 2 + 5 days, a Saturday
    assert dispute.reminder_due_at == dispute.due_at - timedelta(days=2)
    assert dispute.order.payment_state == PaymentState.ACTIVE


def test_another_request_goes_to_support_without_a_fee():
    dispute = open_dispute(program=Program.BUYER_PROTECTION, reason=Reason.OTHER_REQUEST, now=NOW)
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert not FeeLine.objects.filter(dispute=dispute).exists()


def test_buyer_protection_needs_active_protection():
    order = OrderFactory(placed_at=NOW - timedelta(days=31), protected=True)
    with pytest.raises(NotEligible):
        open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW)
    with pytest.raises(NotEligible):
        open_dispute(order=OrderFactory(), program=Program.BUYER_PROTECTION, now=NOW)
    assert not Dispute.objects.exists()


def test_a_second_case_for_the_same_order_points_to_the_open_one():
    dispute = open_dispute(now=NOW)
    with pytest.raises(DisputeAlreadyOpen) as error:
        open_dispute(order=dispute.order, reason=Reason.FAULTY, now=NOW)
    assert error.value.public_id == dispute.public_id
    assert Dispute.objects.count() == 1


def test_a_closed_case_does_not_block_a_new_one():
    dispute = open_dispute(now=NOW)
    services.dispute_withdraw(dispute=dispute, actor=customer_actor(dispute), now=NOW)
    again = open_dispute(order=dispute.order, reason=Reason.FAULTY, now=NOW)
    assert again.state == State.AWAITING_MERCHANT


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        (Program.PAYMENT_DISPUTE, Reason.NO_REFUND_AFTER_RETURN),
        (Program.BUYER_PROTECTION, Reason.UNAUTHORIZED),
        ("lottery", Reason.OTHER),
    ],
)
def test_a_reason_from_another_program_is_refused(program, reason):
    with pytest.raises(InvalidChoice):
        open_dispute(program=program, reason=reason, protected=True, now=NOW)
    assert not Dispute.objects.exists()


def test_a_case_needs_the_customers_own_words():
    with pytest.raises(MissingMessage):
        open_dispute(message="   ", now=NOW)
    assert not Dispute.objects.exists()


def test_a_refunded_order_cannot_be_disputed():
    order = OrderFactory(payment_state=PaymentState.REFUNDED)
    with pytest.raises(NotEligible):
        open_dispute(order=order, now=NOW)


# --- The merchant's answer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refund", "amount", "expected_offer", "expected_amount"),
    [
        (RefundOffer.FULL, None, RefundOffer.FULL, "100.00"),
        (RefundOffer.PARTIAL, "40.00", RefundOffer.PARTIAL, "40.00"),
        (RefundOffer.PARTIAL, "100.00", RefundOffer.FULL, "100.00"),
        (RefundOffer.AFTER_RETURN, None, RefundOffer.AFTER_RETURN, "100.00"),
        (RefundOffer.NONE, None, RefundOffer.NONE, "0.00"),
    ],
)
def test_merchant_offer_gives_the_customer_20_days(refund, amount, expected_offer, expected_amount):
    dispute = open_dispute(now=NOW)
    actor = merchant_actor(dispute.merchant)
    answered_at = NOW + timedelta(days=3)
    dispute = services.dispute_respond(
        dispute=dispute,
        actor=actor,
        refund=refund,
        amount=amount,
        message="Sorry!",
        now=answered_at,
    )
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_CUSTOMER
    assert dispute.next_actor == Party.CUSTOMER
    assert dispute.refund_offer == expected_offer
    assert dispute.refund_offer_amount == Decimal(expected_amount)
    assert dispute.due_at == datetime(2026, 3, 25, 23, 0, tzinfo=UTC)  # 5 March + 20 days
    assert event_types(dispute) == [EventType.OPENED, EventType.OFFER_MADE]
    assert "customer_offer_made" in kinds_queued(dispute)


def test_merchant_refusing_a_refund_after_cancellation_escalates_at_once():
    dispute = open_dispute(
        program=Program.BUYER_PROTECTION, reason=Reason.NO_REFUND_AFTER_CANCELLATION, now=NOW
    )
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.NONE,
        amount=None,
        message="The order was shipped before the cancellation.",
        now=NOW,
    )
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert event_types(dispute) == [EventType.OPENED, EventType.OFFER_MADE, EventType.ESCALATED]
    assert FeeLine.objects.filter(dispute=dispute).count() == 1


def test_merchant_offering_a_refund_after_cancellation_still_asks_the_customer():
    dispute = open_dispute(
        program=Program.BUYER_PROTECTION, reason=Reason.NO_REFUND_AFTER_CANCELLATION, now=NOW
    )
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.FULL,
        amount=None,
        message="Refunded.",
        now=NOW,
    )
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_CUSTOMER


@pytest.mark.parametrize(
    ("refund", "amount", "error"),
    [
        (RefundOffer.PARTIAL, "100.01", InvalidAmount),
        (RefundOffer.PARTIAL, "-5", InvalidAmount),
        (RefundOffer.PARTIAL, "0", InvalidAmount),
        (RefundOffer.PARTIAL, "12.345", InvalidAmount),
        (RefundOffer.PARTIAL, "ten", InvalidAmount),
        (RefundOffer.PARTIAL, None, InvalidAmount),
        (RefundOffer.FULL, "50.00", InvalidAmount),
        ("everything", None, InvalidChoice),
    ],
)
def test_a_bad_offer_is_refused_and_nothing_is_written(refund, amount, error):
    dispute = open_dispute(now=NOW)
    actor = merchant_actor(dispute.merchant)
    before = snapshot(dispute)
    with pytest.raises(error) as raised:
        services.dispute_respond(
            dispute=dispute, actor=actor, refund=refund, amount=amount, message="x", now=NOW
        )
    assert raised.value.field in ("amount", "refund")
    assert snapshot(dispute) == before


def test_refund_above_the_order_amount_says_what_the_limit_is():
    dispute = open_dispute(now=NOW)
    with pytest.raises(InvalidAmount, match=r"100\.00"):
        services.dispute_respond(
            dispute=dispute,
            actor=merchant_actor(dispute.merchant),
            refund=RefundOffer.PARTIAL,
            amount="150.00",
            message="x",
            now=NOW,
        )


def test_the_message_to_the_customer_is_mandatory():
    dispute = open_dispute(now=NOW)
    before = snapshot(dispute)
    with pytest.raises(MissingMessage):
        services.dispute_respond(
            dispute=dispute,
            actor=merchant_actor(dispute.merchant),
            refund=RefundOffer.FULL,
            amount=None,
            message="  ",
            now=NOW,
        )
    assert snapshot(dispute) == before


def test_another_merchants_case_does_not_exist_for_them():
    dispute = open_dispute(now=NOW)
    stranger = merchant_actor(MerchantFactory())
    before = snapshot(dispute)
    with pytest.raises(DisputeNotFound):
        services.dispute_respond(
            dispute=dispute,
            actor=stranger,
            refund=RefundOffer.FULL,
            amount=None,
            message="x",
            now=NOW,
        )
    with pytest.raises(DisputeNotFound):
        services.dispute_accept(dispute=dispute, actor=stranger, now=NOW)
    assert snapshot(dispute) == before


def test_another_customer_cannot_act_on_the_case():
    dispute = open_dispute(now=NOW)
    with pytest.raises(DisputeNotFound):
        services.dispute_withdraw(
            dispute=dispute, actor=customer_actor(open_dispute(now=NOW)), now=NOW
        )


def test_an_answer_after_the_deadline_is_refused_with_the_reason():
    dispute = open_dispute(now=NOW)
    dispute.refresh_from_db()
    before = snapshot(dispute)
    with pytest.raises(DeadlinePassed):
        services.dispute_respond(
            dispute=dispute,
            actor=merchant_actor(dispute.merchant),
            refund=RefundOffer.FULL,
            amount=None,
            message="Late",
            now=dispute.due_at,
        )
    assert snapshot(dispute) == before


def test_an_answer_after_escalation_says_the_case_is_with_support():
    dispute = open_dispute(now=NOW)
    dispute.refresh_from_db()
    services.dispute_escalate_overdue(now=dispute.due_at)
    with pytest.raises(DeadlinePassed, match="support"):
        services.dispute_respond(
            dispute=dispute,
            actor=merchant_actor(dispute.merchant),
            refund=RefundOffer.FULL,
            amount=None,
            message="Late",
            now=dispute.due_at + timedelta(minutes=1),
        )


def test_merchant_accepts_a_payment_dispute_outright():
    dispute = open_dispute(now=NOW)
    services.dispute_accept(
        dispute=dispute, actor=merchant_actor(dispute.merchant), message="Refunded.", now=NOW
    )
    dispute.refresh_from_db()
    assert dispute.state == State.RESOLVED
    assert dispute.outcome == Outcome.AGREEMENT
    assert dispute.settled_amount == Decimal("100.00")
    assert dispute.order.payment_state == PaymentState.CANCELLED  # an unpaid invoice
    assert dispute.due_at is None
    assert dispute.closed_at == NOW
    assert event_types(dispute) == [
        EventType.OPENED,
        EventType.DISPUTE_ACCEPTED,
        EventType.RESOLVED,
    ]
    assert not FeeLine.objects.exists()


def test_only_a_payment_dispute_can_be_accepted_outright():
    dispute = open_dispute(program=Program.BUYER_PROTECTION, now=NOW)
    with pytest.raises(InvalidChoice):
        services.dispute_accept(dispute=dispute, actor=merchant_actor(dispute.merchant), now=NOW)


# --- The customer's reply ------------------------------------------------------------------------


def offered(refund, amount=None, program=Program.BUYER_PROTECTION):
    dispute = open_dispute(program=program, now=NOW)
    return services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=refund,
        amount=amount,
        message="Our offer",
        now=NOW,
    )


@pytest.mark.parametrize(
    ("refund", "amount", "reply", "state", "payment_state"),
    [
        (RefundOffer.FULL, None, CustomerReply.RECEIVED_REFUND, State.RESOLVED, "cancelled"),
        (RefundOffer.FULL, None, CustomerReply.REFUND_NOT_RECEIVED, State.ESCALATED, "paused"),
        (RefundOffer.PARTIAL, "30.00", CustomerReply.RECEIVED_REFUND, State.RESOLVED, "active"),
        (
            RefundOffer.PARTIAL,
            "30.00",
            CustomerReply.REFUND_NOT_RECEIVED,
            State.ESCALATED,
            "paused",
        ),
        (RefundOffer.PARTIAL, "30.00", CustomerReply.REJECT_PARTIAL, State.ESCALATED, "paused"),
        (RefundOffer.NONE, None, CustomerReply.ACCEPT_NO_REFUND, State.RESOLVED, "active"),
        (RefundOffer.NONE, None, CustomerReply.DISAGREE, State.ESCALATED, "paused"),
    ],
)
def test_customer_reply_closes_or_escalates(refund, amount, reply, state, payment_state):
    dispute = offered(refund, amount, program=Program.PAYMENT_DISPUTE)
    services.dispute_customer_reply(
        dispute=dispute, actor=customer_actor(dispute), reply=reply, now=NOW + timedelta(days=1)
    )
    dispute.refresh_from_db()
    assert dispute.state == state
    assert dispute.order.payment_state == payment_state
    fees = FeeLine.objects.filter(dispute=dispute).count()
    assert fees == (1 if state == State.ESCALATED else 0)
    if state == State.RESOLVED:
        assert dispute.settled_amount == dispute.refund_offer_amount


@pytest.mark.parametrize(
    ("refund", "reply"),
    [
        (RefundOffer.FULL, CustomerReply.REJECT_PARTIAL),
        (RefundOffer.NONE, CustomerReply.RECEIVED_REFUND),
        (RefundOffer.FULL, "whatever"),
    ],
)
def test_a_reply_that_does_not_fit_the_offer_is_refused(refund, reply):
    dispute = offered(refund)
    before = snapshot(dispute)
    with pytest.raises(InvalidChoice):
        services.dispute_customer_reply(
            dispute=dispute, actor=customer_actor(dispute), reply=reply, now=NOW
        )
    assert snapshot(dispute) == before


def test_a_reply_after_the_20_days_is_refused():
    dispute = offered(RefundOffer.NONE)
    dispute.refresh_from_db()
    with pytest.raises(DeadlinePassed):
        services.dispute_customer_reply(
            dispute=dispute,
            actor=customer_actor(dispute),
            reply=CustomerReply.DISAGREE,
            now=dispute.due_at,
        )


def test_a_reply_before_any_offer_is_refused():
    dispute = open_dispute(now=NOW)
    with pytest.raises(TransitionNotAllowed):
        services.dispute_customer_reply(
            dispute=dispute, actor=customer_actor(dispute), reply=CustomerReply.DISAGREE, now=NOW
        )


@pytest.mark.parametrize("stage", ["awaiting_merchant", "awaiting_customer", "escalated"])
def test_customer_withdraws_at_any_open_stage_and_the_invoice_is_active_again(stage):
    dispute = open_dispute(now=NOW)
    if stage == "awaiting_customer":
        dispute = offered(RefundOffer.NONE, program=Program.PAYMENT_DISPUTE)
    if stage == "escalated":
        dispute = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW)
    services.dispute_withdraw(dispute=dispute, actor=customer_actor(dispute), now=NOW)
    dispute.refresh_from_db()
    assert dispute.state == State.WITHDRAWN
    assert dispute.outcome == Outcome.WITHDRAWN
    assert dispute.order.payment_state == PaymentState.ACTIVE
    with pytest.raises(TransitionNotAllowed):
        services.dispute_withdraw(dispute=dispute, actor=customer_actor(dispute), now=NOW)


# --- Support -------------------------------------------------------------------------------------


def escalated_case():
    merchant = MerchantFactory()
    MembershipFactory(merchant=merchant)
    return open_dispute(reason=Reason.UNAUTHORIZED, merchant=merchant, now=NOW)


def test_support_asks_the_merchant_for_information_with_a_working_day_deadline():
    dispute = escalated_case()
    services.dispute_request_information(
        dispute=dispute,
        actor=staff_actor(),
        party=Party.MERCHANT,
        message="Send the proof of delivery.",
        now=NOW,  # Monday 2 March
    )
    dispute.refresh_from_db()
    assert dispute.state == State.INFO_REQUESTED
    assert dispute.next_actor == Party.MERCHANT
    assert dispute.due_at == datetime(2026, 3, 9, 23, 0, tzinfo=UTC)  # 5 working days: Mon 9th
    assert "merchant_info_requested" in kinds_queued(dispute)
    event = dispute.events.get(event_type=EventType.INFO_REQUESTED)
    assert event.visibility == "merchant"

    services.dispute_provide_information(
        dispute=dispute, actor=merchant_actor(dispute.merchant), message="Attached.", now=NOW
    )
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert dispute.due_at is None


def test_only_the_party_asked_can_answer_an_information_request():
    dispute = escalated_case()
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.CUSTOMER, message="Photos?", now=NOW
    )
    with pytest.raises(TransitionNotAllowed):
        services.dispute_provide_information(
            dispute=dispute, actor=merchant_actor(dispute.merchant), message="Me!", now=NOW
        )
    services.dispute_provide_information(
        dispute=dispute, actor=customer_actor(dispute), message="Here.", now=NOW
    )
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED


@pytest.mark.parametrize(
    ("outcome", "amount", "settled", "payment_state"),
    [
        (Outcome.MERCHANT, None, "0.00", PaymentState.ACTIVE),
        # The order is an unpaid invoice: what goes to the customer is cancelled from it.
        (Outcome.CUSTOMER, None, "100.00", PaymentState.CANCELLED),
        (Outcome.SPLIT, "25.00", "25.00", PaymentState.ACTIVE),
    ],
)
def test_support_decides_with_a_written_reason(outcome, amount, settled, payment_state):
    dispute = escalated_case()
    staff = staff_actor()
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff,
        outcome=outcome,
        amount=amount,
        reason="Both statements and the carrier's records were reviewed.",
        now=NOW,
    )
    dispute.refresh_from_db()
    assert dispute.state == State.DECIDED
    assert dispute.outcome == outcome
    assert dispute.settled_amount == Decimal(settled)
    assert dispute.decided_by_id == staff.user_id
    assert dispute.order.payment_state == payment_state
    decided = dispute.events.get(event_type=EventType.DECIDED)
    assert decided.message.startswith("Both statements")
    assert decided.visibility == "both"
    assert {"merchant_decision", "customer_decision"} <= set(kinds_queued(dispute))


def test_a_decision_needs_a_reason_and_a_staff_member():
    dispute = escalated_case()
    before = snapshot(dispute)
    with pytest.raises(MissingMessage):
        services.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=staff_actor(),
            outcome=Outcome.MERCHANT,
            reason="",
            now=NOW,
        )
    with pytest.raises(TransitionNotAllowed):
        services.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=merchant_actor(dispute.merchant),
            outcome=Outcome.MERCHANT,
            reason="I win",
            now=NOW,
        )
    assert snapshot(dispute) == before


@pytest.mark.parametrize("amount", [None, "0", "100.00", "150.00"])
def test_a_split_decision_needs_a_partial_amount(amount):
    dispute = escalated_case()
    with pytest.raises(InvalidAmount):
        services.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=staff_actor(),
            outcome=Outcome.SPLIT,
            amount=amount,
            reason="Half each.",
            now=NOW,
        )


def test_support_cannot_decide_a_case_still_with_the_merchant():
    dispute = open_dispute(now=NOW)
    before = snapshot(dispute)
    with pytest.raises(TransitionNotAllowed):
        services.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=staff_actor(),
            outcome=Outcome.MERCHANT,
            reason="Early",
            now=NOW,
        )
    assert snapshot(dispute) == before


def test_a_decided_case_cannot_be_decided_again():
    dispute = escalated_case()
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        outcome=Outcome.MERCHANT,
        reason="First",
        now=NOW,
    )
    with pytest.raises(TransitionNotAllowed):
        services.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=staff_actor(),
            outcome=Outcome.CUSTOMER,
            reason="Second",
            now=NOW,
        )
    assert Dispute.objects.get(pk=dispute.pk).outcome == Outcome.MERCHANT


# --- Buyer protection on the order ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "decision", "extended_days"),
    [("plus", "granted", 60), ("one_time", "granted", 60), ("basic", "upgrade_required", 30)],
)
def test_extending_protection_once(tier, decision, extended_days):
    order = OrderFactory(protected=True, protection_tier=tier, placed_at=NOW)
    result = services.order_extend_protection(order=order, now=NOW + timedelta(days=23))
    order.refresh_from_db()
    assert result == decision
    assert order.protection_ends_at == NOW + timedelta(days=extended_days)
    again = services.order_extend_protection(order=order, now=NOW + timedelta(days=24))
    assert again in ("already_extended", "upgrade_required")
    order.refresh_from_db()
    assert order.protection_ends_at == NOW + timedelta(days=extended_days)


def test_all_fine_ends_protection_early():
    order = OrderFactory(protected=True, placed_at=NOW)
    assert services.order_end_protection(order=order, now=NOW) == ProtectionEnd.ENDED
    order.refresh_from_db()
    assert order.protection_status == ProtectionStatus.ENDED
    assert services.order_end_protection(order=order, now=NOW) == ProtectionEnd.NOT_ACTIVE
    with pytest.raises(NotEligible):
        open_dispute(order=order, program=Program.BUYER_PROTECTION, now=NOW)


def test_transitions_are_not_methods_callers_can_skip_the_service_with():
    dispute = open_dispute(now=NOW)
    with pytest.raises(AttributeError):
        dispute.state = State.DECIDED  # the FSM field is protected
    assert SYSTEM.kind == "system"


def test_a_partial_refund_after_return_can_be_refused_as_partial():
    dispute = offered(RefundOffer.AFTER_RETURN, "60.00")
    services.dispute_customer_reply(
        dispute=dispute,
        actor=customer_actor(dispute),
        reply=CustomerReply.REJECT_PARTIAL,
        now=NOW,
    )
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    full = offered(RefundOffer.AFTER_RETURN)
    with pytest.raises(InvalidChoice):
        services.dispute_customer_reply(
            dispute=full, actor=customer_actor(full), reply=CustomerReply.REJECT_PARTIAL, now=NOW
        )
