"""/payment-instructions: what the portal decided about orders' money, in order, for the
provider's ledger (the operator's key). The same instructions are pushed, signed, to the
provider's endpoints; this feed is for catching up and for consumers behind a firewall."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from disputes.models import PaymentInstruction

from ..schemas import Money, money, utc
from ..scopes import Scope
from .auth import request_merchant_or_none, requires

router = Router(tags=["payment instructions"])


class InstructionOut(Schema):
    id: str = Field(examples=["pi_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"], description="Stable id.")
    sequence: int = Field(
        description="Gapless across the portal: the feed's cursor.", examples=[1042]
    )
    type: str = Field(
        examples=["charge_back"],
        description="pause_invoice, reactivate_invoice, cancel_invoice, charge_back, refund, "
        "reverse_chargeback, fee_charged, fee_waived or fee_credited.",
    )
    merchant: str = Field(description="The merchant's slug.", examples=["trail-co"])
    order_number: str = Field(description="The order it is about.", examples=["A-10023"])
    amount: Money = Field(description="Never negative: `type` says which way the money goes.")
    case_id: str | None = Field(
        description="The case that caused it, if any.", examples=["DP-7K2M-Q9XD-4HTA"]
    )
    event_id: int | None = Field(
        description="The case's timeline event that caused it.", examples=[88213]
    )
    livemode: bool = Field(
        description="`false` for a test merchant's orders: move no real money.", examples=[True]
    )
    created_at: datetime = Field(
        description="The moment of the decision (UTC).", examples=["2026-03-09T14:02:11.518Z"]
    )


class InstructionListOut(Schema):
    data: list[InstructionOut] = Field(description="The instructions after `after`, in sequence.")
    next_after: int | None = Field(
        description="Ask with `after` set to this for the next page; null when `data` is empty "
        "(keep your number).",
        examples=[1042],
    )


def instruction_out(instruction: PaymentInstruction) -> InstructionOut:
    return InstructionOut.model_construct(
        id=instruction.public_id,
        sequence=instruction.sequence,
        type=instruction.kind,
        merchant=instruction.merchant.slug,
        order_number=instruction.order.order_number,
        amount=money(instruction.amount, instruction.currency),
        case_id=instruction.dispute.public_id if instruction.dispute else None,
        event_id=instruction.event_id,
        livemode=instruction.livemode,
        created_at=utc(instruction.created_at),
    )


class InstructionQuery(Schema):
    after: int = Field(
        0,
        ge=0,
        le=2**63 - 1,
        description="The last sequence number you have applied; 0 for the start.",
        examples=[1041],
    )
    limit: int = Field(100, ge=1, le=1000, description="Instructions per page.", examples=[100])


@router.get(
    "",
    response={200: InstructionListOut},
    url_name="payment-instructions",
    auth=requires(Scope.INSTRUCTIONS_READ, merchant="optional"),
    operation_id="list_payment_instructions",
    summary="List payment instructions",
)
def list_instructions(request: HttpRequest, query: Query[InstructionQuery]) -> Any:
    """Every payment instruction after `after`, in sequence; `X-Merchant` narrows it to one
    merchant. A sequence number is never reused, changed or skipped."""
    rows = PaymentInstruction.objects.select_related("merchant", "order", "dispute").filter(
        sequence__gt=query.after
    )
    merchant = request_merchant_or_none(request)
    if merchant is not None:
        rows = rows.filter(merchant=merchant)
    page = list(rows.order_by("sequence")[: query.limit])
    return InstructionListOut.model_construct(
        data=[instruction_out(row) for row in page],
        next_after=page[-1].sequence if page else None,
    )
