from datetime import datetime

from django import template
from django.utils import formats

from disputes.errors import DomainError
from disputes.policies import deadline_for_display, evidence_item

register = template.Library()


@register.filter
def deadline(moment: datetime | None, time_zone: str) -> str:
    """A deadline in the merchant's time zone, as its last minute: "25 October 2026 23:59"."""
    if moment is None:
        return ""
    return formats.date_format(deadline_for_display(moment, time_zone), "DATETIME_FORMAT")


@register.filter
def evidence_label(key: str) -> str:
    """The checklist item's label in the reader's language ("tracking_number" -> "Tracking
    number"); an unknown key is shown as it is."""
    try:
        return str(evidence_item(key).label)
    except DomainError:
        return key


@register.filter
def given_items(data: object) -> list[dict[str, str]]:
    """The evidence items a timeline event states (its data["items"]), text ones only: the
    documents are shown as the event's attachments."""
    if not isinstance(data, dict):
        return []
    return [item for item in data.get("items", []) if isinstance(item, dict) and item.get("value")]
