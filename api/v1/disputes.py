"""/disputes: the merchant's cases, their timelines, and the merchant's answers."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from datetime import UTC, datetime
from typing import Any, cast

import orjson
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from disputes import selectors, services
from disputes.choices import Program, Reason, State
from disputes.errors import DisputeNotFound
from disputes.models import Dispute, Merchant

from ..idempotency import idempotent
from ..models import ApiUpload
from ..schemas import (
    AcceptIn,
    DisputeDetailOut,
    DisputeListOut,
    EventListOut,
    EvidenceIn,
    EvidenceSubmissionIn,
    MessageIn,
    RespondIn,
    dispute_detail_json,
    dispute_json,
    event_out,
)
from ..scopes import Scope
from ..selectors import DisputeListFilters, dispute_list_for_merchant
from ..uploads import api_uploads_for, api_uploads_used
from .auth import request_actor, request_merchant, requires
from .common import CASE_CONFLICTS, CASE_NOT_FOUND, FILE_IDS_UNKNOWN, DisputeId, refusals
from .errors import domain_error_body

router = Router(tags=["disputes"])


def _dispute(request: HttpRequest, dispute_id: str) -> Dispute:
    dispute = selectors.dispute_for_merchant(request_merchant(request), dispute_id)
    if dispute is None:
        raise DisputeNotFound(field="dispute_id")
    return dispute


def _case(dispute: Dispute) -> tuple[int, dict[str, Any]]:
    return 200, dispute_detail_json(dispute)


def _evidence(
    merchant: Merchant, items: list[EvidenceIn]
) -> tuple[list[services.EvidenceInput], list[ApiUpload]]:
    """The payload's checklist items with their uploaded documents."""
    given, used = [], []
    for item in items:
        documents, uploads = api_uploads_for(merchant=merchant, file_ids=item.files)
        given.append(services.EvidenceInput(item.item, item.value, documents))
        used.extend(uploads)
    return given, used


class DisputeListQuery(Schema):
    state: State | None = Field(
        None, description="Only cases in this state.", examples=["awaiting_merchant"]
    )
    program: Program | None = Field(
        None, description="Only cases of this program.", examples=["payment_dispute"]
    )
    reason: Reason | None = Field(
        None, description="Only cases opened for this reason.", examples=["not_received"]
    )
    due_before: datetime | None = Field(
        None,
        description="Only cases whose current deadline is before this time (UTC when it has no "
        "offset).",
        examples=["2026-03-20T00:00:00Z"],
    )
    updated_since: datetime | None = Field(
        None,
        description="Only cases changed at or after this time: poll with the time of your last "
        "poll.",
        examples=["2026-03-02T10:00:00Z"],
    )

    @field_validator("due_before", "updated_since")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        # Stored and compared in UTC; a time without an offset is taken to be UTC.
        if moment is None:
            return None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None

    cursor: str | None = Field(
        None,
        max_length=500,
        description="`next_cursor` of the previous page; left out for the first page.",
        examples=["eyJvIjoiMjAyNi0wMy0wMlQxMDowMDowMFoiLCJpIjo0Mn0"],
    )
    limit: int = Field(25, ge=1, le=100, description="Cases per page.", examples=[25])


@router.get(
    "",
    response={200: DisputeListOut},
    url_name="disputes",
    auth=requires(Scope.DISPUTES_READ),
    operation_id="list_disputes",
    summary="List the merchant's cases",
)
def list_disputes(request: HttpRequest, query: Query[DisputeListQuery]) -> Any:
    """The merchant's cases, newest opened first, a page at a time: ask again with `cursor` set to
    `next_cursor` until it is `null`. The filters combine; `updated_since` finds what changed
    since the last poll (webhooks tell it as it happens)."""
    page = dispute_list_for_merchant(
        request_merchant(request),
        DisputeListFilters(
            state=query.state or "",
            program=query.program or "",
            reason=query.reason or "",
            due_before=query.due_before,
            updated_since=query.updated_since,
        ),
        cursor=query.cursor,
        limit=query.limit,
    )
    # The DisputeListOut shape as JSON-safe data (api.schemas.dispute_json), written by orjson:
    # no schema object per case to build and walk (tests/api/test_case_json.py keeps the shape).
    now = timezone.now()
    body = {
        "data": [dispute_json(cast(Dispute, row), now=now) for row in page.rows],
        "next_cursor": page.next_cursor,
    }
    return HttpResponse(orjson.dumps(body), content_type="application/json; charset=utf-8")


@router.get(
    "/{dispute_id}",
    response={200: DisputeDetailOut},
    url_name="dispute",
    auth=requires(Scope.DISPUTES_READ),
    operation_id="get_dispute",
    summary="Get a case",
    openapi_extra=refusals({404: [CASE_NOT_FOUND]}),
)
def get_dispute(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """One case with its order, amounts, deadline, state and outcome, the merchant's evidence
    checklist item by item, and the decision's itemised record."""
    return dispute_detail_json(_dispute(request, dispute_id))


@router.get(
    "/{dispute_id}/events",
    response={200: EventListOut},
    url_name="dispute-events",
    auth=requires(Scope.DISPUTES_READ),
    operation_id="list_dispute_events",
    summary="List a case's timeline",
    openapi_extra=refusals({404: [CASE_NOT_FOUND]}),
)
def list_events(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """The case's timeline as the merchant sees it, oldest first: what each side and support did,
    with the documents attached. Entries for support only (`for_support`) are the merchant's
    own evidence."""
    dispute = _dispute(request, dispute_id)
    return {"data": [event_out(event) for event in selectors.merchant_timeline(dispute.pk)]}


@router.post(
    "/{dispute_id}/respond",
    response={200: DisputeDetailOut},
    url_name="dispute-respond",
    auth=requires(Scope.DISPUTES_WRITE),
    operation_id="respond_to_dispute",
    summary="Answer a case with a refund offer",
    openapi_extra=refusals(
        {
            404: [CASE_NOT_FOUND],
            409: CASE_CONFLICTS,
            422: [
                "`invalid_amount`, field `amount`: a partial refund without an amount, or one "
                "that is not positive or above the disputed amount.",
                "`invalid_choice`: an offer the case's program does not take, or an evidence "
                "item that is not on the case's checklist.",
                FILE_IDS_UNKNOWN,
            ],
        }
    ),
)
@idempotent(domain_error_body)
def respond(request: HttpRequest, dispute_id: DisputeId, payload: RespondIn) -> Any:
    """Answer the customer before `due_at`: a full, partial or after-return refund, or none, with
    a message, documents (`files`, uploaded first to `POST /files`) and the items of the case's
    evidence checklist (`evidence_checklist`) that defend it. The answer is the case as it is
    now."""
    dispute = _dispute(request, dispute_id)
    merchant = request_merchant(request)
    documents, uploads = api_uploads_for(merchant=merchant, file_ids=payload.files)
    evidence, evidence_uploads = _evidence(merchant, payload.evidence)
    dispute = services.dispute_respond(
        dispute=dispute,
        actor=request_actor(request),
        refund=payload.refund,
        amount=payload.amount,
        message=payload.message,
        documents=documents,
        evidence=evidence,
    )
    api_uploads_used(uploads + evidence_uploads)
    return _case(dispute)


@router.post(
    "/{dispute_id}/accept",
    response={200: DisputeDetailOut},
    url_name="dispute-accept",
    auth=requires(Scope.DISPUTES_WRITE),
    operation_id="accept_dispute",
    summary="Accept a payment dispute",
    openapi_extra=refusals(
        {
            404: [CASE_NOT_FOUND],
            409: CASE_CONFLICTS,
            422: ["`invalid_choice`: the case is not a payment dispute."],
        }
    ),
)
@idempotent(domain_error_body)
def accept(request: HttpRequest, dispute_id: DisputeId, payload: AcceptIn) -> Any:
    """Accept a payment dispute outright, with an optional message: the customer gets the
    disputed amount and the case is resolved."""
    dispute = services.dispute_accept(
        dispute=_dispute(request, dispute_id),
        actor=request_actor(request),
        message=payload.message,
    )
    return _case(dispute)


def _add_message(
    request: HttpRequest, dispute_id: str, payload: MessageIn, *, for_support: bool
) -> tuple[int, dict[str, Any]]:
    dispute = _dispute(request, dispute_id)
    documents, uploads = api_uploads_for(merchant=request_merchant(request), file_ids=payload.files)
    dispute = services.dispute_add_message(
        dispute=dispute,
        actor=request_actor(request),
        message=payload.message,
        documents=documents,
        for_support=for_support,
    )
    api_uploads_used(uploads)
    return _case(dispute)


@router.post(
    "/{dispute_id}/messages",
    response={200: DisputeDetailOut},
    url_name="dispute-messages",
    auth=requires(Scope.DISPUTES_WRITE),
    operation_id="add_dispute_message",
    summary="Write to the customer",
    openapi_extra=refusals(
        {404: [CASE_NOT_FOUND], 409: CASE_CONFLICTS[:1], 422: [FILE_IDS_UNKNOWN]}
    ),
)
@idempotent(domain_error_body)
def add_message(request: HttpRequest, dispute_id: DisputeId, payload: MessageIn) -> Any:
    """A message to the customer on an open case, with documents (`files`) if any. It is a new
    timeline entry; the customer is emailed."""
    return _add_message(request, dispute_id, payload, for_support=False)


@router.post(
    "/{dispute_id}/evidence",
    response={200: DisputeDetailOut},
    url_name="dispute-evidence",
    auth=requires(Scope.DISPUTES_WRITE),
    operation_id="add_dispute_evidence",
    summary="Give support evidence",
    openapi_extra=refusals(
        {
            404: [CASE_NOT_FOUND],
            409: CASE_CONFLICTS[:1],
            422: [
                "`message_required`: neither evidence, files nor a message was given.",
                "`invalid_choice`: an evidence item that is not on the case's checklist.",
                FILE_IDS_UNKNOWN,
            ],
        }
    ),
)
@idempotent(domain_error_body)
def add_evidence(request: HttpRequest, dispute_id: DisputeId, payload: EvidenceSubmissionIn) -> Any:
    """Evidence for support only, until the case is decided; the customer does not see it.
    Checklist items (`evidence`), plain documents (`files`) and a note (`message`): at least
    one. Each submission is a new timeline entry; it answers an information request."""
    dispute = _dispute(request, dispute_id)
    merchant = request_merchant(request)
    evidence, used = _evidence(merchant, payload.evidence)
    documents, uploads = api_uploads_for(merchant=merchant, file_ids=payload.files)
    dispute = services.dispute_add_evidence(
        dispute=dispute,
        actor=request_actor(request),
        evidence=evidence,
        documents=documents,
        message=payload.message,
    )
    api_uploads_used(used + uploads)
    return _case(dispute)
