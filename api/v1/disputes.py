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
from .common import ERRORS, DisputeId
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
    state: State | None = None
    program: Program | None = None
    reason: Reason | None = None
    due_before: datetime | None = Field(None, description="Cases whose deadline is before this.")
    updated_since: datetime | None = Field(None, description="Cases changed at or after this.")

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
        None, max_length=500, description="`next_cursor` of the previous page."
    )
    limit: int = Field(25, ge=1, le=100)


@router.get(
    "",
    response={200: DisputeListOut, **ERRORS},
    url_name="disputes",
    auth=requires(Scope.DISPUTES_READ),
)
def list_disputes(request: HttpRequest, query: Query[DisputeListQuery]) -> Any:
    """The merchant's cases, newest first, a page at a time."""
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
    response={200: DisputeDetailOut, **ERRORS},
    url_name="dispute",
    auth=requires(Scope.DISPUTES_READ),
)
def get_dispute(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """One case with its order, amounts, deadline, state and outcome, the merchant's evidence
    checklist item by item, and the decision's itemised record."""
    return dispute_detail_json(_dispute(request, dispute_id))


@router.get(
    "/{dispute_id}/events",
    response={200: EventListOut, **ERRORS},
    url_name="dispute-events",
    auth=requires(Scope.DISPUTES_READ),
)
def list_events(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """The case's timeline as the merchant sees it, oldest first."""
    dispute = _dispute(request, dispute_id)
    return {"data": [event_out(event) for event in selectors.merchant_timeline(dispute.pk)]}


@router.post(
    "/{dispute_id}/respond",
    response={200: DisputeDetailOut, **ERRORS},
    url_name="dispute-respond",
    auth=requires(Scope.DISPUTES_WRITE),
)
@idempotent(domain_error_body)
def respond(request: HttpRequest, dispute_id: DisputeId, payload: RespondIn) -> Any:
    """Answer the customer: a full, partial or after-return refund, or none, with the items of
    the case's evidence checklist (`evidence.items`) that defend it."""
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
    response={200: DisputeDetailOut, **ERRORS},
    url_name="dispute-accept",
    auth=requires(Scope.DISPUTES_WRITE),
)
@idempotent(domain_error_body)
def accept(request: HttpRequest, dispute_id: DisputeId, payload: AcceptIn) -> Any:
    """Accept a payment dispute outright: the customer gets the disputed amount."""
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
    response={200: DisputeDetailOut, **ERRORS},
    url_name="dispute-messages",
    auth=requires(Scope.DISPUTES_WRITE),
)
@idempotent(domain_error_body)
def add_message(request: HttpRequest, dispute_id: DisputeId, payload: MessageIn) -> Any:
    """A message (with documents) to the customer."""
    return _add_message(request, dispute_id, payload, for_support=False)


@router.post(
    "/{dispute_id}/evidence",
    response={200: DisputeDetailOut, **ERRORS},
    url_name="dispute-evidence",
    auth=requires(Scope.DISPUTES_WRITE),
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
