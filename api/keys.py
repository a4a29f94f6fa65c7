"""API keys: made and revoked here; requests find theirs by the key's SHA-256.

A key is "dpk_live_" + 43 url-safe characters (32 random bytes). Only the hash and the first
characters (to tell keys apart in the portal) are stored; the key is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from disputes.models import Merchant, PlatformPartner

from .models import ApiKey

KEY_PREFIX = "dpk_live_"
_SHOWN_CHARACTERS = len(KEY_PREFIX) + 6
# last_used_at is written at most this often: not one write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    key: str  # shown once, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *,
    name: str,
    now: datetime,
    merchant: Merchant | None = None,
    partner: PlatformPartner | None = None,
    created_by_id: int | None = None,
) -> NewApiKey:
    if (merchant is None) == (partner is None):
        raise ValueError("An API key belongs to a merchant or to a platform partner.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name,
        merchant=merchant,
        partner=partner,
        prefix=key[:_SHOWN_CHARACTERS],
        key_hash=hash_key(key),
        created_by_id=created_by_id,
        created_at=now,
    )
    return NewApiKey(api_key=api_key, key=key)


def api_key_revoke(*, api_key: ApiKey, now: datetime) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = now
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(key: str, *, now: datetime) -> ApiKey | None:
    """The active key with this value, its last use noted (at most once a minute); or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    try:
        # get(), not first(): the hash is unique, so there is no order to ask the database for.
        api_key = ApiKey.objects.select_related("merchant", "partner").get(
            key_hash=hash_key(key), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    stale = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is None or api_key.last_used_at < stale:
        # Conditional, so concurrent requests of the same minute write once.
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def api_keys_for_merchant(merchant: Merchant) -> list[ApiKey]:
    return list(ApiKey.objects.filter(merchant=merchant).order_by("-created_at", "-id"))
