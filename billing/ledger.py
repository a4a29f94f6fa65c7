"""The fee side of the ledger check: every fee instruction stands for a fee line or an issued
statement line of its case, with the same amount, and every such line has its instruction."""

from __future__ import annotations

from collections.abc import Iterator

from disputes.choices import InstructionKind
from disputes.ledger import FEE_KINDS, Difference, orders_before_the_ledger
from disputes.models import Merchant, PaymentInstruction

from .models import FeeKind, FeeLine, StatementLine, StatementStatus
from .services import fee_instruction_for


def verify_fee_instructions(
    *, merchant: Merchant | None = None, batch_size: int = 2000
) -> Iterator[Difference]:
    first_order = orders_before_the_ledger() + 1
    mine = {"merchant": merchant} if merchant is not None else {}
    instructed_fee_lines: set[int] = set()
    instructed_statement_lines: set[int] = set()
    fee_instructions = (
        PaymentInstruction.objects.filter(kind__in=FEE_KINDS, **mine)
        .select_related("merchant", "order", "fee_line", "statement_line__fee_line")
        .order_by("sequence")
    )
    for instruction in fee_instructions.iterator(chunk_size=batch_size):
        name = f"{instruction.merchant.slug} #{instruction.order.order_number}"
        label = f"#{instruction.sequence} {instruction.kind} {instruction.amount}"
        if instruction.fee_line is not None:
            instructed_fee_lines.add(instruction.fee_line.pk)
            line = instruction.fee_line
            if (
                instruction.kind != InstructionKind.FEE_CHARGED
                or line.amount != instruction.amount
                or line.dispute_id != instruction.dispute_id
            ):
                yield Difference(name, f"{label}: fee line {line.pk} holds {line.amount}")
        elif instruction.statement_line is not None:
            instructed_statement_lines.add(instruction.statement_line.pk)
            statement_line = instruction.statement_line
            standard = statement_line.fee_line.amount if statement_line.fee_line else None
            expected = fee_instruction_for(statement_line, standard)
            if expected != (instruction.kind, instruction.amount):
                yield Difference(
                    name, f"{label}: statement line {statement_line.pk} stands for {expected}"
                )
        elif instruction.livemode:
            # Only a test merchant's fee is instructed without a line: it is never billed.
            yield Difference(name, f"{label}: no fee line or statement line behind it")
    missing_fees = (
        FeeLine.objects.filter(kind=FeeKind.STANDARD, dispute__order_id__gte=first_order, **mine)
        .exclude(pk__in=instructed_fee_lines)
        .select_related("dispute__order", "merchant")
    )
    for line in missing_fees.iterator(chunk_size=batch_size):
        case = line.dispute
        yield Difference(
            f"{line.merchant.slug} #{case.order.order_number if case else '?'}",
            f"the fee of {line.amount} {line.currency} for case "
            f"{case.public_id if case else '?'} was never instructed",
        )
    issued_lines = (
        StatementLine.objects.filter(
            statement__status=StatementStatus.ISSUED,
            dispute__order_id__gte=first_order,
            **({"statement__merchant": merchant} if merchant is not None else {}),
        )
        .exclude(pk__in=instructed_statement_lines)
        .select_related("dispute__order", "statement__merchant", "fee_line")
    )
    for statement_line in issued_lines.iterator(chunk_size=batch_size):
        standard = statement_line.fee_line.amount if statement_line.fee_line else None
        if fee_instruction_for(statement_line, standard) is None:
            continue
        case = statement_line.dispute
        yield Difference(
            f"{statement_line.statement.merchant.slug} #{case.order.order_number if case else '?'}",
            f"statement line {statement_line.pk} ({statement_line.kind} "
            f"{statement_line.amount}) was never instructed",
        )
