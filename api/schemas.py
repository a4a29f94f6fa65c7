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
    """An amount with its currency, exact: never a float."""

    value: str = Field(
        description="The amount in the currency's units, with its decimals (none for JPY).",
        examples=["12.50"],
    )
    currency: str = Field(description="ISO 4217 currency code.", examples=["EUR"])


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
    code: str = Field(
        description="Stable and meant for programs; each operation lists the codes it answers. "
        "New codes may be added: treat an unknown one by its HTTP status.",
        examples=["transition_not_allowed"],
    )
    message: str = Field(
        description="For people, in the request's language; may change.",
        examples=["The case does not take this action in its current state."],
    )
    field: str | None = Field(
        None,
        description="The input at fault (a body field, a parameter, or a header such as "
        "`X-Merchant`), or null.",
        examples=["amount"],
    )


class ErrorOut(Schema):
    """Every refusal, whatever its status."""

    error: ErrorDetail = Field(description="What was refused, and why.")


class OrderOut(Schema):
    """The order a case is about."""

    number: str = Field(
        description="The order's number, as the feed sent it.", examples=["A-10023"]
    )
    placed_at: datetime = Field(
        description="When the customer ordered (UTC).", examples=["2026-03-02T10:00:00Z"]
    )
    amount: Money = Field(description="The order's amount.")
    customer_email: str = Field(
        description="The customer's email address.", examples=["ann@mail.example"]
    )


class CaseTermsOut(Schema):
    """The merchant's contract terms the case was opened under; it keeps them to its end."""

    merchant_window_days: int = Field(
        description="The merchant's time to answer, in days.", examples=[21]
    )
    merchant_window_day_count: str = Field(
        description="How those days are counted: `calendar` or `working`.", examples=["calendar"]
    )
    fee_plan: str = Field(
        description="The fee plan its dispute fee comes from.", examples=["standard"]
    )
    valid_from: date | None = Field(
        description="First day of that version of the terms; null: the default terms.",
        examples=["2026-01-01"],
    )


class ChecklistItemOut(Schema):
    """One item of the merchant's evidence checklist for the case's program and reason."""

    key: str = Field(
        description="The item's key: `item` in the evidence of an answer.",
        examples=["tracking_number"],
    )
    label: str = Field(description="The item's name, for people.", examples=["Tracking number"])
    help: str = Field(
        description="What the item is, for people.",
        examples=["The carrier's tracking number of the parcel."],
    )
    kind: str = Field(
        description="`document` (give files), `text` (give a value) or `automatic` (the portal "
        "finds it, e.g. in the order's shipments).",
        examples=["text"],
    )
    essential: bool = Field(description="Needed for the evidence to be complete.", examples=[True])
    given: bool = Field(description="The merchant has given it.", examples=[False])


class EvidenceOut(Schema):
    """How much of the merchant's evidence checklist for the case's reason is given."""

    essential_given: int = Field(description="Essential items given.", examples=[2])
    essential_total: int = Field(description="Essential items on the checklist.", examples=[3])
    complete: bool = Field(description="Every essential item is given.", examples=[False])
    missing: list[str] = Field(
        description="Keys of the essential items not given yet.", examples=[["tracking_number"]]
    )


class AllowedActionOut(Schema):
    """Something the merchant may do on the case now."""

    action: str = Field(
        description="`respond`, `accept`, `add_evidence`, `send_message`, "
        "`provide_information`, `confirm_return`, `appeal`, ...; new actions may be added.",
        examples=["respond"],
    )
    until: datetime | None = Field(
        description="The action's deadline, when it has one.", examples=["2026-03-23T22:59:59Z"]
    )


class RecordLineOut(Schema):
    """One evidence item as support weighed it."""

    party: str = Field(
        description="Whose evidence: `merchant` or `customer`.", examples=["merchant"]
    )
    item: str = Field(description="The checklist item's key.", examples=["tracking_number"])
    label: str = Field(description="The item's name, for people.", examples=["Tracking number"])
    given: bool = Field(description="The party gave it.", examples=[True])
    weight: str = Field(
        description="`decisive`, `insufficient` or `not_relevant`.", examples=["decisive"]
    )
    note: str = Field(
        description="Support's note on it; may be empty.",
        examples=["The carrier confirms delivery at the customer's address."],
    )


class DecisionRecordOut(Schema):
    """Support's itemised decision record: the reason code and each evidence item weighed."""

    code: str = Field(description="The decision's reason code.", examples=["delivery_proven"])
    label: str = Field(
        description="The reason code's name, for people.", examples=["Delivery proven"]
    )
    override_reason: str | None = Field(
        description="Set when support decided without hearing the merchant: why.",
        examples=["The merchant's deadline passed without an answer."],
    )
    lines: list[RecordLineOut] = Field(description="Each evidence item weighed.")


class HandlerOut(Schema):
    """Who handles the case at support."""

    first_name: str = Field(description="The handler's first name.", examples=["Maria"])
    team: str = Field(description="The handler's team.", examples=["Disputes"])


class DisputeOut(Schema):
    """A case: a payment dispute or a buyer-protection case about one order.

    Fields that hold a code (`program`, `reason`, `state`, `outcome`, ...) are strings: the
    values listed are those known today, and new ones may be added within v1."""

    id: str = Field(
        description="The case's id, as shown to people.", examples=["DP-7K2M-Q9XD-4HTA"]
    )
    program: str = Field(
        description="`payment_dispute` or `buyer_protection`.", examples=["payment_dispute"]
    )
    reason: str = Field(
        description="Why the customer opened it: `not_received`, `returned_not_refunded`, "
        "`wrong_amount`, `faulty`, `unauthorized`, `other` (payment disputes); "
        "`no_refund_after_return`, `no_refund_after_cancellation`, `other_request` (buyer "
        "protection).",
        examples=["not_received"],
    )
    state: str = Field(
        description="`opened`, `awaiting_merchant`, `awaiting_customer`, `escalated`, "
        "`info_requested`, `awaiting_return`, `decided`, `resolved` or `withdrawn`.",
        examples=["awaiting_merchant"],
    )
    outcome: str | None = Field(
        description="How a closed case ended: `merchant`, `customer` or `split` (decided by "
        "support), `agreement` (settled between the two) or `withdrawn`; null while open.",
        examples=["customer"],
    )
    next_actor: str | None = Field(
        description="Whose move it is: `merchant`, `customer` or `support`; null when closed.",
        examples=["merchant"],
    )
    due_at: datetime | None = Field(
        description="The current deadline (UTC): the end of its last day in the merchant's "
        "time zone; null when none runs.",
        examples=["2026-03-23T22:59:59Z"],
    )
    order: OrderOut = Field(description="The order the case is about.")
    order_amount: Money = Field(description="The order's amount when the case was opened.")
    disputed_amount: Money = Field(description="The amount the customer disputes.")
    refund_offer: str | None = Field(
        description="The merchant's offer: `full`, `partial`, `after_return` or `none`; null "
        "before the merchant answered.",
        examples=["partial"],
    )
    refund_offer_amount: Money | None = Field(description="The amount of a partial offer.")
    settled_amount: Money | None = Field(
        description="What the case moved to the customer, once closed."
    )
    customer_message: str = Field(
        description="What the customer wrote when opening the case.",
        examples=["The parcel never arrived."],
    )
    decision_reason: str = Field(
        description="Support's explanation of its decision; empty before one.",
        examples=["The carrier could not show delivery."],
    )
    opened_at: datetime = Field(
        description="When the case was opened (UTC).", examples=["2026-03-02T10:05:00Z"]
    )
    escalated_at: datetime | None = Field(
        description="When the case went to support.", examples=["2026-03-24T00:00:00Z"]
    )
    closed_at: datetime | None = Field(
        description="When the case closed; null while open.", examples=["2026-03-30T14:12:00Z"]
    )
    updated_at: datetime = Field(
        description="When anything of the case last changed (`updated_since` filters on it).",
        examples=["2026-03-09T14:02:11.518Z"],
    )
    terms: CaseTermsOut = Field(description="The contract terms the case runs under.")
    evidence: EvidenceOut = Field(description="How complete the merchant's evidence is.")
    allowed_actions: list[AllowedActionOut] = Field(
        description="What the merchant may do on the case now, each with its deadline."
    )
    decision_code: str | None = Field(
        description="The decision's reason code (see GET /disputes/{id} for its record).",
        examples=["delivery_not_proven"],
    )
    decision_override_reason: str | None = Field(
        description="Why support decided without hearing the merchant, when it did.",
        examples=["The merchant's deadline passed without an answer."],
    )
    handler: HandlerOut | None = Field(description="Who handles the case at support.")
    support_waiting_for: str | None = Field(
        description="`decision`, `information_from_merchant`, `information_from_customer`, "
        "`goods_returned` or `return_confirmed`; null when the case is not with support.",
        examples=["decision"],
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

    evidence_checklist: list[ChecklistItemOut] = Field(
        description="The merchant's evidence checklist for the case's program and reason."
    )
    decision_record: DecisionRecordOut | None = Field(
        description="Support's itemised decision; null before a decision."
    )


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
    data: list[DisputeOut] = Field(description="A page of cases, newest opened first.")
    next_cursor: str | None = Field(
        description="`cursor` for the next page; null on the last page.",
        examples=["eyJvIjoiMjAyNi0wMy0wMlQxMDowMDowMFoiLCJpIjo0Mn0"],
    )


class AttachmentOut(Schema):
    """A document attached to a timeline entry."""

    id: int = Field(description="The document's number.", examples=[5120])
    name: str = Field(description="Its file name.", examples=["delivery-proof.pdf"])
    content_type: str = Field(
        description="`application/pdf`, `image/jpeg` or `image/png`.", examples=["application/pdf"]
    )
    size: int = Field(description="Its size in bytes.", examples=[48213])


class EventOut(Schema):
    """One entry of a case's timeline."""

    id: int = Field(description="The entry's id.", examples=[88213])
    type: str = Field(
        description="What happened (`opened`, `offer_made`, `customer_replied`, `escalated`, "
        "`decided`, ...); new types may be added.",
        examples=["offer_made"],
    )
    actor: str = Field(
        description="Who did it: `customer`, `merchant`, `support` or `system`.",
        examples=["merchant"],
    )
    message: str = Field(
        description="The message written with it; may be empty.",
        examples=["We refunded 30.00 of the order."],
    )
    for_support: bool = Field(
        description="Only the merchant and support see this entry.", examples=[False]
    )
    data: dict[str, Any] = Field(
        description="Details of the entry by its type (e.g. the refund offered); keys may be "
        "added.",
        examples=[{"refund": "partial", "amount": "30.00"}],
    )
    attachments: list[AttachmentOut] = Field(description="Documents attached to it.")
    created_at: datetime = Field(
        description="When it happened (UTC).", examples=["2026-03-09T14:02:11.518Z"]
    )


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
    data: list[EventOut] = Field(description="The timeline, oldest first.")


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

    item: str = Field(
        max_length=40,
        description="The checklist item's `key` (`evidence_checklist`).",
        examples=["tracking_number"],
    )
    value: Text = Field(
        "",
        max_length=200,
        description="For a text item, e.g. the number.",
        examples=["3SABCD1234567"],
    )
    files: list[FileId] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description="For a document item: ids from `POST /files`.",
        examples=[["file_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"]],
    )


_FILES = "Documents for it: ids from `POST /files`, each used once, within 24 hours."


class RespondIn(Schema):
    refund: RefundChoice = Field(
        description="The offer: `full`, `partial` (give `amount`), `after_return` (a full "
        "refund once the goods are back) or `none`.",
        examples=["partial"],
    )
    amount: Text | None = Field(
        None,
        max_length=32,
        examples=["12.50"],
        description="Required for a partial refund: in the case's currency, below the disputed "
        "amount.",
    )
    message: Text = Field(
        min_length=1,
        max_length=10000,
        description="To the customer, with the offer.",
        examples=["We are sorry: we refund 12.50 for the late delivery."],
    )
    files: list[FileId] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description=_FILES,
        examples=[["file_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"]],
    )
    evidence: list[EvidenceIn] = Field(
        default_factory=list, max_length=20, description="Checklist items that defend the offer."
    )


class AcceptIn(Schema):
    message: Text = Field(
        "",
        max_length=10000,
        description="To the customer; optional.",
        examples=["We accept: the invoice is cancelled."],
    )


class MessageIn(Schema):
    message: Text = Field(
        min_length=1,
        max_length=10000,
        description="To the customer.",
        examples=["The parcel was handed to PostNL on 3 March; here is the receipt."],
    )
    files: list[FileId] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description=_FILES,
        examples=[["file_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"]],
    )


class EvidenceSubmissionIn(Schema):
    """Evidence for support: checklist items, plain documents, and a note (at least one)."""

    message: Text = Field(
        "",
        max_length=10000,
        description="A note for support.",
        examples=["The customer signed for the parcel: see the carrier's proof."],
    )
    files: list[FileId] = Field(
        default_factory=list,
        max_length=MAX_FILES,
        description=_FILES,
        examples=[["file_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"]],
    )
    evidence: list[EvidenceIn] = Field(
        default_factory=list, max_length=20, description="Checklist items."
    )


class FileOut(Schema):
    """An uploaded document, to attach to a case action by its id."""

    id: str = Field(
        description="Give it in `files` of a case action within 24 hours.",
        examples=["file_3f9a0c1d2e4b5a6c7d8e9f0a1b2c3d4e"],
    )
    name: str = Field(description="The file's name as uploaded.", examples=["receipt.pdf"])
    content_type: str = Field(
        description="As stored: `application/pdf`, `image/jpeg` (HEIC is converted) or "
        "`image/png`.",
        examples=["application/pdf"],
    )
    size: int = Field(description="Its size in bytes.", examples=[48213])


class StatementLineOut(Schema):
    """One line of a fee statement."""

    kind: str = Field(
        description="`standard` (a dispute fee), `surcharge`, `waived`, `credit`, `debit` or "
        "`adjustment`; new kinds may be added.",
        examples=["standard"],
    )
    case_id: str | None = Field(
        description="The case the line is for, if any.", examples=["DP-7K2M-Q9XD-4HTA"]
    )
    amount: Money = Field(description="The line's amount (before its waiver).")
    waived_amount: Money = Field(description="How much of it is waived.")
    waiver: str | None = Field(
        description="Why it is waived: `fraud_proven` or `merchant_won`; null if it is not.",
        examples=["fraud_proven"],
    )


class StatementOut(Schema):
    """A monthly fee statement, as issued (it never changes)."""

    id: int = Field(description="The statement's id.", examples=[412])
    period_start: date = Field(
        description="The first day of its calendar month (UTC).", examples=["2026-02-01"]
    )
    currency: str = Field(description="ISO 4217 currency code.", examples=["EUR"])
    total: Money = Field(description="What the merchant owes for the month.")
    disputes_opened: int = Field(description="Cases opened in the month.", examples=[14])
    orders_placed: int = Field(description="Orders placed in the month.", examples=[2380])
    issued_at: datetime | None = Field(
        description="When it was issued (UTC).", examples=["2026-03-01T02:00:00Z"]
    )


class StatementDetailOut(StatementOut):
    lines: list[StatementLineOut] = Field(description="The statement's lines.")


class StatementListOut(Schema):
    data: list[StatementOut] = Field(description="The issued statements, newest first.")


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
