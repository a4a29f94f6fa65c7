"""What a reader sees in an email: the outbox keeps codes, ISO timestamps and decimal strings;
this turns them into labels, dates in the reader's time zone and money in their locale.

Registered with the outbox's email renderer in `DisputesConfig.ready()`, for every email the
portal sends (cases, statements, integrations), so templates only place ready values inside
translatable sentences.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django.db import models
from django.utils import formats
from django.utils.dateparse import parse_datetime
from django.utils.translation import get_language

from .choices import CustomerReply, Outcome, Program, Reason, RefundOffer, State
from .policies import deadline_for_display, decision_code, minor_units

_LABELS: dict[str, type[models.TextChoices]] = {
    "program": Program,
    "reason": Reason,
    "outcome": Outcome,
    "refund_offer": RefundOffer,
    "state": State,
}


def _money(value: object, currency: str) -> str | None:
    """Money in an email: the reader's number format and the ISO code ("69,53 EUR"), which
    reads the same in a plain-text mail client whatever its fonts."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    places = min(minor_units(currency), 2) if currency else 2
    shown = formats.number_format(amount, places, use_l10n=True, force_grouping=True)
    return f"{shown} {currency}"


def reader_locale() -> Locale:
    """The active language as a CLDR locale for Babel ("fi", "nl", ...); English for one
    Babel does not know. Shared by every place that formats with CLDR data."""
    return _locale_for((get_language() or "en").replace("-", "_"))


@lru_cache(maxsize=16)
def _locale_for(language: str) -> Locale:
    try:
        return Locale.parse(language)
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


def format_money(value: object, currency: str) -> str | None:
    """An amount as the reader writes it, with the currency's sign where it has one and its
    own decimals: "€69.53" in English, "69,53 €" in Finnish, "9 000 ¥" (CLDR, via Babel).
    None for what is not a number."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite():
        return None
    if not currency:
        return formats.number_format(amount, 2, use_l10n=True, force_grouping=True)
    return str(format_currency(amount, currency.upper(), locale=reader_locale()))


def display_context(context: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """Add `<key>_display`/`<key>_date` for timestamps and money, `<key>_label` for codes.

    Called inside translation.override, so labels and formats follow the reader's language.
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
    code = decision_code(context.get("decision_code") or "")
    if code is not None:
        shown["decision_code_label"] = str(code.label)
    cause = (context.get("event") or {}).get("cause")
    if cause in CustomerReply.values:
        shown["reply_label"] = str(CustomerReply(cause).label)
    fee = (context.get("event") or {}).get("fee")
    if fee:
        shown["fee_display"] = _money(fee, currency)
    return shown
