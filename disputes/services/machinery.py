"""The machinery every write shares: lock, transition, persist, record, charge, notify.

Each service runs in one transaction: it locks the dispute (then its order: always in that
order), applies a django-fsm-2 transition, saves with `update_fields`, records the timeline event,
applies the side effects (invoice, fee) and queues notifications, which leave after commit. A
sweep builds the same `Change` for a batch of cases and persists it with the same functions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.db.models import QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django_fsm import TransitionNotAllowed as FSMTransitionNotAllowed

from .. import events, signals
from ..actors import Actor
from ..choices import (
    ActorKind,
    EventType,
    ProtectionStatus,
)
from ..errors import (
    DisputeNotFound,
    MissingMessage,
    TransitionNotAllowed,
)
from ..models import TRANSITION_FIELDS, Attachment, Dispute, DisputeEvent, Merchant, Order
from ..notices import queue_notices
from ..policies import (
    Window,
    deadline_after,
    payment_state_on_close,
    policy_for,
    protection_ended_by,
)
from ..uploads import CheckedFile


@dataclass
class Change:
    """What one transaction writes besides the disputes themselves."""

    disputes: list[Dispute] = field(default_factory=list)
    events: list[DisputeEvent] = field(default_factory=list)
    charged: list[Dispute] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)


def now_or_current(now: datetime | None) -> datetime:
    return now or timezone.now()


def apply_transition(dispute: Dispute, transition: str, **kwargs: object) -> None:
    try:
        getattr(dispute, transition)(**kwargs)
    except FSMTransitionNotAllowed:
        raise TransitionNotAllowed() from None


def locked_with_order(queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
    # Lock the dispute and its order (the order's payment state changes on close); the
    # merchant row is read, never locked.
    return queryset.select_for_update(of=("self", "order")).select_related("order", "merchant")


def lock_for_actor(dispute: Dispute, *, actor: Actor) -> Dispute:
    locked = locked_with_order(Dispute.objects.filter(pk=dispute.pk)).first()
    if locked is None:
        raise DisputeNotFound()
    # Another merchant's case, or a customer who is not this order's, does not exist for them.
    if actor.kind == ActorKind.MERCHANT and locked.merchant_id != actor.merchant_id:
        raise DisputeNotFound()
    if actor.kind == ActorKind.CUSTOMER and locked.order.customer_email.lower() != actor.id:
        raise DisputeNotFound()
    return locked


_TRANSITION_ATTNAMES = [
    f.attname for f in Dispute._meta.concrete_fields if f.name in TRANSITION_FIELDS
]


def save_disputes(disputes: Sequence[Dispute]) -> None:
    """Save what the transitions changed. A sweep's batch mostly changes every case the same way
    (escalated now, by nobody): one UPDATE per distinct set of values beats bulk_update's
    CASE WHEN per row and field, which costs more to build than to run."""
    if len(disputes) == 1:
        disputes[0].save(update_fields=TRANSITION_FIELDS)
        return
    groups: dict[tuple[object, ...], list[int]] = {}
    for dispute in disputes:
        fields = dispute.__dict__  # the raw values: no descriptor (django-fsm's) in the way
        values = tuple(fields[attname] for attname in _TRANSITION_ATTNAMES)
        groups.setdefault(values, []).append(dispute.pk)
    if len(groups) > 10:
        Dispute.objects.bulk_update(disputes, TRANSITION_FIELDS)
        return
    for values, ids in groups.items():
        Dispute.objects.filter(pk__in=ids).update(
            **dict(zip(_TRANSITION_ATTNAMES, values, strict=True))
        )


def persist(change: Change, *, now: datetime) -> list[DisputeEvent]:
    for dispute in change.disputes:
        dispute.updated_at = now
    if change.disputes:
        save_disputes(change.disputes)
    if change.orders:
        for order in change.orders:
            order.updated_at = now
        Order.objects.bulk_update(
            change.orders, ["payment_state", "protection_status", "updated_at"]
        )
    return record_with_fees(change, now=now)


def record_with_fees(change: Change, *, now: datetime) -> list[DisputeEvent]:
    """Charge the escalation fees, state each one on its escalation event, record the
    events and queue their notices."""
    fees: dict[int, Decimal] = {}
    if change.charged:
        for _receiver, charged in signals.cases_escalated.send(
            sender=Dispute, disputes=change.charged, now=now
        ):
            fees.update(cast(dict[int, Decimal], charged) or {})
    for event in change.events:
        fee = fees.get(event.dispute.pk) if event.event_type == EventType.ESCALATED else None
        if fee is not None:
            event.data["fee"] = str(fee)
    recorded = events.record(change.events)
    queue_notices(events=recorded, now=now)
    signals.events_recorded.send(sender=DisputeEvent, events=recorded, now=now)
    return recorded


def escalate(dispute: Dispute, change: Change, *, now: datetime, actor: Actor, cause: str) -> None:
    apply_transition(dispute, "escalate", now=now)
    if policy_for(dispute.program).rule_for(dispute.reason).charges_fee:
        change.charged.append(dispute)  # the fee itself is fixed from the schedule on save
    change.events.append(events.escalated(dispute, actor=actor, now=now, cause=cause))


def settle_order(dispute: Dispute, change: Change) -> None:
    """A case closed: the order's payment follows its outcome, and buyer protection ends when
    its case ends or the money goes back."""
    order = dispute.order
    new_state = payment_state_on_close(
        order.payment_state,
        outcome=dispute.outcome,
        settled_amount=dispute.settled_amount or Decimal("0.00"),
        order_amount=order.amount,
    )
    changed = new_state != order.payment_state
    order.payment_state = new_state
    if order.protection_status == ProtectionStatus.ACTIVE and protection_ended_by(
        program=dispute.program, outcome=dispute.outcome, payment_state=new_state
    ):
        order.protection_status = ProtectionStatus.ENDED
        changed = True
    if changed and order not in change.orders:
        change.orders.append(order)


def window_deadline(merchant: Merchant, window: Window, *, start: datetime) -> datetime:
    """A window starting now, closing at the end of its last day in the merchant's time zone."""
    return deadline_after(start, window, time_zone=merchant.time_zone, country=merchant.country)


def clean_message(message: str, *, required: bool) -> str:
    cleaned = (message or "").strip()
    if required and not cleaned:
        raise MissingMessage(field="message")
    return cleaned


@contextmanager
def files_removed_on_failure() -> Iterator[list[FieldFile]]:
    """Files stored during a transaction that then fails are deleted: nothing half-written."""
    stored: list[FieldFile] = []
    try:
        yield stored
    except BaseException:
        for field_file in stored:
            if field_file.name:
                field_file.storage.delete(field_file.name)
        raise


def attach_documents(
    dispute: Dispute,
    event: DisputeEvent,
    documents: Sequence[CheckedFile],
    *,
    uploaded_by: str,
    stored: list[FieldFile],
) -> None:
    for document in documents:
        attachment = Attachment(
            dispute=dispute,
            event=event,
            original_name=document.original_name,
            content_type=document.content_type,
            size=document.size,
            sha256=document.sha256,
            uploaded_by=uploaded_by,
        )
        attachment.file.save(document.original_name, document.content, save=False)
        stored.append(attachment.file)
        attachment.save()
