"""The API's request and response shapes (version 1), and the functions that fill them.

Amounts are strings with their currency (no float rounding); times are ISO 8601 in UTC.
Webhook payloads use the same shapes, so a case looks the same whichever way it arrives.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from django.utils import timezone
from ninja import Schema
from ninja.responses import NinjaJSONEncoder
from pydantic import AfterValidator, Field

from billing.models import Statement, StatementLine
from disputes.choices import ActorKind, Party, RefundOffer, Visibility
from disputes.contracts import terms_of
from disputes.evidence import decision_record, side_completeness
from disputes.models import Attachment, Dispute, DisputeEvent
from disputes.policies import (
    Completeness,
    allowed_actions,
    evidence_for,
    merchant_window_for,
    minor_units,
    support_waiting_for,
)
from disputes.selectors import support_handler
from disputes.uploads import MAX_FILES


def api_json(shape: Schema) -> Any:
    """The shape as JSON-safe data exactly as the API renders it (times to the millisecond),
    for answers stored for idempotent replays and for webhook bodies: one case, one order, one
    instruction looks the same whichever way it arrives."""
    return json.loads(json.dumps(shape, cls=NinjaJSONEncoder))


def utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment else None


class Money(Schema):
    value: str = Field(examples=["12.50"])
    currency: str = Field(examples=["EUR"])


def money_json(value: Decimal | None, currency: str) -> dict[str, str] | None:
    """An amount with its currency's decimals (EUR 12.50, JPY 9000); columns hold at most 2."""
    if value is None:
        return None
    return {"value": f"{value:.{min(minor_units(currency), 2)}f}", "currency": currency}


def money(value: Decimal | None, currency: str) -> Money | None:
    """`money_json` as a Money; built without validation: both values are strings."""
    data = money_json(value, currency)
    if data is None:
        return None
    return Money.model_construct(value=data["value"], currency=data["currency"])


class ErrorDetail(Schema):
    code: str
    message: str
    field: str | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class OrderOut(Schema):
    number: str
    placed_at: datetime
    amount: Money
    customer_email: str


class CaseTermsOut(Schema):
    """The merchant's contract terms the case was opened under; it keeps them to its end."""

    merchant_window_days: int = Field(examples=[21])
    merchant_window_day_count: str = Field(examples=["calendar"], description="or working")
    fee_plan: str = Field(examples=["standard"])
    valid_from: date | None = Field(description="First day of that version (None: defaults).")


class ChecklistItemOut(Schema):
    key: str = Field(examples=["tracking_number"])
    label: str
    help: str
    kind: str = Field(description="document, text, or automatic (found by the portal)")
    essential: bool
    given: bool


class EvidenceOut(Schema):
    """How much of the merchant's evidence checklist for the case's reason is given."""

    essential_given: int = Field(examples=[2])
    essential_total: int = Field(examples=[3])
    complete: bool
    missing: list[str] = Field(description="Keys of the essential items not given yet.")


class AllowedActionOut(Schema):
    action: str = Field(examples=["respond"])
    until: datetime | None = Field(description="The action's deadline, when it has one.")


class RecordLineOut(Schema):
    party: str = Field(description="merchant or customer: whose evidence")
    item: str
    label: str
    given: bool
    weight: str = Field(description="decisive, insufficient or not_relevant")
    note: str


class DecisionRecordOut(Schema):
    """Support's itemised decision record: the reason code and each evidence item weighed."""

    code: str = Field(examples=["delivery_proven"])
    label: str
    override_reason: str | None = Field(
        description="Set when support decided without hearing the merchant: why."
    )
    lines: list[RecordLineOut]


class HandlerOut(Schema):
    first_name: str
    team: str


class DisputeOut(Schema):
    id: str = Field(examples=["DP-7K2M-Q9XD-4HTA"])
    program: str
    reason: str
    state: str
    outcome: str | None
    next_actor: str | None
    due_at: datetime | None
    order: OrderOut
    order_amount: Money
    disputed_amount: Money
    refund_offer: str | None
    refund_offer_amount: Money | None
    settled_amount: Money | None
    customer_message: str
    decision_reason: str
    opened_at: datetime
    escalated_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    terms: CaseTermsOut
    evidence: EvidenceOut
    allowed_actions: list[AllowedActionOut] = Field(
        description="What the merchant may do on the case now, each with its deadline."
    )
    decision_code: str | None = Field(
        description="The decision's reason code (see GET /disputes/{id} for its record)."
    )
    decision_override_reason: str | None = Field(
        description="Why support decided without hearing the merchant, when it did."
    )
    handler: HandlerOut | None = Field(description="Who handles the case at support.")
    support_waiting_for: str | None = Field(
        description="decision, information_from_merchant, information_from_customer, "
        "goods_returned or return_confirmed; None when the case is not with support."
    )


# --- A case as JSON -------------------------------------------------------------------------------
# The list, one case, the answers to actions and the webhooks all give a case as the plain,
# JSON-safe data below (the DisputeOut and DisputeDetailOut shapes, which document it), built
# straight from the case's attributes: no schema object per case and field to build, validate
# and walk again. Each renders exactly as django-ninja renders its schema (times to the
# millisecond in UTC with "Z"); tests/api/test_case_json.py holds the two to each other.


def json_time(moment: datetime | None) -> str | None:
    """A time as the API writes it: UTC, milliseconds, "Z" (DjangoJSONEncoder's form)."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat()
    if moment.microsecond:
        text = text[:23] + text[26:]
    return text.removesuffix("+00:00") + "Z"


def _terms_json(dispute: Dispute) -> dict[str, Any]:
    row = dispute.terms
    terms = terms_of(row)
    window = merchant_window_for(dispute.program, terms)
    return {
        "merchant_window_days": window.days,
        "merchant_window_day_count": window.day_count.value,
        "fee_plan": terms.fee_plan,
        "valid_from": row.valid_from.isoformat() if row and row.valid_from else None,
    }


def dispute_json(
    dispute: Dispute, *, now: datetime | None = None, evidence: Completeness | None = None
) -> dict[str, Any]:
    """A case as DisputeOut. `dispute` is a Dispute with its order, terms, merchant and
    assigned_to at hand, or a row with the same attributes (the list reads no model);
    `evidence`, the merchant's checklist completeness, when the caller has it already."""
    order = dispute.order
    currency = dispute.currency
    if evidence is None:
        evidence = side_completeness(dispute, Party.MERCHANT)
    handler = support_handler(dispute)
    waits = support_waiting_for(dispute)
    return {
        "id": dispute.public_id,
        "program": dispute.program,
        "reason": dispute.reason,
        "state": dispute.state,
        "outcome": dispute.outcome or None,
        "next_actor": dispute.next_actor or None,
        "due_at": json_time(dispute.due_at),
        "order": {
            "number": order.order_number,
            "placed_at": json_time(order.placed_at),
            "amount": money_json(order.amount, order.currency),
            "customer_email": order.customer_email,
        },
        "order_amount": money_json(dispute.order_amount, currency),
        "disputed_amount": money_json(dispute.disputed_amount, currency),
        "refund_offer": dispute.refund_offer or None,
        "refund_offer_amount": money_json(dispute.refund_offer_amount, currency),
        "settled_amount": money_json(dispute.settled_amount, currency),
        "customer_message": dispute.customer_message,
        "decision_reason": dispute.decision_reason,
        "opened_at": json_time(dispute.opened_at),
        "escalated_at": json_time(dispute.escalated_at),
        "closed_at": json_time(dispute.closed_at),
        "updated_at": json_time(dispute.updated_at),
        "terms": _terms_json(dispute),
        "evidence": {
            "essential_given": evidence.essential_given,
            "essential_total": evidence.essential_total,
            "complete": evidence.complete,
            "missing": list(evidence.missing),
        },
        "decision_code": dispute.decision_code or None,
        "decision_override_reason": dispute.override_reason or None,
        "allowed_actions": [
            {"action": action.action.value, "until": json_time(action.until)}
            for action in allowed_actions(
                dispute,
                Party.MERCHANT,
                now=now or timezone.now(),
                time_zone=dispute.merchant.time_zone,
                country=dispute.merchant.country,
            )
        ],
        "handler": None
        if handler is None
        else {"first_name": handler.first_name, "team": handler.team},
        "support_waiting_for": waits.value if waits else None,
    }


class DisputeDetailOut(DisputeOut):
    """One case as GET /disputes/{id}, the answers to actions and the webhooks give it: the
    list's fields, the merchant's checklist item by item, and the decision's record."""

    evidence_checklist: list[ChecklistItemOut]
    decision_record: DecisionRecordOut | None


def dispute_detail_json(dispute: Dispute) -> dict[str, Any]:
    """A case as DisputeDetailOut: for the API's answers and the webhooks' bodies, so a case
    looks the same whichever way it arrives."""
    evidence = side_completeness(dispute, Party.MERCHANT)
    given = set(evidence.given)
    return {
        **dispute_json(dispute, evidence=evidence),
        "evidence_checklist": [
            {
                "key": entry.key,
                "label": str(entry.item.label),
                "help": str(entry.item.help),
                "kind": entry.item.kind.value,
                "essential": entry.essential,
                "given": entry.key in given,
            }
            for entry in evidence_for(dispute.program, dispute.reason, Party.MERCHANT)
        ],
        "decision_record": _decision_record_json(dispute),
    }


def _decision_record_json(dispute: Dispute) -> dict[str, Any] | None:
    record = decision_record(dispute)
    if record is None:
        return None
    return {
        "code": record.code,
        "label": str(record.code_label),
        "override_reason": record.override_reason or None,
        "lines": [
            {
                "party": line.party,
                "item": line.key,
                "label": str(line.label),
                "given": line.provided,
                "weight": line.weight,
                "note": line.note,
            }
            for line in record.lines
        ],
    }


class DisputeListOut(Schema):
    data: list[DisputeOut]
    next_cursor: str | None


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int


class EventOut(Schema):
    id: int
    type: str
    actor: str
    message: str
    for_support: bool = Field(description="Only the merchant and support see this entry.")
    data: dict[str, Any]
    attachments: list[AttachmentOut]
    created_at: datetime


_ACTOR_NAMES = {ActorKind.STAFF: "support"}


def event_out(event: DisputeEvent, *, with_attachments: bool = True) -> EventOut:
    attachments: list[Attachment] = list(event.attachments.all()) if with_attachments else []
    # Built without validation: the values are of their fields' types already.
    return EventOut.model_construct(
        id=event.pk,
        type=event.event_type,
        actor=_ACTOR_NAMES.get(ActorKind(event.actor_kind), event.actor_kind),
        message=event.message,
        for_support=event.visibility == Visibility.MERCHANT,
        data=event.data,
        attachments=[
            AttachmentOut.model_construct(
                id=a.pk, name=a.original_name, content_type=a.content_type, size=a.size
            )
            for a in attachments
        ],
        created_at=utc(event.created_at),
    )


class EventListOut(Schema):
    data: list[EventOut]


def _no_nul(value: str) -> str:
    # The database cannot store NUL characters, and no person types them.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
FileId = Annotated[str, Field(pattern=r"^file_[0-9a-f]{32}$")]


# The published schema spells the offers out as an inline enum: they are RefundOffer's values.
RefundChoice = Literal["full", "partial", "after_return", "none"]
assert set(get_args(RefundChoice)) == set(RefundOffer.values)  # noqa: S101 - one list of offers


class EvidenceIn(Schema):
    """One item of the merchant's checklist for the case's reason (see `evidence.items`)."""

    item: str = Field(max_length=40, examples=["tracking_number"])
    value: Text = Field("", max_length=200, description="For a text item, e.g. the number.")
    files: list[FileId] = Field(
        default_factory=list, max_length=MAX_FILES, description="For a document item."
    )


class RespondIn(Schema):
    refund: RefundChoice
    amount: Text | None = Field(
        None, max_length=32, examples=["12.50"], description="Required for a partial refund."
    )
    message: Text = Field(min_length=1, max_length=10000)
    files: list[FileId] = Field(default_factory=list, max_length=MAX_FILES)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class AcceptIn(Schema):
    message: Text = Field("", max_length=10000)


class MessageIn(Schema):
    message: Text = Field(min_length=1, max_length=10000)
    files: list[FileId] = Field(default_factory=list, max_length=MAX_FILES)


class EvidenceSubmissionIn(Schema):
    """Evidence for support: checklist items, plain documents, and a note (at least one)."""

    message: Text = Field("", max_length=10000)
    files: list[FileId] = Field(default_factory=list, max_length=MAX_FILES)
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=20)


class FileOut(Schema):
    id: str = Field(examples=["file_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"])
    name: str
    content_type: str
    size: int


class StatementLineOut(Schema):
    kind: str
    case_id: str | None
    amount: Money
    waived_amount: Money
    waiver: str | None


class StatementOut(Schema):
    id: int
    period_start: date
    currency: str
    total: Money
    disputes_opened: int
    orders_placed: int
    issued_at: datetime | None


class StatementDetailOut(StatementOut):
    lines: list[StatementLineOut]


class StatementListOut(Schema):
    data: list[StatementOut]


def _statement_fields(statement: Statement) -> dict[str, Any]:
    return {
        "id": statement.pk,
        "period_start": statement.period_start,
        "currency": statement.currency,
        "total": money(statement.total, statement.currency),
        "disputes_opened": statement.disputes_opened,
        "orders_placed": statement.orders_placed,
        "issued_at": utc(statement.issued_at),
    }


def statement_out(statement: Statement) -> StatementOut:
    return StatementOut(**_statement_fields(statement))


def statement_detail_out(statement: Statement) -> StatementDetailOut:
    lines: list[StatementLine] = list(statement.lines.all())
    return StatementDetailOut(
        **_statement_fields(statement),
        lines=[
            StatementLineOut(
                kind=line.kind,
                case_id=line.dispute.public_id if line.dispute else None,
                amount=money(line.amount, statement.currency),  # type: ignore[arg-type]
                waived_amount=money(line.waived_amount, statement.currency),  # type: ignore[arg-type]
                waiver=line.waiver or None,
            )
            for line in lines
        ],
    )
