"""Random lives of one order: customer, merchant, support and the clock act in any order, over
both programs, and after every step the history rules hold.

- at most one open case per order, and a decided or settled case is the last of its program;
- never two fees for one case, however often it is escalated, appealed or reopened;
- the invoice is what the last closed case implies (an independent model, below), and the
  payment instructions written on the way replay to the order's state (`verify_ledger`);
- no check-in or "ends soon" email goes out for a protection that has ended, and protection is
  over once its case was decided or settled, or the money went back.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from billing.ledger import verify_fee_instructions
from billing.models import FeeKind, FeeLine
from disputes import services
from disputes.choices import (
    OPEN_STATES,
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
from disputes.errors import DomainError
from disputes.ledger import verify_ledger
from disputes.models import Dispute, Order
from disputes.orders import order_patch
from disputes.policies import BUYER_PROTECTION, PAYMENT_DISPUTE, customer_replies_for
from notifications.models import OutboxMessage
from tests.factories import (
    MembershipFactory,
    OrderFactory,
    customer_actor,
    merchant_actor,
    staff_actor,
)

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
PROTECTION_EMAILS = ("customer_protection_checkin", "customer_protection_ending")


def invoice_after_close(current: str, *, outcome: str, settled: Decimal, at_stake: Decimal) -> str:
    """What a closed case does to the invoice, written out independently of the policies: what
    goes to the customer is cancelled from an unpaid invoice, charged back or refunded when
    paid; nothing to the customer leaves the invoice payable (or the order paid)."""
    to_customer = settled if outcome in (Outcome.CUSTOMER, Outcome.SPLIT, Outcome.AGREEMENT) else 0
    if current in (PaymentState.PAID, PaymentState.CHARGED_BACK, PaymentState.REFUNDED):
        if to_customer == 0:
            return PaymentState.PAID
        if outcome == Outcome.AGREEMENT:
            return PaymentState.REFUNDED if to_customer == at_stake else PaymentState.PAID
        return PaymentState.CHARGED_BACK
    return PaymentState.CANCELLED if to_customer == at_stake else PaymentState.ACTIVE


class OrderLife(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        membership = MembershipFactory()
        self.merchant_actor = merchant_actor(membership.merchant)
        self.order = OrderFactory(merchant=membership.merchant, protected=True, placed_at=START)
        self.invoice = PaymentState.ACTIVE
        self.seen: dict[int, str] = {}  # dispute id -> state after the last step
        self.protection_over_at: datetime | None = None

    # --- helpers -----------------------------------------------------------------------------

    def open_case(self) -> Dispute | None:
        return Dispute.objects.filter(order=self.order, state__in=OPEN_STATES).first()

    def latest(self) -> Dispute | None:
        return Dispute.objects.filter(order=self.order).order_by("-opened_at", "-pk").first()

    def attempt(self, action, **kwargs) -> None:  # type: ignore[no-untyped-def]
        # A refusal is a fine outcome; the invariants say it left nothing half-done.
        with contextlib.suppress(DomainError):
            action(now=self.now, **kwargs)
        self.after_step()

    def after_step(self) -> None:
        """Follow the invoice through what changed: opened, closed, reopened cases."""
        order = Order.objects.get(pk=self.order.pk)
        for dispute in Dispute.objects.filter(order=order).order_by("opened_at", "pk"):
            before = self.seen.get(dispute.pk)
            now_open = dispute.state in OPEN_STATES
            was_open = before in OPEN_STATES if before else None
            pauses = dispute.program == Program.PAYMENT_DISPUTE
            if before is None and pauses and self.invoice == PaymentState.ACTIVE:
                self.invoice = PaymentState.PAUSED  # opened
            elif was_open and not now_open:
                self.invoice = invoice_after_close(
                    self.invoice,
                    outcome=dispute.outcome,
                    settled=dispute.settled_amount or Decimal("0.00"),
                    at_stake=dispute.disputed_amount,
                )
            elif was_open is False and now_open:
                last = dispute.events.order_by("-created_at", "-pk").first()
                reopened = last is not None and last.event_type == EventType.REOPENED
                if reopened and pauses and self.invoice == PaymentState.ACTIVE:
                    self.invoice = PaymentState.PAUSED
            self.seen[dispute.pk] = dispute.state
        if order.protection_status != ProtectionStatus.ACTIVE and self.protection_over_at is None:
            self.protection_over_at = self.now

    # --- the customer ------------------------------------------------------------------------

    @rule(reason=st.sampled_from(PAYMENT_DISPUTE.reason_choices))
    def customer_opens_a_payment_dispute(self, reason: Reason) -> None:
        self.attempt(
            services.dispute_open,
            order=self.order,
            program=Program.PAYMENT_DISPUTE,
            reason=reason,
            message="Something went wrong.",
        )

    @rule(reason=st.sampled_from(BUYER_PROTECTION.reason_choices))
    def customer_opens_a_protection_case(self, reason: Reason) -> None:
        self.attempt(
            services.dispute_open,
            order=self.order,
            program=Program.BUYER_PROTECTION,
            reason=reason,
            message="Something went wrong.",
        )

    @precondition(lambda self: self.open_case() is not None)
    @rule(data=st.data())
    def customer_replies(self, data: st.DataObject) -> None:
        case = self.open_case()
        assert case is not None
        partial = (case.refund_offer_amount or 0) < case.disputed_amount
        replies = customer_replies_for(case.refund_offer, partial=partial) or ["received_refund"]
        self.attempt(
            services.dispute_customer_reply,
            dispute=case,
            actor=customer_actor(case),
            reply=data.draw(st.sampled_from(replies)),
        )

    @precondition(lambda self: self.open_case() is not None)
    @rule()
    def customer_withdraws(self) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(services.dispute_withdraw, dispute=case, actor=customer_actor(case))

    @rule(confirm=st.booleans())
    def customer_says_all_is_fine(self, confirm: bool) -> None:
        self.attempt(services.order_end_protection, order=self.order, withdraw_case=confirm)

    @rule()
    def customer_extends_the_protection(self) -> None:
        self.attempt(services.order_extend_protection, order=self.order)

    @precondition(lambda self: self.open_case() is not None)
    @rule()
    def customer_sends_the_goods_back(self) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(
            services.dispute_mark_return_shipped,
            dispute=case,
            actor=customer_actor(case),
            message="Sent with tracking 123.",
        )

    # --- the merchant ------------------------------------------------------------------------

    @precondition(lambda self: self.open_case() is not None)
    @rule(
        offer=st.sampled_from(list(RefundOffer)),
        amount=st.sampled_from([None, "10.00", "100.00"]),
    )
    def merchant_answers(self, offer: RefundOffer, amount: str | None) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(
            services.dispute_respond,
            dispute=case,
            actor=self.merchant_actor,
            refund=offer,
            amount=amount,
            message="Our answer.",
        )

    @precondition(lambda self: self.open_case() is not None)
    @rule()
    def merchant_accepts(self) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(services.dispute_accept, dispute=case, actor=self.merchant_actor)

    @precondition(lambda self: self.latest() is not None)
    @rule()
    def merchant_appeals(self) -> None:
        case = self.latest()
        assert case is not None
        self.attempt(
            services.dispute_appeal, dispute=case, actor=self.merchant_actor, message="New facts."
        )

    @precondition(lambda self: self.open_case() is not None)
    @rule()
    def merchant_confirms_the_return(self) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(services.dispute_confirm_return, dispute=case, actor=self.merchant_actor)

    # --- support -----------------------------------------------------------------------------

    @precondition(lambda self: self.open_case() is not None)
    @rule(outcome=st.sampled_from([Outcome.MERCHANT, Outcome.CUSTOMER, Outcome.SPLIT]))
    def support_decides(self, outcome: Outcome) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(
            services.dispute_decide,
            dispute=case,
            actor=staff_actor(),
            outcome=outcome,
            amount="40.00" if outcome == Outcome.SPLIT else None,
            reason="Decided on the documents.",
        )

    @precondition(lambda self: self.open_case() is not None)
    @rule(party=st.sampled_from([Party.MERCHANT, Party.CUSTOMER]))
    def support_asks_for_information(self, party: Party) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(
            services.dispute_request_information,
            dispute=case,
            actor=staff_actor(),
            party=party,
            message="Please send the tracking details.",
        )

    @precondition(lambda self: self.open_case() is not None)
    @rule()
    def support_decides_a_refund_after_return(self) -> None:
        case = self.open_case()
        assert case is not None
        self.attempt(
            services.dispute_decide_return, dispute=case, actor=staff_actor(), reason="Return it."
        )

    @precondition(lambda self: self.latest() is not None)
    @rule()
    def support_reopens(self) -> None:
        case = self.latest()
        assert case is not None
        self.attempt(
            services.dispute_reopen, dispute=case, actor=staff_actor(), reason="New evidence."
        )

    # --- the provider --------------------------------------------------------------------------

    @rule()
    def the_provider_reports_the_invoice_paid(self) -> None:
        result = order_patch(
            merchant=self.order.merchant,
            order_number=self.order.order_number,
            changes={"paid_at": self.now.isoformat()},
            now=self.now,
        )
        assert result.error is None, result.error
        if self.invoice in (PaymentState.ACTIVE, PaymentState.PAUSED):
            self.invoice = PaymentState.PAID
        self.after_step()

    # --- the clock ---------------------------------------------------------------------------

    # Mostly short steps: protection lasts 30 days, windows 5 to 21, so lives stay eventful.
    @rule(hours=st.sampled_from([1, 6, 24, 24 * 3, 24 * 6]))
    def time_passes_and_the_jobs_run(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        for job in (
            services.dispute_escalate_overdue,
            services.dispute_close_overdue_customer_windows,
            services.dispute_expire_information_requests,
            services.dispute_expire_returns,
            services.dispute_send_due_reminders,
            services.order_send_protection_checkins,
            services.order_send_protection_ending_notices,
            services.order_expire_protection,
        ):
            job(now=self.now)
        self.after_step()

    # --- what always holds -------------------------------------------------------------------

    @invariant()
    def at_most_one_case_is_open(self) -> None:
        assert Dispute.objects.filter(order=self.order, state__in=OPEN_STATES).count() <= 1

    @invariant()
    def a_decided_or_settled_case_is_the_last_of_its_program(self) -> None:
        cases = list(Dispute.objects.filter(order=self.order).order_by("opened_at", "pk"))
        for final in (c for c in cases if c.state in (State.DECIDED, State.RESOLVED)):
            later = [
                c for c in cases if c.program == final.program and c.opened_at > final.opened_at
            ]
            assert not later, (final.public_id, [c.public_id for c in later])

    @invariant()
    def no_case_is_charged_twice(self) -> None:
        charged = FeeLine.objects.filter(dispute__order=self.order, kind=FeeKind.STANDARD)
        assert charged.count() == charged.values("dispute").distinct().count()

    @invariant()
    def the_invoice_is_what_the_last_closed_case_implies(self) -> None:
        assert Order.objects.get(pk=self.order.pk).payment_state == self.invoice

    @invariant()
    def the_payment_instructions_replay_to_the_order(self) -> None:
        merchant = self.order.merchant
        differences = (
            *verify_ledger(merchant=merchant),
            *verify_fee_instructions(merchant=merchant),
        )
        assert [str(difference) for difference in differences] == []

    @invariant()
    def an_ended_protection_gets_no_protection_email(self) -> None:
        order = Order.objects.get(pk=self.order.pk)
        if self.protection_over_at is not None:
            late = OutboxMessage.objects.filter(
                kind__in=PROTECTION_EMAILS,
                recipient=order.customer_email,
                created_at__gt=self.protection_over_at,
            )
            assert not late.exists()
        closed = Dispute.objects.filter(order=order).exclude(state__in=OPEN_STATES)
        ended_by_case = closed.filter(
            program=Program.BUYER_PROTECTION, state__in=[State.DECIDED, State.RESOLVED]
        ).exists()
        money_back = order.payment_state in (
            PaymentState.CHARGED_BACK,
            PaymentState.REFUNDED,
            PaymentState.CANCELLED,
        )
        if ended_by_case or money_back:
            assert order.protection_status != ProtectionStatus.ACTIVE


OrderLife.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    database=None,
    derandomize=True,  # the same lives on every run: a failure is reproducible
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
def test_the_history_rules_hold_over_random_lives_of_an_order():
    OrderLife.TestCase().runTest()
