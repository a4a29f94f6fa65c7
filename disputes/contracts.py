"""Merchants' contract terms: the version in force at a moment, and new versions.

Versions are append-only in effect: a new one starts on a UTC day that is today or later and
after every earlier one; a version may be replaced only before its first day (no case can be
under it yet). A case keeps the version in force when it was opened (Dispute.terms).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

from django.db import transaction
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext

from . import signals
from .errors import InvalidTerms
from .models import ContractTerms, Dispute, Merchant
from .policies import DEFAULT_TERMS, DayCount, Terms, Window, check_terms, merchant_window_for


def currencies_priced(plan: str, currencies: set[str]) -> set[str]:
    """Which of these currencies the fee plan prices (billing answers; without it, all)."""
    priced = set(currencies)
    for _receiver, answer in signals.currencies_priced.send(
        sender=ContractTerms, plan=plan, currencies=currencies
    ):
        priced &= set(cast(set[str], answer))
    return priced


def terms_of(row: ContractTerms | None) -> Terms:
    if row is None:
        return DEFAULT_TERMS
    return Terms(
        payment_dispute=row.payment_dispute,
        buyer_protection=row.buyer_protection,
        dispute_window_days=row.dispute_window_days,
        dispute_window_day_count=DayCount(row.dispute_window_day_count),
        protection_window_days=row.protection_window_days,
        fee_plan=row.fee_plan,
    )


def contract_terms_at(merchant: Merchant, at: datetime) -> ContractTerms | None:
    """The version in force at `at` (the latest whose first UTC day has begun), or None: the
    defaults apply."""
    return (
        ContractTerms.objects.filter(merchant=merchant, valid_from__lte=at.astimezone(UTC).date())
        .order_by("-valid_from")
        .first()
    )


def contract_terms_add(
    *, merchant: Merchant, terms: Terms, valid_from: date | None, now: datetime
) -> ContractTerms:
    """A new version of the merchant's terms from `valid_from` (default: today, UTC)."""
    check_terms(terms)
    today = now.astimezone(UTC).date()
    valid_from = valid_from or today
    with transaction.atomic():
        # One writer at a time per merchant: versions are compared, then written.
        Merchant.objects.select_for_update().filter(pk=merchant.pk).first()
        latest = check_terms_start(merchant, valid_from, today=today)
        fields = {
            "payment_dispute": terms.payment_dispute,
            "buyer_protection": terms.buyer_protection,
            "dispute_window_days": terms.dispute_window_days,
            "dispute_window_day_count": terms.dispute_window_day_count.value,
            "protection_window_days": terms.protection_window_days,
            "fee_plan": terms.fee_plan,
        }
        if latest is not None and latest.valid_from == valid_from:
            for name, value in fields.items():
                setattr(latest, name, value)
            latest.save(update_fields=list(fields))
            return latest
        return ContractTerms.objects.create(merchant=merchant, valid_from=valid_from, **fields)


def check_terms_start(merchant: Merchant, valid_from: date, *, today: date) -> ContractTerms | None:
    """Raise InvalidTerms unless a new version may start on `valid_from`: today or later, not
    before the latest version, and not on a day whose version already has cases. Returns the
    latest version (None before the first)."""
    if valid_from < today:
        raise InvalidTerms(
            gettext("New terms start today or later; cases already opened keep theirs."),
            field="valid_from",
        )
    latest = ContractTerms.objects.filter(merchant=merchant).order_by("-valid_from").first()
    if latest is None:
        return None
    if valid_from < latest.valid_from:
        raise InvalidTerms(
            gettext("Terms from %(day)s exist already; new terms start on or after it.")
            % {"day": latest.valid_from.isoformat()},
            field="valid_from",
        )
    if latest.valid_from == valid_from and valid_from <= today and latest.disputes.exists():
        raise InvalidTerms(
            gettext("Cases were opened under the terms of this day; start new ones later."),
            field="valid_from",
        )
    return latest


def window_phrase(window: Window) -> str:
    """ "21 days", "14 working days": a merchant window in words."""
    if window.day_count == DayCount.WORKING:
        phrase = ngettext("%(days)s working day", "%(days)s working days", window.days)
    else:
        phrase = ngettext("%(days)s day", "%(days)s days", window.days)
    return phrase % {"days": window.days}


def merchant_window_phrase(merchant: Merchant, program: str, at: datetime) -> str:
    """The window a new case of this program would give the merchant, in words."""
    return window_phrase(merchant_window_for(program, terms_of(contract_terms_at(merchant, at))))


def case_terms_summary(dispute: Dispute) -> str:
    """The terms a case was opened under, in a line for the portal and the desk."""
    terms = terms_of(dispute.terms)
    window = merchant_window_for(dispute.program, terms)
    summary = gettext("%(window)s to answer, fee plan %(plan)s") % {
        "window": window_phrase(window),
        "plan": terms.fee_plan,
    }
    if dispute.terms is not None:
        summary += " " + gettext("(terms from %(day)s)") % {
            "day": date_format(dispute.terms.valid_from, "DATE_FORMAT")
        }
    return summary
