"""Webhook delivery rules: how often and how long a failing receiver is retried."""

from datetime import datetime, timedelta

# Webhooks: receivers go down for maintenance, so they are retried for longer than email.
WEBHOOK_FIRST_RETRY = timedelta(seconds=30)
WEBHOOK_LONGEST_WAIT = timedelta(hours=8)
WEBHOOK_RETRY_PERIOD = timedelta(days=3)


def webhook_retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s, 1, 2, 4 ... minutes after each failed attempt, at most 8 hours."""
    doublings = min(max(attempts - 1, 0), 20)
    return min(WEBHOOK_FIRST_RETRY * (2**doublings), WEBHOOK_LONGEST_WAIT)


def webhook_next_attempt_at(
    *, first_queued_at: datetime, attempts: int, now: datetime
) -> datetime | None:
    """When to retry a failed webhook: backoff, with a last try exactly three days after it was
    queued; None (give up) once those three days are over."""
    deadline = first_queued_at + WEBHOOK_RETRY_PERIOD
    if now >= deadline:
        return None
    return min(now + webhook_retry_delay(attempts), deadline)


def webhook_endpoint_fails_for_good(*, failing_since: datetime, now: datetime) -> bool:
    """An endpoint that failed every attempt for three days is disabled."""
    return now - failing_since >= WEBHOOK_RETRY_PERIOD
