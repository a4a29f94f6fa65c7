"""The machinery every write shares: lock, transition, persist, record, charge, notify.

Each service runs in one transaction: it locks the dispute (then its order: always in that
order), applies a django-fsm-2 transition, saves with `update_fields`, records the timeline event,
applies the side effects (invoice, fee) and queues notifications, which leave after commit. A
sweep builds the same `Change` for a batch of cases and persists it with the same functions.
"""

from __future__ import annotations

import unicodedata
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
    InstructionKind,
    ProtectionStatus,
)
from ..errors import (
    DisputeNotFound,
    MissingMessage,
    TransitionNotAllowed,
)
from ..instructions import NewInstruction, instructions_write
from ..models import (
    TRANSITION_FIELDS,
    Attachment,
    DecisionAssessment,
    Dispute,
    DisputeEvent,
    Merchant,
    Order,
)
from ..notices import queue_notices
from ..policies import (
    GivenEvidence,
    MoneyEffect,
    Window,
    at_stake_for,
    check_evidence,
    deadline_after,
    evidence_key,
    moved_on_close,
    payment_on_close,
    payment_on_open,
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
    # Effects on orders' money, each written as a payment instruction with its case's event.
    effects: list[tuple[Dispute, MoneyEffect]] = field(default_factory=list)

    def order_changed(self, order: Order) -> None:
        if all(order is not known for known in self.orders):
            self.orders.append(order)


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
    groups: dict[tuple[object, ...], tuple[tuple[object, ...], list[int]]] = {}
    for dispute in disputes:
        fields = dispute.__dict__  # the raw values: no descriptor (django-fsm's) in the way
        values = tuple(fields[attname] for attname in _TRANSITION_ATTNAMES)
        # A list (the evidence given) is no dict key: its tuple stands in for it.
        key = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        groups.setdefault(key, (values, []))[1].append(dispute.pk)
    if len(groups) > 10:
        Dispute.objects.bulk_update(disputes, TRANSITION_FIELDS)
        return
    for values, ids in groups.values():
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
            change.orders,
            ["payment_state", "protection_status", "moved_to_customer", "updated_at"],
        )
    return record_with_fees(change, now=now)


def record_with_fees(change: Change, *, now: datetime) -> list[DisputeEvent]:
    """Charge the escalation fees, state each one on its escalation event, record the
    events, queue their notices and webhooks, and write the payment instructions (last: their
    counter stays locked until commit)."""
    fees: dict[int, tuple[Decimal, int | None]] = {}
    if change.charged:
        for _receiver, charged in signals.cases_escalated.send(
            sender=Dispute, disputes=change.charged, now=now
        ):
            fees.update(cast(dict[int, tuple[Decimal, int | None]], charged) or {})
    for event in change.events:
        if event.event_type == EventType.ESCALATED and event.dispute.pk in fees:
            event.data["fee"] = str(fees[event.dispute.pk][0])
    recorded = events.record(change.events)
    queue_notices(events=recorded, now=now)
    signals.events_recorded.send(sender=DisputeEvent, events=recorded, now=now)
    instructions_write(_instructions(change, recorded, fees), now=now)
    return recorded


def _instructions(
    change: Change,
    recorded: Sequence[DisputeEvent],
    fees: dict[int, tuple[Decimal, int | None]],
) -> list[NewInstruction]:
    """The change's money effects, each with the last event of its case (what caused it), and
    the fees charged, each with its case's escalation event."""
    last_event: dict[int, DisputeEvent] = {}
    escalation: dict[int, DisputeEvent] = {}
    for event in recorded:
        last_event[event.dispute_id] = event
        if event.event_type == EventType.ESCALATED:
            escalation[event.dispute_id] = event
    written = [
        NewInstruction(
            kind=effect.kind,
            order=dispute.order,
            merchant=dispute.merchant,
            amount=effect.amount,
            dispute=dispute,
            event=last_event.get(dispute.pk),
        )
        for dispute, effect in change.effects
    ]
    for dispute in change.charged:
        if dispute.pk in fees:
            amount, fee_line_id = fees[dispute.pk]
            written.append(
                NewInstruction(
                    kind=InstructionKind.FEE_CHARGED,
                    order=dispute.order,
                    merchant=dispute.merchant,
                    amount=amount,
                    dispute=dispute,
                    event=escalation.get(dispute.pk),
                    fee_line_id=fee_line_id,
                )
            )
    return written


def escalate(dispute: Dispute, change: Change, *, now: datetime, actor: Actor, cause: str) -> None:
    apply_transition(dispute, "escalate", now=now)
    if policy_for(dispute.program).rule_for(dispute.reason).charges_fee:
        change.charged.append(dispute)  # the fee itself is fixed from the schedule on save
    change.events.append(events.escalated(dispute, actor=actor, now=now, cause=cause))


def settle_order(dispute: Dispute, change: Change) -> None:
    """A case closed: the order's money follows its outcome (as payment instructions), and
    buyer protection ends when its case ends or the money goes back."""
    order = dispute.order
    settled = dispute.settled_amount or Decimal("0.00")
    at_stake = at_stake_for(
        amount=order.amount,
        moved_by_other_cases=order.moved_to_customer - dispute.moved_amount,
        refunded_outside=order.refunded_outside_amount,
        cancelled=order.cancelled_at is not None,
    )
    new_state, effects = payment_on_close(
        order.payment_state,
        outcome=dispute.outcome,
        settled_amount=settled,
        already_moved=dispute.moved_amount,
        at_stake=at_stake,
    )
    for effect in effects:
        change.effects.append((dispute, effect))
    moved = moved_on_close(dispute.outcome, settled, at_stake=at_stake)
    changed = new_state != order.payment_state or moved != dispute.moved_amount
    order.moved_to_customer += moved - dispute.moved_amount
    dispute.moved_amount = moved
    order.payment_state = new_state
    if order.protection_status == ProtectionStatus.ACTIVE and protection_ended_by(
        program=dispute.program, outcome=dispute.outcome, payment_state=new_state
    ):
        order.protection_status = ProtectionStatus.ENDED
        changed = True
    if changed:
        change.order_changed(order)


def pause_for(dispute: Dispute, change: Change) -> None:
    """A case (re)opens: a payment dispute pauses an active invoice for what is still owed."""
    order = dispute.order
    new_state, effects = payment_on_open(
        order.payment_state,
        policy_for(dispute.program),
        outstanding=order.amount - order.moved_to_customer,
    )
    for effect in effects:
        change.effects.append((dispute, effect))
    if new_state != order.payment_state:
        order.payment_state = new_state
        change.order_changed(order)


def window_deadline(merchant: Merchant, window: Window, *, start: datetime) -> datetime:
    """A window starting now, closing at the end of its last day in the merchant's time zone."""
    return deadline_after(start, window, time_zone=merchant.time_zone, country=merchant.country)


# Bidirectional overrides and isolates: they make text read other than it is stored.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def clean_message(message: str, *, required: bool) -> str:
    """A person's message: Unicode-normalised (NFKC), without bidi controls; one made only of
    spaces and invisible characters (zero-width and the like) counts as no message."""
    cleaned = unicodedata.normalize("NFKC", message or "").translate(_BIDI_CONTROLS).strip()
    visible = "".join(ch for ch in cleaned if unicodedata.category(ch) != "Cf").strip()
    if not visible:
        cleaned = ""
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
    evidence_item: str = "",
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
            evidence_item=evidence_item,
        )
        attachment.file.save(document.original_name, document.content, save=False)
        stored.append(attachment.file)
        attachment.save()


@dataclass(frozen=True)
class EvidenceInput:
    """One checklist item as a side gives it: a line of text, or documents that prove it."""

    key: str
    value: str = ""
    documents: Sequence[CheckedFile] = ()


def checked_evidence(
    dispute: Dispute, party: str, evidence: Sequence[EvidenceInput]
) -> list[EvidenceInput]:
    """The items, checked against this side's checklist for the case's reason."""
    checked = check_evidence(
        dispute.program,
        dispute.reason,
        party,
        [GivenEvidence(e.key, e.value, len(e.documents)) for e in evidence],
    )
    return [
        EvidenceInput(given.key, given.value, entry.documents)
        for given, entry in zip(checked, evidence, strict=True)
    ]


def note_evidence(dispute: Dispute, party: str, evidence: Sequence[EvidenceInput]) -> None:
    """Add the items to what the case records as given (saved with the case)."""
    if evidence:
        keys = set(dispute.evidence_provided or [])
        keys.update(evidence_key(party, entry.key) for entry in evidence)
        dispute.evidence_provided = sorted(keys)


def evidence_data(evidence: Sequence[EvidenceInput]) -> list[dict[str, str]]:
    """The items as the timeline event states them (documents are its attachments)."""
    return [{"item": entry.key, "value": entry.value} for entry in evidence]


def attach_evidence(
    dispute: Dispute,
    event: DisputeEvent,
    evidence: Sequence[EvidenceInput],
    *,
    uploaded_by: str,
    stored: list[FieldFile],
) -> None:
    for entry in evidence:
        attach_documents(
            dispute,
            event,
            entry.documents,
            uploaded_by=uploaded_by,
            stored=stored,
            evidence_item=entry.key,
        )


def retire_decision_record(dispute: Dispute) -> None:
    """The case's decision no longer stands (appealed, reopened, decided anew): its itemised
    record stays for the history but is no longer the current one."""
    DecisionAssessment.objects.filter(dispute_id=dispute.pk, current=True).update(current=False)
