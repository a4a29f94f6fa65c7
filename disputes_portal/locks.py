"""One run at a time of a periodic job, across processes, through the shared cache (Redis).

Correctness never depends on this lock: every job is idempotent and claims rows with
SKIP LOCKED. The lock only keeps a second beat (started by mistake) from doubling the work:
the run that finds the lock taken skips its tick.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.cache import cache

T = TypeVar("T")
SKIPPED = "skipped: another run holds the lock"


@contextmanager
def single_flight(name: str, *, ttl: int) -> Iterator[bool]:
    """Yields True for the one holder of `name`; the lock expires after `ttl` seconds at most,
    so a killed worker never blocks the job for longer than that."""
    key = f"lock:{name}"
    token = uuid.uuid4().hex
    acquired = bool(cache.add(key, token, timeout=ttl))
    try:
        yield acquired
    finally:
        if acquired and cache.get(key) == token:
            cache.delete(key)


def one_at_a_time(name: str, *, ttl: int = 600) -> Callable[[Callable[..., T]], Callable[..., Any]]:
    def decorator(job: Callable[..., T]) -> Callable[..., Any]:
        @functools.wraps(job)
        def run(*args: Any, **kwargs: Any) -> Any:
            with single_flight(name, ttl=ttl) as mine:
                if not mine:
                    return SKIPPED
                return job(*args, **kwargs)

        return run

    return decorator
