"""Payment instructions: numbered without gaps and written last in the transaction that causes
them, then handed to whoever delivers them (the API's push to the provider, by a signal)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from . import signals
from .choices import InstructionKind
from .models import (
    Dispute,
    DisputeEvent,
    InstructionSequence,
    Merchant,
    Order,
    PaymentInstruction,
)


@dataclass(frozen=True)
class NewInstruction:
    kind: InstructionKind
    order: Order
    merchant: Merchant  # the order's (passed in: a sweep has it loaded already)
    amount: Decimal
    dispute: Dispute | None = None
    event: DisputeEvent | None = None
    fee_line_id: int | None = None
    statement_line_id: int | None = None


def instructions_write(
    instructions: Sequence[NewInstruction], *, now: datetime
) -> list[PaymentInstruction]:
    """Number and write the instructions. The counter row stays locked until the transaction
    commits, so numbers follow commit order and have no gaps; call this as late as possible."""
    if not instructions:
        return []
    counter, _created = InstructionSequence.objects.select_for_update().get_or_create(pk=1)
    first = counter.last + 1
    rows = [
        PaymentInstruction(
            sequence=first + offset,
            public_id=f"pi_{uuid.uuid4().hex}",
            kind=new.kind,
            merchant=new.merchant,
            order=new.order,
            dispute=new.dispute,
            event=new.event,
            fee_line_id=new.fee_line_id,
            statement_line_id=new.statement_line_id,
            amount=new.amount,
            currency=new.order.currency,
            livemode=not new.merchant.test_mode,
            created_at=now,
        )
        for offset, new in enumerate(instructions)
    ]
    PaymentInstruction.objects.bulk_create(rows)
    InstructionSequence.objects.filter(pk=counter.pk).update(last=first + len(rows) - 1)
    signals.instructions_recorded.send(sender=PaymentInstruction, instructions=rows, now=now)
    return rows
