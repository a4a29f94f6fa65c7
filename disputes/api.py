"""The merchant REST API, version 1, at /api/v1/ (django-ninja: typed schemas, OpenAPI).

A thin layer: each operation authenticates the key, picks the merchant it acts for, calls one
selector or service, and turns the result, or the service's DomainError, into JSON.

Authentication: `Authorization: Bearer dpk_live_...`. A merchant's key acts for that merchant.
A platform partner's key acts for the merchants the partner onboarded: name the merchant (its
slug) in the `X-Merchant` header or the `merchant` query parameter.
"""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from ninja import File, NinjaAPI, Path, Query, Router, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.files import UploadedFile
from ninja.security import HttpBearer
from pydantic import Field, field_validator

from billing.selectors import statement_for_merchant, statements_for_merchant
from disputes_portal.ratelimit import hit

from . import selectors, services
from .actors import Actor
from .api_files import api_upload_create, api_uploads_for, api_uploads_used
from .api_idempotency import IdempotencyConflict, IdempotencyInProgress, idempotent
from .api_keys import api_key_authenticate
from .api_schemas import (
    AcceptIn,
    DisputeListOut,
    DisputeOut,
    ErrorOut,
    EventListOut,
    FileOut,
    MessageIn,
    RespondIn,
    StatementDetailOut,
    StatementListOut,
    dispute_out,
    event_out,
    statement_detail_out,
    statement_out,
)
from .api_selectors import DisputeListFilters, InvalidCursor, dispute_list_for_merchant
from .choices import ActorKind, Program, Reason, State
from .errors import (
    DeadlinePassed,
    DisputeAlreadyOpen,
    DisputeNotFound,
    DomainError,
    InvalidAmount,
    InvalidChoice,
    MissingMessage,
    NotEligible,
    TransitionNotAllowed,
)
from .models import Dispute, Merchant
from .uploads import MAX_FILE_SIZE, UploadRejected

# --- Errors --------------------------------------------------------------------------------------


class MerchantRequired(DomainError):
    code = "merchant_required"
    default_message = gettext_lazy(
        "A platform partner's key must name the merchant in the X-Merchant header."
    )


class MerchantNotAllowed(DomainError):
    code = "merchant_not_allowed"
    default_message = gettext_lazy("This key cannot act for that merchant.")


class StatementNotFound(DomainError):
    code = "not_found"
    default_message = gettext_lazy("No such statement.")


class UploadTooLarge(UploadRejected):
    code = "file_too_large"


class RateLimited(DomainError):
    code = "rate_limited"
    default_message = gettext_lazy("Too many requests for this key; try again later.")

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__()


# The most specific class listed decides (looked up along the MRO).
_STATUS: dict[type[DomainError], int] = {
    InvalidCursor: 400,
    MerchantRequired: 400,
    MerchantNotAllowed: 403,
    DisputeNotFound: 404,
    StatementNotFound: 404,
    TransitionNotAllowed: 409,
    DeadlinePassed: 409,
    DisputeAlreadyOpen: 409,
    NotEligible: 409,
    IdempotencyConflict: 409,
    IdempotencyInProgress: 409,
    UploadTooLarge: 413,
    UploadRejected: 415,
    InvalidAmount: 422,
    InvalidChoice: 422,
    MissingMessage: 422,
    RateLimited: 429,
}
ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429})
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def _error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def domain_error_body(error: DomainError) -> tuple[int, dict[str, Any]]:
    status = next((_STATUS[cls] for cls in type(error).__mro__ if cls in _STATUS), 400)
    return status, _error(error.code, error.message, error.field)


class DisputeApi(NinjaAPI):
    def create_response(
        self,
        request: HttpRequest,
        data: Any,
        *,
        status: int | None = None,
        temporal_response: HttpResponse | None = None,
    ) -> HttpResponse:
        response = super().create_response(
            request, data, status=status, temporal_response=temporal_response
        )
        if getattr(request, "idempotent_replay", False):
            response["Idempotent-Replayed"] = "true"
        return response


api = DisputeApi(
    title="Dispute portal API",
    version="1",
    description=__doc__ or "",
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(DomainError)
def _on_domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    status, body = domain_error_body(error)
    response = api.create_response(request, body, status=status)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(ValidationError)
def _on_validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    first = error.errors[0] if error.errors else {}
    location = [str(part) for part in first.get("loc", ()) if not isinstance(part, int)]
    # ("body", "payload", "amount") -> "amount"; ("query", "limit") -> "limit"
    field = location[-1] if location else None
    if field in ("body", "payload", "query", "path", "form", "file", "header"):
        field = None
    message = first.get("msg", gettext("The request is not valid."))
    return api.create_response(request, _error("invalid", message, field), status=422)


@api.exception_handler(AuthenticationError)
def _on_authentication_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    message = gettext("Send a valid API key: Authorization: Bearer dpk_live_...")
    response = api.create_response(request, _error("unauthorized", message), status=401)
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(error.status_code, "error")
    return api.create_response(request, _error(code, str(error)), status=error.status_code)


@api.exception_handler(Http404)
def _on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return api.create_response(request, _error("not_found", gettext("Not found.")), status=404)


# --- Authentication ------------------------------------------------------------------------------

MERCHANT_HEADER = "X-Merchant"


_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


def _chosen_merchant_slug(request: HttpRequest) -> str:
    chosen = (request.headers.get(MERCHANT_HEADER) or request.GET.get("merchant") or "").strip()
    if chosen and not _SLUG.fullmatch(chosen):
        raise MerchantNotAllowed(field=MERCHANT_HEADER)
    return chosen


class ApiKeyAuth(HttpBearer):
    """A live key, within its rate limit; sets `request.merchant` to the merchant it acts for."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_key = api_key_authenticate(token, now=timezone.now())
        if api_key is None:
            return None
        verdict = hit(
            f"api-key:{api_key.pk}",
            limit=settings.API_RATE_LIMIT,
            window=settings.API_RATE_WINDOW,
        )
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after)
        chosen = _chosen_merchant_slug(request)
        merchant: Merchant | None
        if api_key.merchant is not None:
            merchant = api_key.merchant
            if chosen and chosen != merchant.slug:
                raise MerchantNotAllowed(field=MERCHANT_HEADER)
        else:
            if not chosen:
                raise MerchantRequired(field=MERCHANT_HEADER)
            merchant = Merchant.objects.filter(
                slug=chosen, platform_partner=api_key.partner
            ).first()
            if merchant is None:
                raise MerchantNotAllowed(field=MERCHANT_HEADER)
        request.merchant = merchant  # type: ignore[attr-defined]
        return api_key


api.auth = [ApiKeyAuth()]


def _merchant(request: HttpRequest) -> Merchant:
    merchant: Merchant = request.merchant  # type: ignore[attr-defined]
    return merchant


def _actor(request: HttpRequest) -> Actor:
    api_key = request.auth  # type: ignore[attr-defined]
    return Actor(ActorKind.MERCHANT, id=f"api:{api_key.prefix}", merchant_id=_merchant(request).pk)


def _dispute(request: HttpRequest, dispute_id: str) -> Dispute:
    dispute = selectors.dispute_for_merchant(_merchant(request), dispute_id)
    if dispute is None:
        raise DisputeNotFound(field="dispute_id")
    return dispute


def _case(dispute: Dispute) -> tuple[int, dict[str, Any]]:
    return 200, dispute_out(dispute).model_dump(mode="json")


ERRORS: dict[frozenset[int], type[Schema]] = {ERROR_STATUSES: ErrorOut}
# A case id as shown to people ("DP-7K2M-Q9XD-4HTA"); lower case and spaces are forgiven.
DisputeId = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9 -]+$")]
StatementId = Annotated[int, Path(ge=1, le=2**63 - 1)]


# --- Disputes ------------------------------------------------------------------------------------

disputes = Router(tags=["disputes"])


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


@disputes.get("", response={200: DisputeListOut, **ERRORS}, url_name="disputes")
def list_disputes(request: HttpRequest, query: Query[DisputeListQuery]) -> Any:
    """The merchant's cases, newest first, a page at a time."""
    page = dispute_list_for_merchant(
        _merchant(request),
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
    # A DisputeListOut, not a dict: ninja then serialises it as is instead of validating it again.
    return DisputeListOut.model_construct(
        data=[dispute_out(row) for row in page.rows], next_cursor=page.next_cursor
    )


@disputes.get("/{dispute_id}", response={200: DisputeOut, **ERRORS}, url_name="dispute")
def get_dispute(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """One case with its order, amounts, deadline, state and outcome."""
    return dispute_out(_dispute(request, dispute_id))


@disputes.get(
    "/{dispute_id}/events", response={200: EventListOut, **ERRORS}, url_name="dispute-events"
)
def list_events(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """The case's timeline as the merchant sees it, oldest first."""
    dispute = _dispute(request, dispute_id)
    return {"data": [event_out(event) for event in selectors.merchant_timeline(dispute.pk)]}


@disputes.post(
    "/{dispute_id}/respond", response={200: DisputeOut, **ERRORS}, url_name="dispute-respond"
)
@idempotent(domain_error_body)
def respond(request: HttpRequest, dispute_id: DisputeId, payload: RespondIn) -> Any:
    """Answer the customer: a full, partial or after-return refund, or none."""
    dispute = _dispute(request, dispute_id)
    documents, uploads = api_uploads_for(merchant=_merchant(request), file_ids=payload.files)
    dispute = services.dispute_respond(
        dispute=dispute,
        actor=_actor(request),
        refund=payload.refund,
        amount=payload.amount,
        message=payload.message,
        documents=documents,
    )
    api_uploads_used(uploads)
    return _case(dispute)


@disputes.post(
    "/{dispute_id}/accept", response={200: DisputeOut, **ERRORS}, url_name="dispute-accept"
)
@idempotent(domain_error_body)
def accept(request: HttpRequest, dispute_id: DisputeId, payload: AcceptIn) -> Any:
    """Accept a payment dispute outright: the customer gets the disputed amount."""
    dispute = services.dispute_accept(
        dispute=_dispute(request, dispute_id), actor=_actor(request), message=payload.message
    )
    return _case(dispute)


def _add_message(
    request: HttpRequest, dispute_id: str, payload: MessageIn, *, for_support: bool
) -> tuple[int, dict[str, Any]]:
    dispute = _dispute(request, dispute_id)
    documents, uploads = api_uploads_for(merchant=_merchant(request), file_ids=payload.files)
    dispute = services.dispute_add_message(
        dispute=dispute,
        actor=_actor(request),
        message=payload.message,
        documents=documents,
        for_support=for_support,
    )
    api_uploads_used(uploads)
    return _case(dispute)


@disputes.post(
    "/{dispute_id}/messages", response={200: DisputeOut, **ERRORS}, url_name="dispute-messages"
)
@idempotent(domain_error_body)
def add_message(request: HttpRequest, dispute_id: DisputeId, payload: MessageIn) -> Any:
    """A message (with documents) to the customer."""
    return _add_message(request, dispute_id, payload, for_support=False)


@disputes.post(
    "/{dispute_id}/evidence", response={200: DisputeOut, **ERRORS}, url_name="dispute-evidence"
)
@idempotent(domain_error_body)
def add_evidence(request: HttpRequest, dispute_id: DisputeId, payload: MessageIn) -> Any:
    """Evidence for support only; the customer does not see it. Answers an information request."""
    return _add_message(request, dispute_id, payload, for_support=True)


# --- Files ---------------------------------------------------------------------------------------

files = Router(tags=["files"])


@files.post("", response={201: FileOut, **ERRORS}, url_name="files")
@idempotent(domain_error_body)
def upload_file(request: HttpRequest, file: File[UploadedFile]) -> Any:
    """Upload a PDF, JPEG, PNG or HEIC (converted to JPEG), at most 10 MB; attach it to a case
    action by its id within 24 hours."""
    if file.size is not None and file.size > MAX_FILE_SIZE:
        raise UploadTooLarge(
            gettext("The file is larger than %(limit)s MB.")
            % {"limit": MAX_FILE_SIZE // (1024 * 1024)}
        )
    upload = api_upload_create(merchant=_merchant(request), upload=file, now=timezone.now())
    return 201, {
        "id": upload.public_id,
        "name": upload.original_name,
        "content_type": upload.content_type,
        "size": upload.size,
    }


# --- Fees ----------------------------------------------------------------------------------------

fees = Router(tags=["fees"])


@fees.get("/statements", response={200: StatementListOut, **ERRORS}, url_name="fee-statements")
def list_statements(request: HttpRequest) -> Any:
    """The merchant's issued monthly fee statements, newest first."""
    return {"data": [statement_out(s) for s in statements_for_merchant(_merchant(request))]}


@fees.get(
    "/statements/{statement_id}",
    response={200: StatementDetailOut, **ERRORS},
    url_name="fee-statement",
)
def get_statement(request: HttpRequest, statement_id: StatementId) -> Any:
    """One issued statement with its lines."""
    statement = statement_for_merchant(_merchant(request), statement_id)
    if statement is None:
        raise StatementNotFound(field="statement_id")
    return statement_detail_out(statement)


api.add_router("/disputes", disputes)
api.add_router("/files", files)
api.add_router("/fees", fees)
