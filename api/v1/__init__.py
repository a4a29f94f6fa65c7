"""The merchant REST API, version 1, at /api/v1/ (django-ninja: typed schemas, OpenAPI).

A thin layer: each operation authenticates the key, picks the merchant it acts for, calls one
selector or service, and turns the result, or the service's DomainError, into JSON.

Authentication: `Authorization: Bearer dpk_live_...`. A merchant's key acts for that merchant.
A platform partner's key acts for the merchants the partner onboarded: name the merchant (its
slug) in the `X-Merchant` header or the `merchant` query parameter.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from . import (
    disputes,
    events,
    fees,
    files,
    instructions,
    merchants,
    orders,
    testing,
    webhook_endpoints,
)
from .auth import ApiKeyAuth
from .errors import install_error_handlers
from .openapi import DESCRIPTION, INFO_EXTRA, SERVERS, TAGS, check_operation_ids, complete_schema


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
        # Generated clients name their methods after the ids: each operation gives its own,
        # short and stable (operation_id=), never one derived from where its code lives.
        view = operation.view_func
        raise ImproperlyConfigured(f"{view.__module__}.{view.__name__} has no operation_id=")

    @property
    def urls(self) -> Any:
        # At start-up (the URLconf): an operation without its explicit, unique id is refused.
        check_operation_ids(self)
        return super().urls

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        completed = complete_schema(self, schema)
        schema.clear()
        schema.update(completed)
        return schema


api = DisputeApi(
    title="Dispute portal API",
    # The schema's own version (docs/api-changelog.md); the API's version is in its path.
    version="1.1.0",
    description=DESCRIPTION,
    servers=SERVERS,
    openapi_extra={"info": INFO_EXTRA, "tags": TAGS},
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
    # Every operation declares its own scope; one that does not is refused to every key.
    auth=[ApiKeyAuth(None)],
)
install_error_handlers(api)
api.add_router("/disputes", disputes.router)
api.add_router("/disputes", files.case_router)
api.add_router("/events", events.router)
api.add_router("/files", files.router)
api.add_router("/fees", fees.router)
api.add_router("/merchants", merchants.router)
api.add_router("/orders", orders.router)
api.add_router("/payment-instructions", instructions.router)
api.add_router("/test", testing.router)
api.add_router("/webhook-endpoints", webhook_endpoints.router)
