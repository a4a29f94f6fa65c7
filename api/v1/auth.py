"""Who calls: the API key in `Authorization: Bearer ...`, and the merchant it acts for."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from disputes.actors import Actor
from disputes.choices import ActorKind
from disputes.models import Merchant
from disputes_portal.ratelimit import hit

from ..keys import api_key_authenticate
from .errors import MerchantNotAllowed, MerchantRequired, RateLimited

MERCHANT_HEADER = "X-Merchant"
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


def _chosen_merchant_slug(request: HttpRequest) -> str:
    chosen = (request.headers.get(MERCHANT_HEADER) or request.GET.get("merchant") or "").strip()
    if chosen and not _SLUG.fullmatch(chosen):
        raise MerchantNotAllowed(field=MERCHANT_HEADER)
    return chosen


class ApiKeyAuth(HttpBearer):
    """A live key, within its rate limit; sets `request.merchant` to the merchant it acts for."""

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
        chosen = _chosen_merchant_slug(request)
        merchant: Merchant | None
        if api_key.merchant is not None:
            merchant = api_key.merchant
            if chosen and chosen != merchant.slug:
                raise MerchantNotAllowed(field=MERCHANT_HEADER)
        else:
            if not chosen:
                raise MerchantRequired(field=MERCHANT_HEADER)
            merchant = Merchant.objects.filter(
                slug=chosen, platform_partner=api_key.partner
            ).first()
            if merchant is None:
                raise MerchantNotAllowed(field=MERCHANT_HEADER)
        request.merchant = merchant  # type: ignore[attr-defined]
        return api_key


def request_merchant(request: HttpRequest) -> Merchant:
    merchant: Merchant = request.merchant  # type: ignore[attr-defined]
    return merchant


def request_actor(request: HttpRequest) -> Actor:
    api_key = request.auth  # type: ignore[attr-defined]
    merchant_id = request_merchant(request).pk
    return Actor(ActorKind.MERCHANT, id=f"api:{api_key.prefix}", merchant_id=merchant_id)
