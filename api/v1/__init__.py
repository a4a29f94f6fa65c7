"""The merchant REST API, version 1, at /api/v1/ (django-ninja: typed schemas, OpenAPI).

A thin layer: each operation authenticates the key, picks the merchant it acts for, calls one
selector or service, and turns the result, or the service's DomainError, into JSON.

Authentication: `Authorization: Bearer dpk_live_...`. A merchant's key acts for that merchant.
A platform partner's key acts for the merchants the partner onboarded: name the merchant (its
slug) in the `X-Merchant` header or the `merchant` query parameter.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.operation import Operation

from . import disputes, fees, files, instructions, merchants, orders, testing
from .auth import ApiKeyAuth
from .errors import install_error_handlers


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

    def get_openapi_operation_id(self, operation: Operation) -> str:
        # Generated clients name their methods after these ids: they stay as first published
        # (when the operations lived in disputes/api.py), whichever module now holds them.
        return f"disputes_api_{operation.view_func.__name__}"


api = DisputeApi(
    title="Dispute portal API",
    version="1",
    description=__doc__ or "",
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    # Every operation declares its own scope; one that does not is refused to every key.
    auth=[ApiKeyAuth(None)],
)
install_error_handlers(api)
api.add_router("/disputes", disputes.router)
api.add_router("/files", files.router)
api.add_router("/fees", fees.router)
api.add_router("/merchants", merchants.router)
api.add_router("/orders", orders.router)
api.add_router("/payment-instructions", instructions.router)
api.add_router("/test", testing.router)
