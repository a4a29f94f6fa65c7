"""API keys: made and revoked here; requests find theirs by the key's SHA-256.

A key is "dpk_live_" + 43 url-safe characters (32 random bytes). Only the hash and the first
characters (to tell keys apart in the portal) are stored; the key is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from disputes.models import Merchant, PlatformPartner

from .models import ApiKey, KeyOwner
from .scopes import ALLOWED_SCOPES, DEFAULT_SCOPES

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
    operator: bool = False,
    scopes: Iterable[str] | None = None,
    created_by_id: int | None = None,
) -> NewApiKey:
    """A key for the operator, a platform partner or a merchant (exactly one), with the scopes
    asked for (default: all its kind may have). Raises ValueError for anything else."""
    if sum((operator, merchant is not None, partner is not None)) != 1:
        raise ValueError("An API key acts for the operator, a platform partner or a merchant.")
    owner = KeyOwner.OPERATOR if operator else KeyOwner.PARTNER if partner else KeyOwner.MERCHANT
    allowed = ALLOWED_SCOPES[owner]
    wanted = set(DEFAULT_SCOPES[owner] if scopes is None else scopes)
    unknown = wanted - {scope.value for scope in allowed}
    if unknown:
        raise ValueError(f"A {owner} key cannot have these scopes: {', '.join(sorted(unknown))}.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name,
        owner_kind=owner,
        scopes=sorted(wanted),
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
    _known.pop(api_key.key_hash, None)  # this process stops at once; others within the cache time
    return api_key


# Each process keeps the keys it has found for settings.API_KEY_CACHE_SECONDS, so that most
# requests need no query to find theirs. A key revoked or changed elsewhere (another worker, the
# admin) stops working or changes within that time. Unknown keys are not kept.
_known: dict[str, tuple[ApiKey, datetime]] = {}
_KNOWN_MAX = 10_000  # keys kept per process before the cache starts again


def api_key_authenticate(key: str, *, now: datetime) -> ApiKey | None:
    """The active key with this value, its last use noted (at most once a minute); or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    digest = hash_key(key)
    known = _known.get(digest)
    if known is not None and now - known[1] < timedelta(seconds=settings.API_KEY_CACHE_SECONDS):
        api_key = known[0]
    else:
        try:
            # get(), not first(): the hash is unique, so there is no order to ask the database for.
            api_key = ApiKey.objects.select_related("merchant", "partner").get(
                key_hash=digest, revoked_at__isnull=True
            )
        except ApiKey.DoesNotExist:
            _known.pop(digest, None)
            return None
        if len(_known) >= _KNOWN_MAX:
            _known.clear()
        _known[digest] = (api_key, now)
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
