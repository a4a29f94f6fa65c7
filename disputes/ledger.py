"""The ledger check: replay every order's payment instructions and compare the result with
what the portal holds (the order's payment state, what its cases moved). The fee instructions
are checked against billing's lines in `billing.ledger`.

The replay is written out here, on its own, from what each instruction means; it does not call
the policies that wrote the instructions, so a mistake there shows up as a difference here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from .choices import (
    CLOSED_STATES,
    InstructionKind,
    Outcome,
    PaymentState,
)
from .models import Dispute, InstructionSequence, Merchant, Order, PaymentInstruction

ZERO = Decimal("0.00")
_MONEY_OUTCOMES = (Outcome.CUSTOMER, Outcome.SPLIT, Outcome.AGREEMENT)
FEE_KINDS = (InstructionKind.FEE_CHARGED, InstructionKind.FEE_WAIVED, InstructionKind.FEE_CREDITED)


@dataclass
class Replay:
    """An order's money as its instructions say it is."""

    amount: Decimal
    paid: bool
    state: str
    outstanding: Decimal
    moved: Decimal = ZERO
    problems: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, order: Order) -> Replay:
        if order.is_invoice:
            return cls(order.amount, False, PaymentState.ACTIVE, order.amount)
        return cls(order.amount, True, PaymentState.PAID, ZERO)

    def report_paid(self) -> None:
        if not self.paid and self.state in (PaymentState.ACTIVE, PaymentState.PAUSED):
            self.paid, self.state, self.outstanding = True, PaymentState.PAID, ZERO

    def apply(self, instruction: PaymentInstruction) -> None:
        kind, amount = instruction.kind, instruction.amount
        label = f"#{instruction.sequence} {kind} {amount}"
        if kind == InstructionKind.PAUSE_INVOICE:
            self._expect(label, self.state == PaymentState.ACTIVE and not self.paid)
            self.state = PaymentState.PAUSED
        elif kind == InstructionKind.REACTIVATE_INVOICE:
            self._expect(label, not self.paid)
            self.state, self.outstanding = PaymentState.ACTIVE, amount
            self.moved = self.amount - amount
        elif kind == InstructionKind.CANCEL_INVOICE:
            self._expect(label, not self.paid and amount <= self.outstanding)
            self.outstanding -= amount
            self.moved += amount
            if self.outstanding == 0:
                self.state = PaymentState.CANCELLED
        elif kind == InstructionKind.CHARGE_BACK:
            self._expect(label, self.paid)
            self.moved += amount
            self.state = PaymentState.CHARGED_BACK
        elif kind == InstructionKind.REFUND:
            self._expect(label, self.paid)
            self.moved += amount
            self.state = PaymentState.REFUNDED if self.moved == self.amount else PaymentState.PAID
        elif kind == InstructionKind.REVERSE_CHARGEBACK:
            self._expect(label, self.paid and amount <= self.moved)
            self.moved -= amount
            if self.moved == 0:
                self.state = PaymentState.PAID
        if self.moved < 0 or self.moved > self.amount:
            self.problems.append(f"{label}: {self.moved} moved of an order of {self.amount}")

    def _expect(self, label: str, holds: bool) -> None:
        if not holds:
            self.problems.append(f"{label}: not possible from {self.state}")


@dataclass(frozen=True)
class Difference:
    order: str  # "<merchant slug> #<order number>", or "sequence" for the numbering itself
    problem: str

    def __str__(self) -> str:
        return f"{self.order}: {self.problem}"


def _gaps(sequences: Iterable[int]) -> Iterator[Difference]:
    expected = 1
    for sequence in sequences:
        if sequence != expected:
            yield Difference("sequence", f"expected #{expected}, found #{sequence}")
            expected = sequence
        expected += 1


def orders_before_the_ledger() -> int:
    """The last order that existed before instructions were written (0: none did)."""
    counter = InstructionSequence.objects.filter(pk=1).first()
    return counter.orders_before if counter else 0


def verify_ledger(
    *, merchant: Merchant | None = None, batch_size: int = 2000
) -> Iterator[Difference]:
    """Every difference between the instructions and the portal's records, order by order
    (one merchant's orders when given; the numbering is checked across the portal)."""
    if merchant is None:
        sequences = PaymentInstruction.objects.order_by("sequence").values_list(
            "sequence", flat=True
        )
        yield from _gaps(sequences.iterator(chunk_size=batch_size))
    orders = Order.objects.select_related("merchant").order_by("pk")
    if merchant is not None:
        orders = orders.filter(merchant=merchant)
    after = orders_before_the_ledger()
    while batch := list(orders.filter(pk__gt=after)[:batch_size]):
        yield from _check_orders(batch)
        after = batch[-1].pk


def _check_orders(orders: list[Order]) -> Iterator[Difference]:
    ids = [order.pk for order in orders]
    instructions: dict[int, list[PaymentInstruction]] = defaultdict(list)
    for instruction in PaymentInstruction.objects.filter(order_id__in=ids).order_by("sequence"):
        instructions[instruction.order_id].append(instruction)
    cases: dict[int, list[Dispute]] = defaultdict(list)
    for dispute in Dispute.objects.filter(order_id__in=ids).order_by("pk"):
        cases[dispute.order_id].append(dispute)
    for order in orders:
        name = f"{order.merchant.slug} #{order.order_number}"
        money = [i for i in instructions[order.pk] if i.kind not in FEE_KINDS]
        replay = _replay(order, money)
        for problem in replay.problems:
            yield Difference(name, problem)
        if replay.state != order.payment_state and not _reported_since(order):
            yield Difference(
                name, f"instructions leave it {replay.state}, the order is {order.payment_state}"
            )
        if replay.moved != order.moved_to_customer:
            yield Difference(
                name,
                f"instructions moved {replay.moved} to the customer, the order says "
                f"{order.moved_to_customer}",
            )
        back = order.moved_to_customer + order.refunded_outside_amount
        if back > order.amount:
            yield Difference(
                name,
                f"the customer got back {back} of an order of {order.amount} "
                f"({order.moved_to_customer} by its cases, {order.refunded_outside_amount} "
                "refunded outside the portal)",
            )
        if order.cancelled_at is not None and order.payment_state != PaymentState.CANCELLED:
            yield Difference(
                name, f"the provider cancelled it, yet the order is {order.payment_state}"
            )
        by_cases = sum((d.moved_amount for d in cases[order.pk]), ZERO)
        if by_cases != order.moved_to_customer:
            yield Difference(
                name, f"its cases moved {by_cases}, the order says {order.moved_to_customer}"
            )
        for dispute in cases[order.pk]:
            yield from _check_case(name, order, dispute)


_NEED_PAID = (
    InstructionKind.CHARGE_BACK,
    InstructionKind.REFUND,
    InstructionKind.REVERSE_CHARGEBACK,
)


def _replay(order: Order, instructions: list[PaymentInstruction]) -> Replay:
    """The feed may report an invoice paid after the fact (paid_at is when the customer paid,
    not when we heard): the report counts from the first instruction that needs a paid order,
    as no instruction for an unpaid invoice is written once the portal knows it is paid."""
    replay = Replay.start(order)
    report_pending = order.paid_at is not None
    for instruction in instructions:
        if report_pending and instruction.kind in _NEED_PAID:
            replay.report_paid()
            report_pending = False
        replay.apply(instruction)
    if report_pending:
        replay.report_paid()
    return replay


def _reported_since(order: Order) -> bool:
    """A cancellation or a refund the feed reported: the provider's doing, not an instruction."""
    return order.cancelled_at is not None or order.refunded_outside_amount > 0


def _check_case(name: str, order: Order, dispute: Dispute) -> Iterator[Difference]:
    """A closed case moved its settled amount; less only where the provider had refunded or
    cancelled the order itself (what is already back is not paid twice)."""
    if dispute.state not in CLOSED_STATES:
        return
    expected = (dispute.settled_amount or ZERO) if dispute.outcome in _MONEY_OUTCOMES else ZERO
    reported = _reported_since(order)
    if dispute.moved_amount > expected or (dispute.moved_amount != expected and not reported):
        yield Difference(
            f"{name} case {dispute.public_id}",
            f"moved {dispute.moved_amount}, its outcome says {expected}",
        )


__all__ = ["FEE_KINDS", "Difference", "Replay", "orders_before_the_ledger", "verify_ledger"]
