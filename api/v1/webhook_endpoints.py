"""/webhook-endpoints: the merchant's own webhook endpoints, as the portal's integrations page
manages them (the same services: api/webhooks/endpoints.py), and a test event to one."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from ninja import Path, Router, Schema, Status
from pydantic import Field

from disputes.errors import DisputeNotFound, InvalidChoice, TransitionNotAllowed

from ..idempotency import idempotent
from ..models import WEBHOOK_EVENTS, EndpointAudience, WebhookEndpoint
from ..schemas import Text, api_json, utc
from ..scopes import Scope
from ..webhooks.endpoints import (
    WebhookUrlRejected,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_ping,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from .auth import request_merchant, requires
from .common import refusals
from .errors import domain_error_body

router = Router(tags=["webhook endpoints"])

# A merchant's endpoints at most: each event is written to every one that subscribes.
MAX_ENDPOINTS = 20
EndpointId = Annotated[
    int, Path(ge=1, le=2**63 - 1, description="The endpoint's id.", examples=[12])
]
# The published schema spells the events out as an enum: they are WEBHOOK_EVENTS.
WebhookEventName = Literal[
    "dispute.opened",
    "dispute.reminder",
    "dispute.customer_replied",
    "dispute.escalated",
    "dispute.information_requested",
    "dispute.decided",
    "dispute.resolved",
    "dispute.reopened",
    "fee.statement_issued",
]
assert set(get_args(WebhookEventName)) == set(WEBHOOK_EVENTS)  # noqa: S101 - one list of events


ENDPOINT_NOT_FOUND = "`not_found`: no webhook endpoint of the merchant has this id."
URL_REFUSED = (
    "`invalid_url`, field `url`: not an http(s) address, a name that cannot be found, or an "
    "address in a private, loopback or other special-purpose range."
)
TOO_MANY = "`too_many_endpoints`: the merchant has 20 endpoints already."


class EndpointNotFound(DisputeNotFound):  # 404, as an unknown case
    code = "not_found"
    default_message = gettext_lazy("No such webhook endpoint.")


class InvalidWebhookUrl(InvalidChoice):
    code = "invalid_url"


class TooManyEndpoints(TransitionNotAllowed):
    code = "too_many_endpoints"


class WebhookEndpointIn(Schema):
    url: Text = Field(
        min_length=1,
        max_length=300,
        examples=["https://shop.example/hooks/disputes"],
        description="http:// or https://; a private, loopback or other special-purpose "
        "address is refused.",
    )
    events: list[WebhookEventName] = Field(
        min_length=1,
        max_length=len(WEBHOOK_EVENTS),
        examples=[["dispute.opened", "dispute.escalated"]],
        description="The events sent to it.",
    )
    description: Text = Field(
        "",
        max_length=200,
        examples=["Order system, production"],
        description="For people: what the endpoint is for.",
    )
    enabled: bool = Field(True, examples=[True], description="Off: nothing is sent to it.")


class WebhookEndpointPatchIn(Schema):
    """The fields to change; those left out stay as they are."""

    url: Text | None = Field(
        None,
        min_length=1,
        max_length=300,
        examples=["https://shop.example/hooks/disputes"],
        description="A new address, checked as on creation.",
    )
    events: list[WebhookEventName] | None = Field(
        None,
        min_length=1,
        max_length=len(WEBHOOK_EVENTS),
        examples=[["dispute.opened"]],
        description="The events sent to it from now on (replaces the list).",
    )
    description: Text | None = Field(
        None,
        max_length=200,
        examples=["Order system, staging"],
        description="For people: what the endpoint is for.",
    )
    enabled: bool | None = Field(
        None,
        examples=[True],
        description="Enabling an endpoint disabled after 3 days of failures clears the failure.",
    )


class WebhookEndpointOut(Schema):
    id: int = Field(examples=[12], description="Stable: the endpoint's path names it.")
    url: str = Field(
        examples=["https://shop.example/hooks/disputes"], description="Where events are POSTed."
    )
    events: list[str] = Field(
        examples=[["dispute.opened", "dispute.escalated"]], description="The events sent to it."
    )
    description: str = Field(
        examples=["Order system, production"], description="For people: what it is for."
    )
    enabled: bool = Field(examples=[True], description="False: nothing is sent to it.")
    disabled_reason: str | None = Field(
        examples=[None],
        description="`failing` when the portal disabled it after 3 days of failed deliveries.",
    )
    failing_since: datetime | None = Field(
        examples=[None], description="The first failed delivery since the last success."
    )
    previous_secret_expires_at: datetime | None = Field(
        examples=[None],
        description="After a rotation, until when the previous secret still signs beside the "
        "new one.",
    )
    created_at: datetime = Field(
        examples=["2026-03-02T10:05:00.000Z"], description="When it was added (UTC)."
    )


class WebhookEndpointSecretOut(WebhookEndpointOut):
    """The endpoint with its signing secret: shown when it is made and after a rotation only."""

    secret: str = Field(
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        description="Standard Webhooks signing secret: verify each delivery's "
        "`webhook-signature` with it. Keep it; it is not shown again.",
    )


class WebhookEndpointListOut(Schema):
    data: list[WebhookEndpointOut] = Field(description="Oldest first.")


class PingOut(Schema):
    event_id: str = Field(
        examples=["evt_5b0c8a1f0e2d4c6b9a7e3f1d2c4b6a8e"],
        description="The `ping` event queued for the endpoint: its deliveries' `webhook-id`, "
        "and `GET /events/{id}` shows it.",
    )


def _fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason or None,
        "failing_since": utc(endpoint.failing_since),
        "previous_secret_expires_at": utc(endpoint.previous_secret_expires_at),
        "created_at": utc(endpoint.created_at),
    }


def endpoint_out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut.model_construct(**_fields(endpoint))


def endpoint_with_secret(endpoint: WebhookEndpoint) -> Any:
    """JSON-safe, as an idempotent POST keeps its answer."""
    return api_json(
        WebhookEndpointSecretOut.model_construct(**_fields(endpoint), secret=endpoint.secret)
    )


def _endpoints(request: HttpRequest) -> Any:
    return WebhookEndpoint.objects.filter(
        merchant=request_merchant(request), audience=EndpointAudience.MERCHANT
    )


def _endpoint(request: HttpRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = _endpoints(request).filter(pk=endpoint_id).first()
    if endpoint is None:  # another merchant's endpoint, as an unknown one
        raise EndpointNotFound(field="endpoint_id")
    assert isinstance(endpoint, WebhookEndpoint)  # noqa: S101 - for the type checker
    return endpoint


def _url_refused(error: WebhookUrlRejected) -> InvalidWebhookUrl:
    return InvalidWebhookUrl(str(error), field="url")


@router.post(
    "",
    response={201: WebhookEndpointSecretOut},
    url_name="webhook-endpoints",
    auth=requires(Scope.WEBHOOKS_WRITE),
    operation_id="create_webhook_endpoint",
    summary="Add a webhook endpoint",
    openapi_extra=refusals({409: [TOO_MANY], 422: [URL_REFUSED]}),
)
@idempotent(domain_error_body)
def create_webhook_endpoint(request: HttpRequest, payload: WebhookEndpointIn) -> Any:
    """Register an endpoint for the chosen events; the answer holds its signing secret, once.
    The URL is checked as the portal checks it (`422 invalid_url`); a merchant has at most 20
    endpoints (`409 too_many_endpoints`). Send it a test event with
    `POST /webhook-endpoints/{id}/test`."""
    merchant = request_merchant(request)
    if _endpoints(request).count() >= MAX_ENDPOINTS:
        raise TooManyEndpoints(
            gettext("A merchant can have at most %(limit)s webhook endpoints.")
            % {"limit": MAX_ENDPOINTS}
        )
    try:
        endpoint = webhook_endpoint_create(
            merchant_id=merchant.pk,
            url=payload.url,
            events=payload.events,
            description=payload.description,
            enabled=payload.enabled,
            now=timezone.now(),
        )
    except WebhookUrlRejected as error:
        raise _url_refused(error) from None
    return 201, endpoint_with_secret(endpoint)


@router.get(
    "",
    response={200: WebhookEndpointListOut},
    url_name="webhook-endpoints-list",
    auth=requires(Scope.WEBHOOKS_READ),
    operation_id="list_webhook_endpoints",
    summary="List webhook endpoints",
)
def list_webhook_endpoints(request: HttpRequest) -> Any:
    """The merchant's endpoints, oldest first (at most 20), without their secrets."""
    rows = _endpoints(request).order_by("created_at", "id")
    return WebhookEndpointListOut.model_construct(data=[endpoint_out(row) for row in rows])


@router.get(
    "/{endpoint_id}",
    response={200: WebhookEndpointOut},
    url_name="webhook-endpoint",
    auth=requires(Scope.WEBHOOKS_READ),
    operation_id="get_webhook_endpoint",
    summary="Get a webhook endpoint",
    openapi_extra=refusals({404: [ENDPOINT_NOT_FOUND]}),
)
def get_webhook_endpoint(request: HttpRequest, endpoint_id: EndpointId) -> Any:
    """One endpoint, without its secret. Another merchant's endpoint is 404."""
    return endpoint_out(_endpoint(request, endpoint_id))


@router.patch(
    "/{endpoint_id}",
    response={200: WebhookEndpointOut},
    url_name="webhook-endpoint-patch",
    auth=requires(Scope.WEBHOOKS_WRITE),
    operation_id="update_webhook_endpoint",
    summary="Change a webhook endpoint",
    openapi_extra=refusals({404: [ENDPOINT_NOT_FOUND], 422: [URL_REFUSED]}),
)
def update_webhook_endpoint(
    request: HttpRequest, endpoint_id: EndpointId, payload: WebhookEndpointPatchIn
) -> Any:
    """Change the URL (checked again), the events, the description, or switch it on or off."""
    endpoint = _endpoint(request, endpoint_id)
    try:
        endpoint = webhook_endpoint_update(
            endpoint=endpoint,
            url=payload.url if payload.url is not None else endpoint.url,
            events=payload.events if payload.events is not None else endpoint.events,
            description=(
                payload.description if payload.description is not None else endpoint.description
            ),
            enabled=payload.enabled if payload.enabled is not None else endpoint.enabled,
        )
    except WebhookUrlRejected as error:
        raise _url_refused(error) from None
    return endpoint_out(endpoint)


@router.delete(
    "/{endpoint_id}",
    response={204: None},
    url_name="webhook-endpoint-delete",
    auth=requires(Scope.WEBHOOKS_WRITE),
    operation_id="delete_webhook_endpoint",
    summary="Delete a webhook endpoint",
    openapi_extra=refusals({404: [ENDPOINT_NOT_FOUND]}),
)
def delete_webhook_endpoint(request: HttpRequest, endpoint_id: EndpointId) -> Any:
    """Remove the endpoint and its delivery log; deliveries still waiting for it are dropped.
    The events stay in the feed (`GET /events`)."""
    webhook_endpoint_delete(endpoint=_endpoint(request, endpoint_id))
    return Status(204, None)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response={200: WebhookEndpointSecretOut},
    url_name="webhook-endpoint-rotate-secret",
    auth=requires(Scope.WEBHOOKS_WRITE),
    operation_id="rotate_webhook_secret",
    summary="Give a webhook endpoint a new secret",
    openapi_extra=refusals({404: [ENDPOINT_NOT_FOUND]}),
)
@idempotent(domain_error_body)
def rotate_webhook_secret(request: HttpRequest, endpoint_id: EndpointId) -> Any:
    """A new signing secret, in the answer once. The previous one keeps signing beside it for
    24 hours (`previous_secret_expires_at`): each delivery then carries two signatures, and a
    receiver knowing either accepts it. Switch your receiver over within that time."""
    endpoint = webhook_endpoint_rotate_secret(
        endpoint=_endpoint(request, endpoint_id), now=timezone.now()
    )
    return 200, endpoint_with_secret(endpoint)


@router.post(
    "/{endpoint_id}/test",
    response={202: PingOut},
    url_name="webhook-endpoint-test",
    auth=requires(Scope.WEBHOOKS_WRITE),
    operation_id="send_test_webhook",
    summary="Send a test event to a webhook endpoint",
    openapi_extra=refusals(
        {
            404: [ENDPOINT_NOT_FOUND],
            409: ["`endpoint_disabled`: the endpoint is disabled; enable it first."],
        }
    ),
)
@idempotent(domain_error_body)
def send_test_webhook(request: HttpRequest, endpoint_id: EndpointId) -> Any:
    """Queue a signed `ping` event for this endpoint alone, whatever events it subscribes to:
    it leaves through the same outbox, signature and retries as every webhook, usually within
    seconds, and shows in the endpoint's delivery log in the portal. The body is
    `{"id": "evt_...", "type": "ping", "timestamp": ..., "data": {"endpoint_id": 12}}`.
    A disabled endpoint is `409 endpoint_disabled`."""
    event_id = webhook_endpoint_ping(endpoint=_endpoint(request, endpoint_id), now=timezone.now())
    return 202, {"event_id": event_id}
