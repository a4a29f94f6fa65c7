"""Who delivers each channel's messages: a registry the apps fill from `AppConfig.ready()`.

The outbox knows nothing of what it carries. For each channel an app registers a `Sender`:
`send` makes one attempt at one message and raises to fail it; `next_attempt_at` says when to
try again after a failure, or None to give up (the message is then marked failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import OutboxMessage


class DeliveryDeferred(Exception):
    """Not now, and not a failure: try again at `until` (e.g. an earlier message of the same
    order is not delivered yet). The attempt is not counted."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"deferred until {until.isoformat()}")
        self.until = until


@dataclass(frozen=True)
class Sender:
    send: Callable[[OutboxMessage], None]
    next_attempt_at: Callable[[OutboxMessage, Exception, datetime], datetime | None]


_SENDERS: dict[str, Sender] = {}


def register_sender(channel: str, sender: Sender) -> None:
    _SENDERS[channel] = sender


def sender_for(channel: str) -> Sender:
    try:
        return _SENDERS[channel]
    except KeyError:
        raise LookupError(f"No sender is registered for the {channel!r} channel.") from None
