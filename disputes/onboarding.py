"""Merchants in: the operator or a platform partner onboards a shop, changes it, sets its terms.

A new merchant gets its first contract terms (from today), and its owner, named by email, an
invitation through the outbox (the same as an owner adding a team member).
"""

from __future__ import annotations

import contextlib
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_lazy

from .choices import MemberRole
from .contracts import contract_terms_add, contract_terms_at, currencies_priced, terms_of
from .errors import DomainError
from .memberships import AlreadyMember, membership_add
from .models import Merchant, Order, PlatformPartner
from .policies import Terms

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
LANGUAGES = {code for code, _name in settings.LANGUAGES}


class MerchantRefused(DomainError):
    code = "invalid"

    def __init__(self, message: str, *, field: str | None, code: str = "invalid") -> None:
        super().__init__(message, field=field)
        self.code = code


class MerchantExists(DomainError):
    code = "merchant_exists"
    default_message = gettext_lazy("A merchant with this slug exists already.")


@dataclass(frozen=True)
class MerchantFacts:
    name: str
    slug: str
    country: str
    time_zone: str
    currency: str
    language: str
    test_mode: bool = False


def _check(field: str, value: str, pattern: re.Pattern[str], message: str) -> str:
    if not pattern.fullmatch(value):
        raise MerchantRefused(message, field=field)
    return value


def check_merchant(raw: Mapping[str, Any], *, current: Merchant | None = None) -> MerchantFacts:
    """The merchant's fields, checked (an update starts from the merchant as it is)."""

    def value(name: str, default: str) -> str:
        given = raw.get(name)
        return default if given is None else str(given).strip()

    name = value("name", current.name if current else "")
    if not name or len(name) > 200:
        raise MerchantRefused(gettext("A name is 1 to 200 characters."), field="name")
    slug = _check(
        "slug",
        value("slug", current.slug if current else ""),
        _SLUG,
        gettext("A slug is 1 to 50 lower-case letters, digits and hyphens."),
    )
    country = _check(
        "country",
        value("country", current.country if current else "").upper(),
        _COUNTRY,
        gettext("Enter an ISO 3166 country code, e.g. NL."),
    )
    time_zone = value("time_zone", current.time_zone if current else "Europe/Amsterdam")
    if time_zone not in zoneinfo.available_timezones():
        raise MerchantRefused(
            gettext("Enter an IANA time zone, e.g. Europe/Amsterdam."), field="time_zone"
        )
    currency = _check(
        "currency",
        value("currency", current.currency if current else "").upper(),
        _CURRENCY,
        gettext("Enter an ISO 4217 currency code, e.g. EUR."),
    )
    language = value("language", current.language if current else "en").lower()
    if language not in LANGUAGES:
        raise MerchantRefused(
            gettext("The language is one of: %(languages)s.")
            % {"languages": ", ".join(sorted(LANGUAGES))},
            field="language",
        )
    test_mode = raw.get("test_mode", current.test_mode if current else False)
    return MerchantFacts(name, slug, country, time_zone, currency, language, bool(test_mode))


def _check_priced(terms: Terms, currency: str) -> None:
    if not currencies_priced(terms.fee_plan, {currency}):
        raise MerchantRefused(
            gettext("The fee plan %(plan)s has no fees in %(currency)s.")
            % {"plan": terms.fee_plan, "currency": currency},
            field="currency",
            code="currency_not_priced",
        )


def merchant_onboard(
    *,
    facts: MerchantFacts,
    terms: Terms,
    owner_email: str | None,
    partner: PlatformPartner | None,
    now: datetime,
    terms_from: date | None = None,
) -> Merchant:
    """A new merchant with its first terms (from `terms_from`, default today; the defaults
    apply until then) and its owner invited."""
    _check_priced(terms, facts.currency)
    with transaction.atomic():
        try:
            with transaction.atomic():
                merchant = Merchant.objects.create(
                    name=facts.name,
                    slug=facts.slug,
                    country=facts.country,
                    time_zone=facts.time_zone,
                    currency=facts.currency,
                    language=facts.language,
                    test_mode=facts.test_mode,
                    platform_partner=partner,
                )
        except IntegrityError:
            raise MerchantExists(field="slug") from None
        contract_terms_add(merchant=merchant, terms=terms, valid_from=terms_from, now=now)
        if owner_email:
            membership_add(merchant=merchant, email=owner_email, role=MemberRole.OWNER, now=now)
    return merchant


def merchant_update(
    *,
    merchant: Merchant,
    raw: Mapping[str, Any],
    terms: Terms | None,
    terms_from: date | None,
    owner_email: str | None,
    now: datetime,
) -> Merchant:
    """Change a merchant's details, add a version of its terms, invite another owner."""
    facts = check_merchant(raw, current=merchant)
    if facts.slug != merchant.slug:
        raise MerchantRefused(gettext("A merchant's slug does not change."), field="slug")
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
        has_orders = Order.objects.filter(merchant=merchant).exists()
        if facts.currency != merchant.currency and has_orders:
            raise MerchantRefused(
                gettext("The merchant has orders: its currency does not change."),
                field="currency",
            )
        # Test and live money never mix: a merchant with orders keeps its mode (a shop going
        # live after testing is onboarded again as a live merchant).
        if facts.test_mode != merchant.test_mode and has_orders:
            raise MerchantRefused(
                gettext(
                    "The merchant has orders: it stays a test merchant or a live one. Onboard "
                    "a new merchant to go live."
                ),
                field="test_mode",
            )
        if terms is not None:
            _check_priced(terms, facts.currency)
            contract_terms_add(merchant=merchant, terms=terms, valid_from=terms_from, now=now)
        else:
            _check_priced(terms_of(contract_terms_at(merchant, now)), facts.currency)
        for name in ("name", "country", "time_zone", "currency", "language", "test_mode"):
            setattr(merchant, name, getattr(facts, name))
        merchant.save(
            update_fields=["name", "country", "time_zone", "currency", "language", "test_mode"]
        )
        if owner_email:
            with contextlib.suppress(AlreadyMember):  # on the team already: nothing to invite
                membership_add(merchant=merchant, email=owner_email, role=MemberRole.OWNER, now=now)
    return merchant
