"""Render one email: templates/emails/<kind>/{subject.txt, body.txt} in the reader's language.

The context is stored as JSON in the outbox (codes, ISO timestamps, decimal strings); here it
is turned into what a reader sees — labels, dates in their time zone, money in their locale —
so templates only place ready values inside translatable sentences. The HTML part is the text
body set in the shared layout (emails/layout.html), so the two parts never say different things.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime

from disputes.choices import Outcome, Program, Reason, RefundOffer, State
from disputes.policies import deadline_for_display, minor_units

_LABELS: dict[str, type[models.TextChoices]] = {
    "program": Program,
    "reason": Reason,
    "outcome": Outcome,
    "refund_offer": RefundOffer,
    "state": State,
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _money(value: object, currency: str) -> str | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    places = minor_units(currency) if currency else 2
    shown = formats.number_format(amount, places, use_l10n=True, force_grouping=True)
    return f"{shown} {currency}"


def display_context(context: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """Add `<key>_display`/`<key>_date` for timestamps and money, `<key>_label` for codes.

    Call inside translation.override so labels and formats follow the reader's language.
    """
    currency = context.get("currency", "")
    shown: dict[str, Any] = dict(context)
    for key, value in context.items():
        if value in (None, ""):
            continue
        if key.endswith("_at"):
            moment = parse_datetime(value) if isinstance(value, str) else None
            if moment is not None:
                local = deadline_for_display(moment, time_zone)
                shown[key] = local
                shown[f"{key}_display"] = formats.date_format(local, "DATETIME_FORMAT")
                shown[f"{key}_date"] = formats.date_format(local, "DATE_FORMAT")
        elif key.endswith("amount"):
            shown[f"{key}_display"] = _money(value, currency)
        elif key in _LABELS:
            choices = _LABELS[key]
            shown[f"{key}_label"] = str(choices(value).label) if value in choices.values else value
    fee = (context.get("event") or {}).get("fee")
    if fee:
        shown["fee_display"] = _money(fee, currency)
    return shown


def render_email(
    kind: str, context: dict[str, Any], *, language: str, time_zone: str
) -> RenderedEmail:
    with translation.override(language), timezone.override(ZoneInfo(time_zone)):
        ctx = display_context(context, time_zone) | {"time_zone": time_zone}
        subject = render_to_string(f"emails/{kind}/subject.txt", ctx)
        text = render_to_string(f"emails/{kind}/body.txt", ctx).strip() + "\n"
        html = render_to_string(
            "emails/layout.html",
            ctx
            | {
                "subject": " ".join(subject.split()),
                "body_text": text,
                "recipient_is_merchant": kind.startswith("merchant_"),
            },
        )
    return RenderedEmail(subject=" ".join(subject.split()), text=text, html=html)
