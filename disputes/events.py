"""One function per timeline event type (unsaved; services record them in their transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .actors import Actor
from .choices import EventType, Party, Visibility
from .models import Dispute, DisputeEvent
from .privacy import chain


def _event(
    dispute: Dispute,
    event_type: EventType,
    *,
    actor: Actor,
    now: datetime,
    message: str = "",
    visibility: Visibility = Visibility.BOTH,
    data: dict[str, Any] | None = None,
) -> DisputeEvent:
    return DisputeEvent(
        dispute=dispute,
        event_type=event_type,
        actor_kind=actor.kind,
        actor_id=actor.id,
        message=message,
        visibility=visibility,
        data=data or {},
        created_at=now,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _with_items(data: dict[str, Any], items: Sequence[dict[str, str]]) -> dict[str, Any]:
    # The checklist items given with the event: {"item": key, "value": text}; documents that
    # prove an item are the event's attachments, tagged with it.
    if items:
        data["items"] = list(items)
    return data


def opened(
    dispute: Dispute, *, actor: Actor, now: datetime, items: Sequence[dict[str, str]] = ()
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.OPENED,
        actor=actor,
        now=now,
        message=dispute.customer_message,
        data=_with_items({"program": dispute.program, "reason": dispute.reason}, items),
    )


def merchant_window_started(dispute: Dispute, *, actor: Actor, now: datetime) -> DisputeEvent:
    return _event(
        dispute,
        EventType.MERCHANT_WINDOW_STARTED,
        actor=actor,
        now=now,
        data={"due_at": _iso(dispute.due_at)},
    )


def escalated(dispute: Dispute, *, actor: Actor, now: datetime, cause: str) -> DisputeEvent:
    return _event(dispute, EventType.ESCALATED, actor=actor, now=now, data={"cause": cause})


def offer_made(
    dispute: Dispute,
    *,
    actor: Actor,
    now: datetime,
    message: str,
    items: Sequence[dict[str, str]] = (),
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.OFFER_MADE,
        actor=actor,
        now=now,
        message=message,
        data=_with_items(
            {
                "refund_offer": dispute.refund_offer,
                "amount": str(dispute.refund_offer_amount),
                "due_at": _iso(dispute.due_at),
            },
            items,
        ),
    )


def dispute_accepted(
    dispute: Dispute, *, actor: Actor, now: datetime, message: str
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.DISPUTE_ACCEPTED,
        actor=actor,
        now=now,
        message=message,
        data={"amount": str(dispute.settled_amount)},
    )


def customer_replied(
    dispute: Dispute, *, actor: Actor, now: datetime, reply: str, message: str
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.CUSTOMER_REPLIED,
        actor=actor,
        now=now,
        message=message,
        data={"reply": reply},
    )


def resolved(dispute: Dispute, *, actor: Actor, now: datetime, cause: str) -> DisputeEvent:
    return _event(
        dispute,
        EventType.RESOLVED,
        actor=actor,
        now=now,
        data={"cause": cause, "amount": str(dispute.settled_amount)},
    )


def _visible_to(party: Party) -> Visibility:
    return Visibility.MERCHANT if party == Party.MERCHANT else Visibility.CUSTOMER


def info_requested(
    dispute: Dispute, *, actor: Actor, now: datetime, party: Party, message: str
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.INFO_REQUESTED,
        actor=actor,
        now=now,
        message=message,
        visibility=_visible_to(party),
        data={"party": party, "due_at": _iso(dispute.due_at)},
    )


def info_provided(
    dispute: Dispute,
    *,
    actor: Actor,
    now: datetime,
    party: Party,
    message: str,
    items: Sequence[dict[str, str]] = (),
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.INFO_PROVIDED,
        actor=actor,
        now=now,
        message=message,
        visibility=_visible_to(party),
        data=_with_items({"party": party}, items),
    )


def evidence_added(
    dispute: Dispute,
    *,
    actor: Actor,
    now: datetime,
    party: Party,
    message: str,
    items: Sequence[dict[str, str]],
) -> DisputeEvent:
    # Evidence is for support: the author and support see it, the other side does not.
    return _event(
        dispute,
        EventType.EVIDENCE_ADDED,
        actor=actor,
        now=now,
        message=message,
        visibility=_visible_to(party),
        data=_with_items({"party": party}, items),
    )


def info_request_expired(
    dispute: Dispute, *, actor: Actor, now: datetime, party: Party
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.INFO_REQUEST_EXPIRED,
        actor=actor,
        now=now,
        visibility=_visible_to(party),
        data={"party": party},
    )


def _decision_data(dispute: Dispute, record: Sequence[dict[str, str]] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": dispute.decision_code}
    if dispute.override_reason:
        data["override"] = dispute.override_reason
    if record is not None:
        data["record"] = list(record)
    return data


def decided(
    dispute: Dispute,
    *,
    actor: Actor,
    now: datetime,
    record: Sequence[dict[str, str]] | None = None,
) -> DisputeEvent:
    """`record` is support's weighing of each evidence item (absent when the rules decided)."""
    return _event(
        dispute,
        EventType.DECIDED,
        actor=actor,
        now=now,
        message=dispute.decision_reason,
        data={
            "outcome": dispute.outcome,
            "amount": str(dispute.settled_amount),
            **_decision_data(dispute, record),
        },
    )


def message(
    dispute: Dispute, *, actor: Actor, now: datetime, message: str, for_support: bool = False
) -> DisputeEvent:
    visibility = Visibility.BOTH
    if for_support:
        visibility = _visible_to(Party(actor.kind))
    return _event(
        dispute, EventType.MESSAGE, actor=actor, now=now, message=message, visibility=visibility
    )


def withdrawn(dispute: Dispute, *, actor: Actor, now: datetime, message: str) -> DisputeEvent:
    return _event(dispute, EventType.WITHDRAWN, actor=actor, now=now, message=message)


def reminder_sent(
    dispute: Dispute, *, actor: Actor, now: datetime, party: Party, days_left: int
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.REMINDER_SENT,
        actor=actor,
        now=now,
        visibility=_visible_to(party),
        data={"party": party, "days_left": days_left, "due_at": _iso(dispute.due_at)},
    )


def record(events: Sequence[DisputeEvent]) -> list[DisputeEvent]:
    """Chain the events onto their timelines and insert them in one statement; the returned
    objects carry their ids."""
    events = list(events)
    chain.link(events)
    return DisputeEvent.objects.bulk_create(events)


def assigned(dispute: Dispute, *, actor: Actor, now: datetime, assignee: str) -> DisputeEvent:
    return _event(
        dispute,
        EventType.ASSIGNED,
        actor=actor,
        now=now,
        visibility=Visibility.STAFF,
        data={"assignee": assignee},
    )


def return_decided(
    dispute: Dispute, *, actor: Actor, now: datetime, record: Sequence[dict[str, str]]
) -> DisputeEvent:
    return _event(
        dispute,
        EventType.RETURN_DECIDED,
        actor=actor,
        now=now,
        message=dispute.decision_reason,
        data={
            "amount": str(dispute.refund_offer_amount),
            "due_at": _iso(dispute.due_at),
            **_decision_data(dispute, record),
        },
    )


def return_shipped(dispute: Dispute, *, actor: Actor, now: datetime, message: str) -> DisputeEvent:
    return _event(
        dispute,
        EventType.RETURN_SHIPPED,
        actor=actor,
        now=now,
        message=message,
        data={"due_at": _iso(dispute.due_at)},
    )


def return_received(dispute: Dispute, *, actor: Actor, now: datetime, message: str) -> DisputeEvent:
    return _event(dispute, EventType.RETURN_RECEIVED, actor=actor, now=now, message=message)


def return_expired(dispute: Dispute, *, actor: Actor, now: datetime, shipped: bool) -> DisputeEvent:
    return _event(
        dispute, EventType.RETURN_EXPIRED, actor=actor, now=now, data={"shipped": shipped}
    )


def appealed(dispute: Dispute, *, actor: Actor, now: datetime, message: str) -> DisputeEvent:
    # What the merchant adds is for support; the customer learns only that it was appealed.
    return _event(
        dispute,
        EventType.APPEALED,
        actor=actor,
        now=now,
        message=message,
        visibility=Visibility.MERCHANT,
    )


def reopened(dispute: Dispute, *, actor: Actor, now: datetime, reason: str) -> DisputeEvent:
    # Both parties read why support took the case back.
    return _event(dispute, EventType.REOPENED, actor=actor, now=now, message=reason)


def personal_data_removed(
    dispute: Dispute, *, actor: Actor, now: datetime, what: str, count: int
) -> DisputeEvent:
    """`what`: "documents" (files deleted) or "personal_text" (words and email pseudonymised)."""
    return _event(
        dispute,
        EventType.PERSONAL_DATA_REMOVED,
        actor=actor,
        now=now,
        visibility=Visibility.STAFF,
        data={"what": what, "count": count},
    )


def legal_hold(
    dispute: Dispute, *, actor: Actor, now: datetime, reason: str, placed: bool
) -> DisputeEvent:
    """A legal hold placed (or, `placed` False, lifted), with support's reason."""
    return _event(
        dispute,
        EventType.LEGAL_HOLD_PLACED if placed else EventType.LEGAL_HOLD_LIFTED,
        actor=actor,
        now=now,
        message=reason,
        visibility=Visibility.STAFF,
    )


def data_exported(dispute: Dispute, *, actor: Actor, now: datetime, what: str) -> DisputeEvent:
    """`what`: "customer_export" (the customer's data, Art. 15/20) or "adr_bundle"."""
    return _event(
        dispute,
        EventType.DATA_EXPORTED,
        actor=actor,
        now=now,
        visibility=Visibility.STAFF,
        data={"what": what},
    )
