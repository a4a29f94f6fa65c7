"""The outbox: queue messages inside the caller's transaction, deliver them after commit."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import Channel, DeliveryStatus, OutboxMessage
from .outbox import NewMessage, insert_new
from .registry import DeliveryDeferred, sender_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailNotice:
    kind: str
    recipient: str
    dedupe_key: str
    language: str = "en"
    time_zone: str = "UTC"
    dispute_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)


def recipient_key(recipient: str) -> str:
    """The part of a dedupe key that names a recipient, without writing their address into it."""
    return hashlib.sha256(recipient.lower().encode()).hexdigest()[:24]


def outbox_enqueue(*, notices: Sequence[EmailNotice], now: datetime) -> None:
    """Write the notices in the current transaction; ask a worker to send them after commit.

    A notice whose dedupe key exists already is skipped, so a retried job queues nothing twice.
    """
    outbox_write(
        [
            NewMessage(
                dedupe_key=notice.dedupe_key,
                channel=Channel.EMAIL,
                kind=notice.kind,
                recipient=notice.recipient,
                language=notice.language,
                time_zone=notice.time_zone,
                dispute_id=notice.dispute_id,
                context=notice.context,
            )
            for notice in notices
        ],
        now=now,
    )


def outbox_write(messages: Sequence[NewMessage], *, now: datetime) -> None:
    """Write messages of any channel in the current transaction (those whose dedupe key is
    there already are skipped); a worker is asked to deliver them after commit."""
    if not messages:
        return
    insert_new(messages, now=now)
    transaction.on_commit(request_delivery)


def request_delivery() -> None:
    # A broker outage must not fail the user's request: the rows are committed and the
    # periodic delivery job sends them when the broker is back.
    from .tasks import deliver_outbox

    try:
        deliver_outbox.delay()
    except Exception:
        logger.warning(
            "Broker unavailable; outbox delivery left to the periodic job", exc_info=True
        )


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def outbox_deliver_due(*, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
    """Send pending messages whose time has come, each claimed with SKIP LOCKED.

    Each message is sent and marked in its own short transaction, so two workers never send the
    same row and a crash loses at most the one message in flight (sent again, never lost).
    """
    report = DeliveryReport()
    now = now or timezone.now()
    due_ids = list(
        OutboxMessage.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for message_id in due_ids:
        outcome = outbox_deliver_one(message_id=message_id, now=now)
        if outcome == "sent":
            report.sent += 1
        elif outcome == "retry":
            report.retried += 1
        elif outcome == "failed":
            report.failed += 1
    return report


def outbox_deliver_one(*, message_id: int, now: datetime | None = None) -> str:
    now = now or timezone.now()
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            return "skipped"  # sent, claimed by another worker, or not due
        try:
            _send(message)
        except DeliveryDeferred as deferral:
            message.next_attempt_at = deferral.until
            message.save(update_fields=["next_attempt_at"])
            return "deferred"
        except Exception as error:
            logger.warning("Outbox message %s not sent: %s", message.pk, error)
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            next_attempt_at = _next_attempt_at(message, error, now=now)
            if next_attempt_at is None:
                message.status = DeliveryStatus.FAILED
                outcome = "failed"
                logger.error("Outbox message %s failed for good: %s", message.pk, error)
            else:
                message.next_attempt_at = next_attempt_at
                outcome = "retry"
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return outcome
        message.attempts += 1
        message.status = DeliveryStatus.SENT
        message.sent_at = timezone.now()
        message.last_error = ""
        message.save(update_fields=["attempts", "status", "sent_at", "last_error"])
        return "sent"


def outbox_retry(*, message_ids: Sequence[int], now: datetime | None = None) -> int:
    """Put failed messages back in the queue (the admin's "send again")."""
    now = now or timezone.now()
    count = OutboxMessage.objects.filter(pk__in=message_ids, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, last_error=""
    )
    if count:
        transaction.on_commit(request_delivery)
    return count


def _next_attempt_at(message: OutboxMessage, error: Exception, *, now: datetime) -> datetime | None:
    """When to try a failed message again; None when the channel's sender gives up."""
    return sender_for(message.channel).next_attempt_at(message, error, now)


def _send(message: OutboxMessage) -> None:
    sender_for(message.channel).send(message)
