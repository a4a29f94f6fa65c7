"""Delivery rules: how often and how long the outbox retries."""

from datetime import timedelta

MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 1, 2, 4, 8 ... minutes after each failed attempt, at most 6 hours."""
    doublings = min(max(attempts - 1, 0), 16)  # capped before multiplying: no overflow
    return min(FIRST_RETRY * (2**doublings), LONGEST_WAIT)


def gives_up(attempts: int) -> bool:
    return attempts >= MAX_ATTEMPTS
