"""/events: the merchant's events feed, the same objects its webhooks carry, kept 30 days.

Every webhook event of the merchant is kept (api.Event) whether or not an endpoint subscribes
to it: a receiver that was down, or a system that only polls, catches up here. A delivered
webhook's `webhook-id` (and the `id` in its body) is the event's id.
"""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from typing import Annotated, Any, Literal, get_args

from django.http import HttpRequest
from django.utils.translation import gettext_lazy
from ninja import Path, Query, Router, Schema
from pydantic import Field

from disputes import selectors as dispute_selectors
from disputes.errors import DisputeNotFound

from ..events import EVENT_ID_PATTERN, PING, event_body
from ..scopes import Scope
from ..selectors import merchant_event, merchant_events
from .auth import request_merchant, requires
from .common import refusals
from .webhook_endpoints import WebhookEventName

router = Router(tags=["events"])

# The webhook events and the test event, as one enum in the published schema.
EventName = Literal[
    "dispute.opened",
    "dispute.reminder",
    "dispute.customer_replied",
    "dispute.escalated",
    "dispute.information_requested",
    "dispute.decided",
    "dispute.resolved",
    "dispute.reopened",
    "fee.statement_issued",
    "ping",
]
assert set(get_args(EventName)) == {*get_args(WebhookEventName), PING}  # noqa: S101
EventId = Annotated[
    str,
    Path(
        pattern=EVENT_ID_PATTERN,
        description="An event's id: a delivery's `webhook-id`.",
        examples=["evt_5b0c8a1f0e2d4c6b9a7e3f1d2c4b6a8e"],
    ),
]


class EventNotFound(DisputeNotFound):  # 404, as an unknown case
    code = "not_found"
    default_message = gettext_lazy("No such event (events are kept for 30 days).")


class WebhookEventOut(Schema):
    """An event exactly as its webhook deliveries carry it in their body."""

    id: str = Field(
        examples=["evt_5b0c8a1f0e2d4c6b9a7e3f1d2c4b6a8e"],
        description="Stable: the `webhook-id` of every delivery of the event. Deduplicate on it.",
    )
    type: str = Field(
        examples=["dispute.opened"],
        description="One of the webhook events (see `POST /webhook-endpoints`), or `ping`.",
    )
    timestamp: str = Field(
        examples=["2026-03-02T10:05:00.123456+00:00"],
        json_schema_extra={"format": "date-time"},
        description="When it happened (ISO 8601, UTC).",
    )
    data: dict[str, Any] = Field(
        examples=[{"dispute": {"id": "DP-7K2M-Q9XD-4HTA", "state": "awaiting_merchant"}}],
        description="dispute.*: `{dispute, event}`, the case as `GET /disputes/{id}` and its "
        "timeline entry; fee.statement_issued: `{id, currency, period_start, total}`; "
        "ping: `{endpoint_id}`.",
    )


class EventFeedOut(Schema):
    data: list[WebhookEventOut] = Field(description="Oldest first.")
    next_after: str | None = Field(
        examples=["evt_5b0c8a1f0e2d4c6b9a7e3f1d2c4b6a8e"],
        description="Ask with `after` set to this for the next page; null when `data` is empty "
        "(keep your last id and ask again later).",
    )


class EventListQuery(Schema):
    after: str | None = Field(
        None,
        pattern=EVENT_ID_PATTERN,
        examples=["evt_5b0c8a1f0e2d4c6b9a7e3f1d2c4b6a8e"],
        description="The last event id you have: the events after it. Left out: from the "
        "oldest kept.",
    )
    limit: int = Field(100, ge=1, le=500, examples=[100], description="Events per page.")
    type: EventName | None = Field(None, examples=["dispute.escalated"], description="Only these.")
    dispute: str | None = Field(
        None,
        max_length=40,
        pattern=r"^[A-Za-z0-9 -]+$",
        examples=["DP-7K2M-Q9XD-4HTA"],
        description="Only the events of this case.",
    )


@router.get(
    "",
    response={200: EventFeedOut},
    url_name="events",
    auth=requires(Scope.EVENTS_READ),
    operation_id="list_events",
    summary="List events",
    openapi_extra=refusals(
        {
            400: [
                "`invalid_cursor`, field `after`: not the id of one of the merchant's kept "
                "events (kept for 30 days)."
            ],
            404: ["`not_found`, field `dispute`: no case has this id among the merchant's."],
        }
    ),
)
def list_events(request: HttpRequest, query: Query[EventListQuery]) -> Any:
    """The merchant's events of the last 30 days, oldest first, a page at a time: ask with
    `after` set to `next_after` until `data` is empty. An `after` that is not one of the
    merchant's kept events is `400 invalid_cursor`; a `dispute` that is not one of its cases is
    404. Events of one transaction (a sweep's batch) come in one run; a transaction committing
    later than one that started after it can put its events before ones you have read, so
    deduplicate on `id` and, when it matters, read again from a few minutes back."""
    merchant = request_merchant(request)
    dispute = None
    if query.dispute:
        dispute = dispute_selectors.dispute_for_merchant(merchant, query.dispute)
        if dispute is None:
            raise DisputeNotFound(field="dispute")
    page = merchant_events(
        merchant, after=query.after, limit=query.limit, event_type=query.type or "", dispute=dispute
    )
    return {"data": [event_body(row) for row in page.rows], "next_after": page.next_after}


@router.get(
    "/{event_id}",
    response={200: WebhookEventOut},
    url_name="event",
    auth=requires(Scope.EVENTS_READ),
    operation_id="get_event",
    summary="Get an event",
    openapi_extra=refusals(
        {404: ["`not_found`: no kept event of the merchant has this id (kept for 30 days)."]}
    ),
)
def get_event(request: HttpRequest, event_id: EventId) -> Any:
    """One event by its id (a delivery's `webhook-id`), as its webhooks carry it."""
    event = merchant_event(request_merchant(request), event_id)
    if event is None:
        raise EventNotFound(field="event_id")
    return event_body(event)
