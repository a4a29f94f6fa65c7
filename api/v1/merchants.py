"""/merchants: onboarding shops (the operator, or a platform partner for its own), their details
and their contract terms, versioned from a start day."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Schema
from pydantic import Field

from disputes.contracts import terms_of
from disputes.models import ContractTerms, Merchant
from disputes.onboarding import check_merchant, merchant_onboard, merchant_update
from disputes.policies import DEFAULT_TERMS, DayCount, Terms

from ..idempotency import idempotent
from ..models import KeyOwner
from ..schemas import api_json
from ..scopes import Scope
from ..selectors import InvalidCursor
from .auth import request_key, requires
from .common import ERRORS
from .errors import MerchantNotFound, domain_error_body

router = Router(tags=["merchants"])
MerchantSlug = Annotated[str, Path(min_length=1, max_length=50, pattern=r"^[a-z0-9-]+$")]


class TermsIn(Schema):
    """Contract terms per program. Bounds: a payment-dispute window of 14 to 21 days, calendar
    or working days; a buyer-protection window of 5 calendar days."""

    payment_dispute: bool = True
    buyer_protection: bool = True
    dispute_window_days: int = Field(DEFAULT_TERMS.dispute_window_days, ge=14, le=21)
    dispute_window_day_count: Literal["calendar", "working"] = "calendar"
    protection_window_days: int = Field(DEFAULT_TERMS.protection_window_days, ge=5, le=5)
    fee_plan: str = Field("standard", min_length=1, max_length=32)
    valid_from: date | None = Field(
        None, description="First day (UTC) of these terms; today when left out."
    )

    def as_terms(self) -> Terms:
        return Terms(
            payment_dispute=self.payment_dispute,
            buyer_protection=self.buyer_protection,
            dispute_window_days=self.dispute_window_days,
            dispute_window_day_count=DayCount(self.dispute_window_day_count),
            protection_window_days=self.protection_window_days,
            fee_plan=self.fee_plan,
        )


class MerchantIn(Schema):
    name: str = Field(min_length=1, max_length=200, examples=["Trail & Co"])
    slug: str = Field(min_length=1, max_length=50, examples=["trail-co"])
    country: str = Field(min_length=2, max_length=2, examples=["NL"])
    time_zone: str = Field("Europe/Amsterdam", max_length=64)
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    language: str = Field("en", max_length=8, description="The language of its emails.")
    owner_email: str | None = Field(
        None, max_length=150, description="Invited by email to choose a password."
    )
    test_mode: bool = Field(False, description="A test merchant: never billed, drivable by API.")
    terms: TermsIn | None = None


class MerchantPatchIn(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    country: str | None = Field(None, min_length=2, max_length=2)
    time_zone: str | None = Field(None, max_length=64)
    currency: str | None = Field(None, min_length=3, max_length=3)
    language: str | None = Field(None, max_length=8)
    owner_email: str | None = Field(None, max_length=150)
    test_mode: bool | None = None
    terms: TermsIn | None = Field(None, description="A new version of the contract terms.")


class TermsOut(Schema):
    payment_dispute: bool
    buyer_protection: bool
    dispute_window_days: int
    dispute_window_day_count: str
    protection_window_days: int
    fee_plan: str
    valid_from: date | None


class MerchantOut(Schema):
    slug: str
    name: str
    country: str
    time_zone: str
    currency: str
    language: str
    test_mode: bool
    platform_partner: str | None
    terms: TermsOut = Field(description="The terms in force now.")
    upcoming_terms: list[TermsOut] = Field(description="Versions that start later.")
    created_at: datetime


class MerchantListOut(Schema):
    data: list[MerchantOut]
    next_cursor: str | None


def terms_out(row: ContractTerms | None) -> TermsOut:
    terms = terms_of(row)
    return TermsOut(
        payment_dispute=terms.payment_dispute,
        buyer_protection=terms.buyer_protection,
        dispute_window_days=terms.dispute_window_days,
        dispute_window_day_count=terms.dispute_window_day_count.value,
        protection_window_days=terms.protection_window_days,
        fee_plan=terms.fee_plan,
        valid_from=row.valid_from if row else None,
    )


def merchant_out(merchant: Merchant, versions: list[ContractTerms] | None = None) -> MerchantOut:
    """The merchant with its terms in force today and those that start later; `versions` (all
    its terms rows, oldest first) when a list has fetched them for the whole page."""
    if versions is None:
        versions = list(ContractTerms.objects.filter(merchant=merchant).order_by("valid_from"))
    today = timezone.now().astimezone(UTC).date()
    begun = [row for row in versions if row.valid_from <= today]
    return MerchantOut(
        slug=merchant.slug,
        name=merchant.name,
        country=merchant.country,
        time_zone=merchant.time_zone,
        currency=merchant.currency,
        language=merchant.language,
        test_mode=merchant.test_mode,
        platform_partner=merchant.platform_partner.slug if merchant.platform_partner else None,
        terms=terms_out(begun[-1] if begun else None),
        upcoming_terms=[terms_out(row) for row in versions if row.valid_from > today],
        created_at=merchant.created_at,
    )


def merchants_out(merchants: list[Merchant]) -> list[MerchantOut]:
    """A page of merchants in two queries, whatever its length."""
    versions: dict[int, list[ContractTerms]] = defaultdict(list)
    for row in ContractTerms.objects.filter(merchant__in=merchants).order_by("valid_from"):
        versions[row.merchant_id].append(row)
    return [merchant_out(merchant, versions[merchant.pk]) for merchant in merchants]


def _visible(request: HttpRequest) -> Any:
    """The merchants this key acts for: every one for the operator, a partner's own."""
    api_key = request_key(request)
    merchants = Merchant.objects.select_related("platform_partner")
    if api_key.owner_kind == KeyOwner.PARTNER:
        return merchants.filter(platform_partner_id=api_key.partner_id)
    return merchants


def _merchant(request: HttpRequest, slug: str) -> Merchant:
    merchant = _visible(request).filter(slug=slug).first()
    if merchant is None:
        raise MerchantNotFound(field="slug")
    return merchant


@router.post(
    "",
    response={201: MerchantOut, **ERRORS},
    url_name="merchants",
    auth=requires(Scope.MERCHANTS_WRITE, merchant="none"),
)
@idempotent(domain_error_body)
def create_merchant(request: HttpRequest, payload: MerchantIn) -> Any:
    """Onboard a shop with its contract terms (from today); its owner is invited by email. A
    platform partner's merchants are its own: it acts for them with `X-Merchant`."""
    api_key = request_key(request)
    merchant = merchant_onboard(
        facts=check_merchant(payload.model_dump()),
        terms=payload.terms.as_terms() if payload.terms else DEFAULT_TERMS,
        owner_email=payload.owner_email,
        partner=api_key.partner if api_key.owner_kind == KeyOwner.PARTNER else None,
        now=timezone.now(),
        terms_from=payload.terms.valid_from if payload.terms else None,
    )
    return 201, api_json(merchant_out(merchant))


class MerchantListQuery(Schema):
    cursor: str | None = Field(
        None, max_length=100, description="`next_cursor` of the page before."
    )
    limit: int = Field(50, ge=1, le=200)


@router.get(
    "",
    response={200: MerchantListOut, **ERRORS},
    url_name="merchants-list",
    auth=requires(Scope.MERCHANTS_READ, merchant="none"),
)
def list_merchants(request: HttpRequest, query: Query[MerchantListQuery]) -> Any:
    """The merchants this key acts for, oldest first."""
    rows = _visible(request).order_by("pk")
    if query.cursor:
        # isdigit() alone also takes "²" and other digits int() refuses.
        if not (query.cursor.isascii() and query.cursor.isdigit()):
            raise InvalidCursor(field="cursor")
        rows = rows.filter(pk__gt=int(query.cursor))
    page = list(rows[: query.limit + 1])
    more = len(page) > query.limit
    page = page[: query.limit]
    return {
        "data": merchants_out(page),
        "next_cursor": str(page[-1].pk) if more else None,
    }


@router.get(
    "/{slug}",
    response={200: MerchantOut, **ERRORS},
    url_name="merchant",
    auth=requires(Scope.MERCHANTS_READ, merchant="none"),
)
def get_merchant(request: HttpRequest, slug: MerchantSlug) -> Any:
    """One merchant, its terms in force and those that start later."""
    return merchant_out(_merchant(request, slug))


@router.patch(
    "/{slug}",
    response={200: MerchantOut, **ERRORS},
    url_name="merchant-patch",
    auth=requires(Scope.MERCHANTS_WRITE, merchant="none"),
)
def patch_merchant(request: HttpRequest, slug: MerchantSlug, payload: MerchantPatchIn) -> Any:
    """Change a merchant's details, add a version of its terms (from `terms.valid_from`, today
    or later), invite another owner. Cases already opened keep the terms they were opened under."""
    merchant = _merchant(request, slug)
    changes = payload.model_dump(exclude_unset=True, exclude={"terms", "owner_email"})
    merchant = merchant_update(
        merchant=merchant,
        raw=changes,
        terms=payload.terms.as_terms() if payload.terms else None,
        terms_from=payload.terms.valid_from if payload.terms else None,
        owner_email=payload.owner_email,
        now=timezone.now(),
    )
    return merchant_out(merchant)
