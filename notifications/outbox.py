"""Writing new outbox rows: every message a change causes, in one statement.

On PostgreSQL the whole batch travels as one JSON document, unpacked by jsonb_to_recordset:
bulk_create would send each column as an array, and the driver escapes every message's JSON
context character by character for that, which cost more than everything else a deadline sweep
does per case. Elsewhere (SQLite, for the embedded run) bulk_create does the same.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection

from .models import OutboxMessage

_COLUMNS = {
    "dedupe_key": "text",
    "channel": "text",
    "kind": "text",
    "recipient": "text",
    "language": "text",
    "time_zone": "text",
    "dispute_id": "bigint",
    "context": "jsonb",
    "status": "text",
    "attempts": "integer",
    "next_attempt_at": "timestamptz",
    "last_error": "text",
    "created_at": "timestamptz",
}
_NAMES = ", ".join(_COLUMNS)
_INSERT = (
    f"INSERT INTO {OutboxMessage._meta.db_table} ({_NAMES})"  # noqa: S608 - fixed names only
    f" SELECT {_NAMES} FROM jsonb_to_recordset(%s::jsonb)"
    f" AS r({', '.join(f'{name} {kind}' for name, kind in _COLUMNS.items())})"
    " ON CONFLICT DO NOTHING"
)


def insert_new(messages: Sequence[OutboxMessage]) -> None:
    """Insert the messages whose dedupe key is not in the outbox yet; skip the others."""
    if not messages:
        return
    if connection.vendor != "postgresql":
        OutboxMessage.objects.bulk_create(messages, ignore_conflicts=True)
        return
    rows = [
        {
            "dedupe_key": m.dedupe_key,
            "channel": m.channel,
            "kind": m.kind,
            "recipient": m.recipient,
            "language": m.language,
            "time_zone": m.time_zone,
            "dispute_id": m.dispute_id,
            "context": m.context,
            "status": m.status,
            "attempts": m.attempts,
            "next_attempt_at": m.next_attempt_at.isoformat(),
            "last_error": m.last_error,
            "created_at": m.created_at.isoformat(),
        }
        for m in messages
    ]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, [json.dumps(rows)])
