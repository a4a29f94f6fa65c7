"""Writing new outbox rows: every message a change causes, in one statement.

On PostgreSQL the whole batch travels as one JSON document, unpacked by jsonb_to_recordset:
bulk_create would send each column as an array, and the driver escapes every message's JSON
context character by character for that, which cost more than everything else a deadline sweep
does per case. Elsewhere (SQLite, for the embedded run) bulk_create does the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from django.db import connection

from .models import DeliveryStatus, OutboxMessage


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An outbox row to write (a plain object: a sweep makes tens of thousands)."""

    dedupe_key: str
    channel: str
    kind: str
    recipient: str
    dispute_id: int | None
    context: dict[str, Any]
    language: str = "en"
    time_zone: str = "UTC"


_COLUMNS = {
    "dedupe_key": "text",
    "channel": "text",
    "kind": "text",
    "recipient": "text",
    "dispute_id": "bigint",
    "context": "jsonb",
    "language": "text",
    "time_zone": "text",
}
_NAMES = ", ".join(_COLUMNS)
assert set(_COLUMNS) == {f.name for f in fields(NewMessage)}  # noqa: S101 - one list of columns


def _row(message: NewMessage) -> dict[str, Any]:
    # Not dataclasses.asdict: it deep-copies every context, which cost more than the insert.
    return {name: getattr(message, name) for name in _COLUMNS}


_INSERT = (
    f"INSERT INTO {OutboxMessage._meta.db_table}"  # noqa: S608 - fixed names only
    f" ({_NAMES}, status, attempts, last_error, next_attempt_at, created_at)"
    f" SELECT {_NAMES}, %s, 0, '', %s, %s FROM jsonb_to_recordset(%s::jsonb)"
    f" AS r({', '.join(f'{name} {kind}' for name, kind in _COLUMNS.items())})"
    " ON CONFLICT DO NOTHING"
)


def insert_new(messages: Sequence[NewMessage], *, now: datetime) -> None:
    """Insert the messages, due now, whose dedupe key is not in the outbox yet; skip the others."""
    if not messages:
        return
    if connection.vendor != "postgresql":
        OutboxMessage.objects.bulk_create(
            [OutboxMessage(**_row(m), next_attempt_at=now, created_at=now) for m in messages],
            ignore_conflicts=True,
        )
        return
    document = json.dumps([_row(m) for m in messages])
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [DeliveryStatus.PENDING.value, now, now, document])
