"""The timeline's hash chain: each event's hash covers the previous event's hash and the
event itself, so `verify_timeline` finds a row that was altered, removed or slipped in.

The personal text of an event (its message, a customer's id, the text given for a checklist
item) enters the hash only as its own digest, `personal_digest`. The retention policy may
replace that text by `MARKER` (the one change the timeline allows); the digest stays, so the
chain stays whole and still proves that nothing else changed.

What is hashed must never change: old chains are verified with this same code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db.models import OuterRef, Subquery

from ..choices import ActorKind

MARKER = "[removed]"
_VERSION = 1


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _is_customer(event: Any) -> bool:
    return event.actor_kind == ActorKind.CUSTOMER


def _items(data: dict[str, Any]) -> list[Any]:
    items = data.get("items") if isinstance(data, dict) else None
    return items if isinstance(items, list) else []


def personal_text(event: Any) -> dict[str, Any]:
    """What the retention policy removes from an event."""
    return {
        "message": event.message,
        "actor_id": event.actor_id if _is_customer(event) else "",
        "items": [
            item.get("value") if isinstance(item, dict) else item for item in _items(event.data)
        ],
    }


def redacted_data(data: dict[str, Any]) -> dict[str, Any]:
    """The event's data with the text given for each checklist item replaced by the marker."""
    if not _items(data):
        return data
    items = [
        {**item, "value": MARKER} if isinstance(item, dict) and "value" in item else item
        for item in _items(data)
    ]
    return {**data, "items": items}


def digest_of_personal_text(event: Any) -> str:
    return hashlib.sha256(_canonical(personal_text(event))).hexdigest()


def event_hash(event: Any, *, previous_hash: str, personal_digest: str) -> str:
    body = {
        "v": _VERSION,
        "previous": previous_hash,
        "dispute": event.dispute_id,
        "type": event.event_type,
        "actor_kind": event.actor_kind,
        "actor_id": "" if _is_customer(event) else event.actor_id,
        "visibility": event.visibility,
        "at": event.created_at.astimezone(UTC).isoformat(),
        "data": redacted_data(event.data),
        "personal": personal_digest,
    }
    return hashlib.sha256(_canonical(body)).hexdigest()


def heads(dispute_ids: Iterable[int]) -> dict[int, str]:
    """The hash of each case's last event: one query for a whole batch of cases."""
    from ..models import Dispute, DisputeEvent

    last = DisputeEvent.objects.filter(dispute_id=OuterRef("pk")).order_by("-id").values("hash")
    rows = Dispute.objects.filter(pk__in=set(dispute_ids)).annotate(head=Subquery(last[:1]))
    return {pk: head or "" for pk, head in rows.values_list("pk", "head")}


def link(events: Sequence[Any]) -> None:
    """Chain unsaved events onto their cases' timelines (in order: a batch may hold several
    events of one case). The caller holds the cases' row locks, so no other event of these
    cases is being written at the same time."""
    if not events:
        return
    for event in events:  # a case saved after its event was made: take its id now
        event.dispute_id = event.dispute.pk
    head = heads(event.dispute_id for event in events)
    for event in events:
        event.personal_digest = digest_of_personal_text(event)
        event.previous_hash = head[event.dispute_id]
        event.hash = event_hash(
            event, previous_hash=event.previous_hash, personal_digest=event.personal_digest
        )
        head[event.dispute_id] = event.hash


@dataclass(frozen=True)
class Break:
    """Where a case's chain does not hold: the event and what is wrong with it."""

    dispute_id: int
    event_id: int
    problem: str


def check(events: Iterable[Any]) -> list[Break]:
    """Check the chains of the given events, ordered by case, then by id (insertion order)."""
    found: list[Break] = []
    case: int | None = None
    previous = ""
    for event in events:
        if event.dispute_id != case:
            case, previous = event.dispute_id, ""
        problem = _problem(event, previous)
        if problem:
            found.append(Break(event.dispute_id, event.id, problem))
        previous = event.hash
    return found


def _problem(event: Any, previous: str) -> str:
    if not event.hash:
        return "not chained (no hash)"
    if event.previous_hash != previous:
        return "does not follow the event before it (an event was removed, inserted or reordered)"
    if event.redacted_at is None:
        if digest_of_personal_text(event) != event.personal_digest:
            return "its text was changed"
    elif not _redacted_as_allowed(event):
        return "its text was changed after it was removed"
    expected = event_hash(event, previous_hash=previous, personal_digest=event.personal_digest)
    if expected != event.hash:
        return "its content does not match its hash"
    return ""


def _redacted_as_allowed(event: Any) -> bool:
    return event.message in ("", MARKER) and all(
        not isinstance(item, dict) or item.get("value", MARKER) == MARKER
        for item in _items(event.data)
    )
