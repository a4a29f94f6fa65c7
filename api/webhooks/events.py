"""What becomes a webhook: timeline events and issued statements. Connected to the domain's
signals in `ApiConfig.ready()`; the payload is the case as the API shows it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.utils import translation

from billing.models import Statement
from disputes.choices import ActorKind, EventType, Party, Visibility
from disputes.models import DisputeEvent

from ..schemas import dispute_detail_json, event_out
from .delivery import WebhookEvent, queue_webhooks

_WEBHOOK_EVENTS: dict[EventType | str, str] = {
    EventType.OPENED: "dispute.opened",
    EventType.CUSTOMER_REPLIED: "dispute.customer_replied",
    EventType.ESCALATED: "dispute.escalated",
    EventType.DECIDED: "dispute.decided",
    EventType.RESOLVED: "dispute.resolved",
    EventType.WITHDRAWN: "dispute.resolved",  # closed by the customer: `state` tells which
    EventType.REOPENED: "dispute.reopened",
}


def webhook_event_type(event: DisputeEvent) -> str | None:
    """The webhook a timeline event sends the merchant, if any."""
    if event.visibility not in (Visibility.BOTH, Visibility.MERCHANT):
        return None
    if event.event_type == EventType.MESSAGE:
        is_customer = event.actor_kind == ActorKind.CUSTOMER
        return "dispute.customer_replied" if is_customer else None
    party_events: dict[EventType | str, str] = {
        EventType.REMINDER_SENT: "dispute.reminder",
        EventType.INFO_REQUESTED: "dispute.information_requested",
    }
    if event.event_type in party_events:
        return party_events[event.event_type] if event.data.get("party") == Party.MERCHANT else None
    return _WEBHOOK_EVENTS.get(event.event_type)


def _webhook_data(event: DisputeEvent) -> dict[str, Any]:
    # Labels in the site's language, whoever's request caused the event: a webhook body does
    # not change with the language of the person who clicked.
    with translation.override(settings.LANGUAGE_CODE):
        return {
            "dispute": dispute_detail_json(event.dispute),
            "event": event_out(event, with_attachments=False).model_dump(
                mode="json", exclude={"attachments"}
            ),
        }


def queue_dispute_webhooks(
    sender: object, *, events: Sequence[DisputeEvent], now: datetime, **kwargs: Any
) -> None:
    """Receiver of `events_recorded`: every batch of timeline events (one endpoint query)."""
    webhooks = []
    for event in events:
        event_type = webhook_event_type(event)
        if event_type is None:
            continue
        dispute = event.dispute
        webhooks.append(
            WebhookEvent(
                merchant_id=dispute.merchant_id,
                event_type=event_type,
                payload=partial(_webhook_data, event),
                dedupe_key=f"{event_type}:event:{event.pk}",
                dispute_id=dispute.pk,
            )
        )
    queue_webhooks(events=webhooks, now=now)


def queue_statement_webhooks(
    sender: object, *, statements: Sequence[Statement], now: datetime, **kwargs: Any
) -> None:
    """Receiver of `statements_issued`: fee.statement_issued for each subscribed endpoint."""
    queue_webhooks(
        events=[
            WebhookEvent(
                statement.merchant_id,
                "fee.statement_issued",
                {
                    "id": statement.pk,
                    "currency": statement.currency,
                    "period_start": statement.period_start.isoformat(),
                    "total": str(statement.total),
                },
                f"fee.statement_issued:{statement.pk}",
            )
            for statement in statements
        ],
        now=now,
    )
