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
from .common import MERCHANT_NOT_FOUND, refusals
from .errors import MerchantNotFound, domain_error_body

router = Router(tags=["merchants"])
MerchantSlug = Annotated[
    str,
    Path(
        min_length=1,
        max_length=50,
        pattern=r"^[a-z0-9-]+$",
        description="The merchant's slug.",
        example="trail-co",
    ),
]
MERCHANT_REFUSED = (
    "`invalid` and the onboarding rules' codes (`field` names the field): an unknown country, "
    "time zone or language, a currency the fee plan does not price (`currency_not_priced`)."
)
TERMS_REFUSED = (
    "`invalid_terms`: terms out of their bounds, no program, or a `valid_from` before today or "
    "before the latest version."
)


class TermsIn(Schema):
    """Contract terms per program. Bounds: a payment-dispute window of 14 to 21 days, calendar
    or working days; a buyer-protection window of 5 calendar days."""

    payment_dispute: bool = Field(
        True, description="The shop's orders can get payment disputes.", examples=[True]
    )
    buyer_protection: bool = Field(
        True,
        description="The shop's orders can carry buyer protection; at least one of the two "
        "programs.",
        examples=[True],
    )
    dispute_window_days: int = Field(
        DEFAULT_TERMS.dispute_window_days,
        ge=14,
        le=21,
        description="The merchant's time to answer a payment dispute, in days.",
        examples=[14],
    )
    dispute_window_day_count: Literal["calendar", "working"] = Field(
        "calendar",
        description="`working`: Monday to Friday, less the country's public holidays.",
        examples=["working"],
    )
    protection_window_days: int = Field(
        DEFAULT_TERMS.protection_window_days,
        ge=5,
        le=5,
        description="The merchant's time to answer a buyer-protection case: 5 calendar days.",
        examples=[5],
    )
    fee_plan: str = Field(
        "standard",
        min_length=1,
        max_length=32,
        description="The fee plan its dispute fees come from.",
        examples=["standard"],
    )
    valid_from: date | None = Field(
        None,
        description="First day (UTC) of these terms; today when left out.",
        examples=["2027-01-01"],
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
    name: str = Field(
        min_length=1, max_length=200, description="The shop's name.", examples=["Trail & Co"]
    )
    slug: str = Field(
        min_length=1,
        max_length=50,
        description="Lower-case letters, digits and hyphens; never changes; what `X-Merchant` "
        "names.",
        examples=["trail-co"],
    )
    country: str = Field(
        min_length=2,
        max_length=2,
        description="ISO 3166 code; working days skip its public holidays.",
        examples=["NL"],
    )
    time_zone: str = Field(
        "Europe/Amsterdam",
        max_length=64,
        description="IANA name; deadlines end at midnight here.",
        examples=["Europe/Amsterdam"],
    )
    currency: str = Field(
        min_length=3,
        max_length=3,
        description="ISO 4217 code; the fee plan must price it.",
        examples=["EUR"],
    )
    language: str = Field(
        "en",
        max_length=8,
        description="The language of its emails: `en`, `nl`, `fi`, `sv` or `de`.",
        examples=["nl"],
    )
    owner_email: str | None = Field(
        None,
        max_length=150,
        description="Invited by email to choose a password for the merchant portal.",
        examples=["owner@trail-co.example"],
    )
    test_mode: bool = Field(
        False, description="A test merchant: never billed, drivable by API.", examples=[False]
    )
    terms: TermsIn | None = Field(None, description="Its contract terms; the defaults if left out.")


class MerchantPatchIn(Schema):
    name: str | None = Field(
        None, min_length=1, max_length=200, description="The shop's name.", examples=["Trail & Co"]
    )
    country: str | None = Field(
        None, min_length=2, max_length=2, description="ISO 3166 code.", examples=["NL"]
    )
    time_zone: str | None = Field(
        None, max_length=64, description="IANA name.", examples=["Europe/Amsterdam"]
    )
    currency: str | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="ISO 4217 code; only while the merchant has no orders.",
        examples=["EUR"],
    )
    language: str | None = Field(
        None, max_length=8, description="The language of its emails.", examples=["nl"]
    )
    owner_email: str | None = Field(
        None,
        max_length=150,
        description="Invite another owner by email.",
        examples=["owner@trail-co.example"],
    )
    test_mode: bool | None = Field(
        None, description="Only while the merchant has no orders.", examples=[False]
    )
    terms: TermsIn | None = Field(None, description="A new version of the contract terms.")


class TermsOut(Schema):
    """A version of a merchant's contract terms."""

    payment_dispute: bool = Field(
        description="The shop's orders can get payment disputes.", examples=[True]
    )
    buyer_protection: bool = Field(
        description="The shop's orders can carry buyer protection.", examples=[True]
    )
    dispute_window_days: int = Field(
        description="The merchant's time to answer a payment dispute, in days.", examples=[21]
    )
    dispute_window_day_count: str = Field(
        description="`calendar` or `working`.", examples=["calendar"]
    )
    protection_window_days: int = Field(
        description="The merchant's time to answer a buyer-protection case.", examples=[5]
    )
    fee_plan: str = Field(
        description="The fee plan its dispute fees come from.", examples=["standard"]
    )
    valid_from: date | None = Field(
        description="Its first day (UTC); null for the defaults.", examples=["2026-03-02"]
    )


class MerchantOut(Schema):
    """A merchant (a shop) with its contract terms."""

    slug: str = Field(description="Its slug: what `X-Merchant` names.", examples=["trail-co"])
    name: str = Field(description="The shop's name.", examples=["Trail & Co"])
    country: str = Field(description="ISO 3166 code.", examples=["NL"])
    time_zone: str = Field(description="IANA name.", examples=["Europe/Amsterdam"])
    currency: str = Field(description="ISO 4217 code.", examples=["EUR"])
    language: str = Field(description="The language of its emails.", examples=["nl"])
    test_mode: bool = Field(description="A test merchant.", examples=[False])
    platform_partner: str | None = Field(
        description="The slug of the platform partner that onboarded it, if one did.",
        examples=["shopbox"],
    )
    terms: TermsOut = Field(description="The terms in force now.")
    upcoming_terms: list[TermsOut] = Field(description="Versions that start later.")
    created_at: datetime = Field(
        description="When it was onboarded (UTC).", examples=["2026-03-02T09:12:44.120Z"]
    )


class MerchantListOut(Schema):
    data: list[MerchantOut] = Field(description="A page of merchants, oldest first.")
    next_cursor: str | None = Field(
        description="`cursor` for the next page; null on the last page.", examples=["42"]
    )


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
    response={201: MerchantOut},
    url_name="merchants",
    auth=requires(Scope.MERCHANTS_WRITE, merchant="none"),
    operation_id="create_merchant",
    summary="Onboard a merchant",
    openapi_extra=refusals(
        {
            409: ["`merchant_exists`: a merchant has this slug already."],
            422: [MERCHANT_REFUSED, TERMS_REFUSED],
        }
    ),
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
        None,
        max_length=100,
        description="`next_cursor` of the page before; left out for the first page.",
        examples=["42"],
    )
    limit: int = Field(50, ge=1, le=200, description="Merchants per page.", examples=[50])


@router.get(
    "",
    response={200: MerchantListOut},
    url_name="merchants-list",
    auth=requires(Scope.MERCHANTS_READ, merchant="none"),
    operation_id="list_merchants",
    summary="List merchants",
)
def list_merchants(request: HttpRequest, query: Query[MerchantListQuery]) -> Any:
    """The merchants this key acts for (every one for the operator, its own for a platform
    partner), oldest first, a page at a time."""
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
    response={200: MerchantOut},
    url_name="merchant",
    auth=requires(Scope.MERCHANTS_READ, merchant="none"),
    operation_id="get_merchant",
    summary="Get a merchant",
    openapi_extra=refusals({404: [MERCHANT_NOT_FOUND]}),
)
def get_merchant(request: HttpRequest, slug: MerchantSlug) -> Any:
    """One merchant, its terms in force and those that start later."""
    return merchant_out(_merchant(request, slug))


@router.patch(
    "/{slug}",
    response={200: MerchantOut},
    url_name="merchant-patch",
    auth=requires(Scope.MERCHANTS_WRITE, merchant="none"),
    operation_id="update_merchant",
    summary="Change a merchant or its terms",
    openapi_extra=refusals(
        {
            404: [MERCHANT_NOT_FOUND],
            422: [
                MERCHANT_REFUSED,
                TERMS_REFUSED,
                "`invalid`: a currency or test mode change for a merchant with orders.",
            ],
        }
    ),
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
