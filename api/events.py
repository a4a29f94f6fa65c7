"""The event store: every webhook event of a merchant, kept for the events feed (GET /events).

An event is written whether or not an endpoint subscribes to it, in the transaction that made
the change and together with its webhooks' outbox messages (`webhooks.delivery.queue_webhooks`).
The feed and every delivery show the same object, `event_body`: its `id` is the deliveries'
`webhook-id`, so a delivered webhook's id finds its event.

Ids are "evt_" and 32 hex digits, an HMAC of the merchant and the event's dedupe key: the same
event queued twice (a job rerun) gets the same id, and the second write is ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils.crypto import salted_hmac

from .models import Event

EVENT_ID_PREFIX = "evt_"
EVENT_ID_PATTERN = r"^evt_[0-9a-f]{32}$"
# How long the feed keeps an event; older ones are deleted by the cleanup job (api.cleanup).
EVENT_KEPT_FOR = timedelta(days=30)
# Rows deleted per statement by the retention job: short statements, no long lock.
DELETE_BATCH_SIZE = 2000
# The test event an integrator sends to one endpoint (POST /webhook-endpoints/{id}/test).
PING = "ping"

_ID_SALT = "api.events.event-id"


def event_public_id(merchant_id: int, dedupe_key: str) -> str:
    digest = salted_hmac(_ID_SALT, f"{merchant_id}:{dedupe_key}", algorithm="sha256").hexdigest()
    return EVENT_ID_PREFIX + digest[:32]


def event_timestamp(moment: datetime) -> str:
    """The body's `timestamp`: ISO 8601 in UTC with microseconds, as webhooks always sent."""
    return moment.astimezone(UTC).isoformat()


def event_body(event: Event) -> dict[str, Any]:
    """The event as its webhooks and the feed carry it."""
    return {
        "id": event.public_id,
        "type": event.event_type,
        "timestamp": event_timestamp(event.created_at),
        "data": event.payload,
    }


def events_delete_expired(*, now: datetime, batch_size: int = DELETE_BATCH_SIZE) -> int:
    """Delete the events older than EVENT_KEPT_FOR, oldest first, a batch per statement; how
    many went. Ids grow with time, so the oldest events are the lowest ids: the primary key
    finds them, and the job stops after a batch that holds one still kept."""
    cutoff = now - EVENT_KEPT_FOR
    deleted = 0
    while True:
        oldest = list(Event.objects.order_by("pk").values_list("pk", "created_at")[:batch_size])
        expired = [pk for pk, created_at in oldest if created_at < cutoff]
        if expired:
            # Nothing refers to an event: Django deletes the batch in one statement.
            deleted += Event.objects.filter(pk__in=expired).delete()[0]
        if len(expired) < batch_size:
            return deleted


def events_forget_cases(sender: object, *, dispute_ids: Any, now: datetime, **kwargs: Any) -> int:
    """The copies of cases whose personal data was just removed (retention or an erasure,
    disputes.signals.personal_data_removed): their events go from the feed at once, in the
    same transaction, rather than when their 30 days end."""
    return Event.objects.filter(dispute_id__in=list(dispute_ids)).delete()[0]
