from datetime import datetime
from typing import Any

from babel.dates import get_timezone_name
from django import template
from django.forms import BaseForm
from django.utils import formats
from django.utils.translation import gettext

from disputes.choices import CustomerReply, EventType, Outcome, RefundOffer
from disputes.email_display import format_money, reader_locale
from disputes.errors import DomainError
from disputes.models import DisputeEvent
from disputes.policies import deadline_for_display, evidence_item

register = template.Library()


@register.filter
def deadline(moment: datetime | None, time_zone: str) -> str:
    """A deadline in the merchant's time zone, as its last minute: "25 October 2026 23:59"."""
    if moment is None:
        return ""
    return formats.date_format(deadline_for_display(moment, time_zone), "DATETIME_FORMAT")


@register.filter
def deadline_with_zone(moment: datetime | None, time_zone: str) -> str:
    """A deadline for a reader who may live elsewhere: its last minute in the merchant's time
    zone, and the zone's name in the reader's language ("25 October 2026 23:59 (Central
    European Time)"; "25. lokakuuta 2026 klo 23.59 (Keski-Euroopan aika)")."""
    if moment is None:
        return ""
    return f"{deadline(moment, time_zone)} ({zone_name(time_zone)})"


def zone_name(time_zone: str) -> str:
    return str(get_timezone_name(time_zone, width="long", locale=reader_locale()))


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


@register.simple_tag
def event_choice(event: DisputeEvent, currency: str) -> str:
    """What a timeline event chose, in words, so nobody has to guess from the event's name:
    the offer and its amount, the customer's answer, support's outcome and amount."""
    data = event.data if isinstance(event.data, dict) else {}
    amount = format_money(data.get("amount"), currency) if data.get("amount") else None
    if event.event_type == EventType.OFFER_MADE and data.get("refund_offer") in RefundOffer.values:
        offer = RefundOffer(data["refund_offer"])
        if offer == RefundOffer.NONE or amount is None:
            return gettext("Offer: %(offer)s.") % {"offer": offer.label}
        return gettext("Offer: %(offer)s, %(amount)s.") % {"offer": offer.label, "amount": amount}
    if event.event_type == EventType.CUSTOMER_REPLIED and data.get("reply") in CustomerReply.values:
        return gettext("Answer: “%(reply)s”.") % {"reply": CustomerReply(data["reply"]).label}
    if event.event_type == EventType.DECIDED and data.get("outcome") in Outcome.values:
        outcome = Outcome(data["outcome"]).label
        if amount is None or data.get("amount") in ("0", "0.00", "None"):
            return gettext("Outcome: %(outcome)s.") % {"outcome": outcome}
        return gettext("Outcome: %(outcome)s; to the customer: %(amount)s.") % {
            "outcome": outcome,
            "amount": amount,
        }
    if event.event_type == EventType.RETURN_DECIDED and amount is not None:
        return gettext("Refund after the return: %(amount)s.") % {"amount": amount}
    closed = event.event_type in (EventType.RESOLVED, EventType.DISPUTE_ACCEPTED)
    if closed and amount and data.get("amount") not in ("0", "0.00", "None"):
        return gettext("To the customer: %(amount)s.") % {"amount": amount}
    return ""


@register.simple_tag(takes_context=True)
def page_has_errors(context: Any) -> bool:
    """Whether a form on this page came back with errors: the page title then starts with
    "Error:", so a screen reader says so first (forms are found in the context by type)."""
    return any(
        isinstance(value, BaseForm) and value.is_bound and bool(value.errors)
        for value in context.flatten().values()
    )


@register.filter
def money(value: object, currency: str) -> str:
    """{{ amount|money:currency }}: "€69.53", "69,53 €" (see email_display.format_money)."""
    if value is None or value == "":
        return ""
    return format_money(value, currency) or str(value)
