"""Fixed-window rate limits in the cache (Redis in production), keyed by client and scope."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int


def client_ip(request: HttpRequest) -> str:
    """The client's address; behind N trusted proxies, the N-th address from the right."""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR", "unknown"))


def hit(key: str, *, limit: int, window: int) -> Verdict:
    """Count one attempt against `key`; refuse once `limit` attempts fall in this window."""
    now = int(time.time())
    window_start = now - now % window
    count = _count(f"ratelimit:{key}:{window_start}", timeout=window + 1)
    return Verdict(allowed=count <= limit, retry_after=window_start + window - now)


def _count(bucket: str, *, timeout: int) -> int:
    """Add one to the window's counter, creating it (with its expiry) if it is the first."""
    client = _redis_client(bucket)
    if client is not None:
        # One round trip: SET NX creates the counter with its expiry (atomically, so only one
        # attempt creates it), INCR counts; a pipeline sends both at once.
        name = cache.make_and_validate_key(bucket)
        pipeline = client.pipeline(transaction=False)
        pipeline.set(name, 0, ex=timeout, nx=True)
        pipeline.incr(name)
        return int(pipeline.execute()[1])
    try:  # other cache backends (the embedded default): increment first, create if missing
        return int(cache.incr(bucket))
    except ValueError:  # the window's first attempt, or the counter just expired
        return 1 if cache.add(bucket, 1, timeout=timeout) else int(cache.incr(bucket))


def _redis_client(key: str) -> Any:
    """The redis-py client behind Django's Redis cache, or None for another backend. Django
    stores integers in Redis as plain numbers, so INCR here and cache.get agree."""
    backend = caches["default"]  # the backend itself: `cache` is a proxy to it
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(key, write=True)


def rate_limited(
    scope: str, *, limit_setting: str, window_setting: str, methods: tuple[str, ...] = ("POST",)
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Limit a view per client address; a limited client gets a clear 429 page.

    The limit and window are the named settings, read on each request.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in methods:
                verdict = hit(
                    f"{scope}:{client_ip(request)}",
                    limit=getattr(settings, limit_setting),
                    window=getattr(settings, window_setting),
                )
                if not verdict.allowed:
                    response = render(
                        request,
                        "rate_limited.html",
                        {"retry_minutes": max(1, -(-verdict.retry_after // 60))},
                        status=429,
                    )
                    response["Retry-After"] = str(verdict.retry_after)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
