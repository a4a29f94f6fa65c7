"""How every refusal looks: `{"error": {"code", "message", "field"}}` with one status per kind.

Domain errors carry their code, message and field; this maps each kind once to its HTTP status.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext, gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from disputes.errors import (
    CaseAlreadyClosed,
    DeadlinePassed,
    DisputeAlreadyOpen,
    DisputeNotFound,
    DomainError,
    InvalidAmount,
    InvalidChoice,
    InvalidTerms,
    MissingMessage,
    NotEligible,
    TransitionNotAllowed,
)
from disputes.onboarding import MerchantExists, MerchantRefused
from disputes.orders import OrderHasOpenCase, OrderRefused
from disputes.uploads import UploadRejected

from ..idempotency import IdempotencyConflict, IdempotencyInProgress
from ..selectors import InvalidCursor


class MerchantRequired(DomainError):
    code = "merchant_required"
    default_message = gettext_lazy(
        "This key acts for more than one merchant: name the one in the X-Merchant header."
    )


class MerchantNotAllowed(DomainError):
    code = "merchant_not_allowed"
    default_message = gettext_lazy("This key cannot act for that merchant.")


class MerchantNotFound(DomainError):
    code = "merchant_not_found"
    default_message = gettext_lazy("No merchant has this slug.")


class MissingScope(DomainError):
    """The key may not do this: it names the scope it lacks."""

    code = "missing_scope"

    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__(
            gettext("This API key does not have the %(scope)s scope.") % {"scope": scope}
        )


class NotATestMerchant(DomainError):
    code = "not_a_test_merchant"
    default_message = gettext_lazy(
        "Only a test merchant's cases can be driven this way; this merchant is live."
    )


class OrderNotFound(DomainError):
    code = "not_found"
    default_message = gettext_lazy("No such order.")


class PayloadTooLarge(DomainError):
    code = "too_large"
    default_message = gettext_lazy("The request body is too large.")


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
    MissingScope: 403,
    NotATestMerchant: 403,
    MerchantNotFound: 404,
    OrderNotFound: 404,
    DisputeNotFound: 404,
    StatementNotFound: 404,
    TransitionNotAllowed: 409,
    DeadlinePassed: 409,
    DisputeAlreadyOpen: 409,
    NotEligible: 409,
    CaseAlreadyClosed: 409,
    MerchantExists: 409,
    OrderHasOpenCase: 409,
    IdempotencyConflict: 409,
    IdempotencyInProgress: 409,
    UploadTooLarge: 413,
    PayloadTooLarge: 413,
    UploadRejected: 415,
    InvalidAmount: 422,
    InvalidChoice: 422,
    MissingMessage: 422,
    InvalidTerms: 422,
    MerchantRefused: 422,
    OrderRefused: 422,
    RateLimited: 429,
}
# Every status the API answers with the error shape (405, for a method a path does not take, is
# the same shape but no operation's: the schema lists operations).
ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 410, 413, 415, 422, 429})
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def domain_error_body(error: DomainError) -> tuple[int, dict[str, Any]]:
    status = next((_STATUS[cls] for cls in type(error).__mro__ if cls in _STATUS), 400)
    return status, error_body(error.code, error.message, error.field)


def install_error_handlers(api: NinjaAPI) -> None:
    """Every failure the API can meet answers in the one error shape."""

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
        return api.create_response(request, error_body("invalid", message, field), status=422)

    @api.exception_handler(AuthenticationError)
    def _on_authentication_error(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
        message = gettext("Send a valid API key: Authorization: Bearer dpk_live_...")
        response = api.create_response(request, error_body("unauthorized", message), status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(HttpError)
    def _on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
        code = HTTP_CODES.get(error.status_code, "error")
        return api.create_response(request, error_body(code, str(error)), status=error.status_code)

    @api.exception_handler(RequestDataTooBig)
    def _on_too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
        body = error_body("too_large", gettext("The request body is too large."))
        return api.create_response(request, body, status=413)

    @api.exception_handler(Http404)
    def _on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
        body = error_body("not_found", gettext("Not found."))
        return api.create_response(request, body, status=404)
