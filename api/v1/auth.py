"""Who calls: the API key in `Authorization: Bearer ...`, what it may do, and for whom.

Every operation names the scope it needs (`requires`). A merchant's key acts for that merchant;
a platform partner's key for the merchants it onboarded, and the operator's key for every
merchant: both name the one they act for in the `X-Merchant` header (or `merchant` query).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from disputes.actors import Actor
from disputes.choices import ActorKind
from disputes.models import Merchant
from disputes_portal.ratelimit import hit

from ..keys import api_key_authenticate
from ..models import ApiKey, KeyOwner
from ..scopes import Scope
from .errors import (
    MerchantNotAllowed,
    MerchantNotFound,
    MerchantRequired,
    MissingScope,
    RateLimited,
)

MERCHANT_HEADER = "X-Merchant"
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")

# Whether an operation acts for one merchant ("required"), may be narrowed to one ("optional",
# e.g. the instruction feed), or is about merchants themselves ("none").
MerchantContext = Literal["required", "optional", "none"]


def _chosen_merchant_slug(request: HttpRequest) -> str:
    chosen = (request.headers.get(MERCHANT_HEADER) or request.GET.get("merchant") or "").strip()
    if chosen and not _SLUG.fullmatch(chosen):
        raise MerchantNotAllowed(field=MERCHANT_HEADER)
    return chosen


class ApiKeyAuth(HttpBearer):
    """A live key, within its rate limit, with the operation's scope; sets `request.merchant`
    to the merchant it acts for (or None where the operation needs none)."""

    def __init__(self, scope: Scope | None, *, merchant: MerchantContext = "required") -> None:
        # None: an operation nobody declared a scope for, refused to every key (fail closed).
        super().__init__()
        self.scope = scope
        self.merchant_context = merchant

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        api_key = api_key_authenticate(token, now=timezone.now())
        if api_key is None:
            return None
        verdict = hit(
            f"api-key:{api_key.pk}",
            limit=settings.API_RATE_LIMIT,
            window=settings.API_RATE_WINDOW,
        )
        if not verdict.allowed:
            raise RateLimited(verdict.retry_after)
        if self.scope is None or self.scope not in api_key.scopes:
            raise MissingScope(self.scope or "(undeclared)")
        request.merchant = self._merchant(api_key, request)  # type: ignore[attr-defined]
        return api_key

    def _merchant(self, api_key: ApiKey, request: HttpRequest) -> Merchant | None:
        chosen = _chosen_merchant_slug(request) if self.merchant_context != "none" else ""
        if api_key.owner_kind == KeyOwner.MERCHANT:
            merchant = api_key.merchant
            if chosen and merchant is not None and chosen != merchant.slug:
                raise MerchantNotAllowed(field=MERCHANT_HEADER)
            return merchant
        if not chosen:
            if self.merchant_context == "required":
                raise MerchantRequired(field=MERCHANT_HEADER)
            return None
        merchants = Merchant.objects.filter(slug=chosen)
        if api_key.owner_kind == KeyOwner.PARTNER:
            # Another partner's merchant and an unknown one are the same to a partner.
            found = merchants.filter(platform_partner_id=api_key.partner_id).first()
            if found is None:
                raise MerchantNotAllowed(field=MERCHANT_HEADER)
            return found
        found = merchants.first()
        if found is None:
            raise MerchantNotFound(field=MERCHANT_HEADER)
        return found


def requires(scope: Scope, *, merchant: MerchantContext = "required") -> list[ApiKeyAuth]:
    """The `auth` of an operation that needs `scope`."""
    return [ApiKeyAuth(scope, merchant=merchant)]


def request_key(request: HttpRequest) -> ApiKey:
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    return api_key


def request_merchant(request: HttpRequest) -> Merchant:
    merchant: Merchant | None = request.merchant  # type: ignore[attr-defined]
    if merchant is None:  # only operations declared with merchant="required" call this
        raise MerchantRequired(field=MERCHANT_HEADER)
    return merchant


def request_merchant_or_none(request: HttpRequest) -> Merchant | None:
    merchant: Merchant | None = request.merchant  # type: ignore[attr-defined]
    return merchant


def request_actor(request: HttpRequest) -> Actor:
    api_key = request_key(request)
    merchant_id = request_merchant(request).pk
    return Actor(ActorKind.MERCHANT, id=f"api:{api_key.prefix}", merchant_id=merchant_id)
