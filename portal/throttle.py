"""Failed portal sign-ins, counted and refused before any password is checked."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from disputes_portal.ratelimit import client_ip, hit


@dataclass(frozen=True)
class LoginThrottle:
    """Failed sign-ins counted per client address and per address + email; successes never count.

    `count_failure()` counts one; once a counter reaches its limit, a marker blocks further
    attempts until the counter's window ends, so a blocked client is refused before any
    password check.
    """

    limits: tuple[tuple[str, int], ...]  # (counter key, failures allowed per window)
    window: int

    @classmethod
    def for_request(cls, request: HttpRequest) -> LoginThrottle:
        address = client_ip(request)
        email = str(request.POST.get("username", "")).strip().lower()
        email_digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return cls(
            limits=(
                (f"login-failure:{address}:{email_digest}", settings.LOGIN_FAILURE_LIMIT),
                (f"login-failure:{address}", settings.LOGIN_FAILURE_ADDRESS_LIMIT),
            ),
            window=settings.LOGIN_FAILURE_WINDOW,
        )

    def retry_after(self) -> int:
        """Seconds until this client may try again; 0 when it may try now."""
        blocked_until = max(cache.get(f"{key}:blocked-until", 0) for key, _limit in self.limits)
        return max(0, math.ceil(blocked_until - time.time()))

    def count_failure(self) -> None:
        for key, limit in self.limits:
            # Counted against limit - 1, a refusal means this failure was the last one allowed.
            verdict = hit(key, limit=limit - 1, window=self.window)
            if not verdict.allowed:
                cache.set(
                    f"{key}:blocked-until",
                    time.time() + verdict.retry_after,
                    timeout=verdict.retry_after + 1,
                )


def too_many_attempts(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(
        request,
        "rate_limited.html",
        {"retry_minutes": max(1, math.ceil(retry_after / 60))},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response
