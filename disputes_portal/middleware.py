"""Cross-cutting HTTP behaviour: a request id on every request, the CSP header, and the
page-only middleware that API requests go straight past."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.middleware.common import CommonMiddleware
from django.template.loader import render_to_string
from django_otp.middleware import OTPMiddleware

from .logging import request_id_var

logger = logging.getLogger(__name__)
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Take the proxy's X-Request-ID when it looks sane, else make one; log and return it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ContentSecurityPolicyMiddleware:
    """The site-wide CSP; a view that sets a stricter one (documents) keeps its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class DatabaseUnavailableMiddleware:
    """A database that is down (restarting, failing over) gets a clear "try again shortly"
    page with Retry-After instead of a bare server error; nothing the visitor sent is kept
    half-way, since every write is one transaction."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database unavailable: %s", exception)
        response = HttpResponse(
            render_to_string("503.html", {"request_id": getattr(request, "request_id", "")}),
            status=503,
        )
        response["Retry-After"] = "30"
        return response


# --- Middleware only pages need ------------------------------------------------------------------

API_PREFIX = "/api/"  # api.middleware.API_PREFIX (the project's urls mount the API there)


class PagesOnly:
    """For middleware that only the HTML pages need (sessions, the signed-in user and its second
    factor, messages): an API request (bearer key, JSON, no cookies) goes straight past it. The
    middleware's view hooks still run; they do nothing for the API's views, which are
    CSRF-exempt and read no session."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)  # type: ignore[attr-defined]
        return super().__call__(request)  # type: ignore[misc]


class PageSessionMiddleware(PagesOnly, SessionMiddleware):
    pass


class PageCommonMiddleware(CommonMiddleware):
    """Its request half (the trailing-slash redirect, which resolves the path once more) is
    for pages; its response half still gives API answers their Content-Length."""

    def process_request(self, request: HttpRequest) -> HttpResponsePermanentRedirect | None:
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_request(request)


class PageAuthenticationMiddleware(PagesOnly, AuthenticationMiddleware):
    pass


class PageOTPMiddleware(PagesOnly, OTPMiddleware):
    pass


class PageMessageMiddleware(PagesOnly, MessageMiddleware):
    pass
