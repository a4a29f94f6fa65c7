"""What support does on a case: ask for information, decide, assign, decide a return, reopen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext

from .. import events
from ..actors import Actor
from ..choices import (
    OPEN_STATES,
    ActorKind,
    Outcome,
    Party,
    Reason,
    State,
)
from ..errors import (
    DeadlinePassed,
    DisputeAlreadyOpen,
    HearingRequired,
    InvalidChoice,
    TransitionNotAllowed,
)
from ..evidence import automatic_evidence, case_history
from ..models import DecisionAssessment, Dispute
from ..policies import (
    RETURN_WINDOW,
    Assessment,
    DayCount,
    Window,
    can_reopen,
    check_decision_record,
    evidence_key,
    is_open,
    merchant_heard,
    needs_hearing_override,
    parse_amount,
    policy_for,
    settled_amount_for_decision,
)
from .machinery import (
    Change,
    apply_transition,
    clean_message,
    lock_for_actor,
    now_or_current,
    pause_for,
    persist,
    retire_decision_record,
    settle_order,
    window_deadline,
)


def dispute_request_information(
    *,
    dispute: Dispute,
    actor: Actor,
    party: Party,
    message: str,
    working_days: int | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Support asks the merchant or the customer for more information, with a deadline of
    `working_days` (the program's default when not given)."""
    message = clean_message(message, required=True)
    if party not in (Party.MERCHANT, Party.CUSTOMER):
        raise InvalidChoice(field="party")
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        window = policy_for(dispute.program).information_window
        if working_days is not None:
            window = Window(working_days, DayCount.WORKING)
        due_at = window_deadline(dispute.merchant, window, start=now)
        _check_appeal_decider(dispute, actor)
        apply_transition(dispute, "request_information", party=party, due_at=due_at)
        change = Change(disputes=[dispute])
        change.events.append(
            events.info_requested(dispute, actor=actor, now=now, party=party, message=message)
        )
        persist(change, now=now)
    return dispute


def dispute_provide_information(
    *, dispute: Dispute, actor: Actor, message: str, now: datetime | None = None
) -> Dispute:
    """The party support asked answers; the case goes back to support's queue."""
    message = clean_message(message, required=True)
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        party = Party(actor.kind) if actor.kind in (Party.MERCHANT, Party.CUSTOMER) else None
        if dispute.state != State.INFO_REQUESTED or dispute.information_requested_from != party:
            raise TransitionNotAllowed()
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed()
        apply_transition(dispute, "return_to_support")
        change = Change(disputes=[dispute])
        change.events.append(
            events.info_provided(dispute, actor=actor, now=now, party=party, message=message)
        )
        persist(change, now=now)
    return dispute


@dataclass(frozen=True)
class _Judgement:
    """A decision's record, checked: the code, the weighing, the override (if one was due)."""

    code: str
    record: list[Assessment]
    override_reason: str
    automatic: set[str]

    def event_record(self) -> list[dict[str, str]]:
        return [
            {"party": a.party, "item": a.key, "weight": a.weight, "note": a.note}
            for a in self.record
        ]


def _judge(
    dispute: Dispute,
    *,
    outcome: str,
    code: str,
    assessments: Sequence[Assessment],
    override_reason: str,
) -> _Judgement:
    """Check a decision before it is taken: against the merchant only once it was heard (or
    with a written override), every evidence item weighed, a code that fits."""
    override_reason = (override_reason or "").strip()
    if needs_hearing_override(outcome):
        if merchant_heard(case_history(dispute)):
            override_reason = ""  # nothing to override
        elif not override_reason:
            raise HearingRequired(field="override_reason")
    else:
        override_reason = ""
    record = check_decision_record(
        program=dispute.program,
        reason=dispute.reason,
        outcome=outcome,
        code=code,
        assessments=assessments,
    )
    return _Judgement(code, record, override_reason, automatic_evidence(dispute))


def _store_record(dispute: Dispute, judgement: _Judgement, *, now: datetime) -> None:
    """The decision's weighing as the case's current record, stored before the timeline event
    so that its webhook carries it; an earlier decision's record stays, no longer current."""
    retire_decision_record(dispute)
    provided = set(dispute.evidence_provided or [])
    DecisionAssessment.objects.bulk_create(
        DecisionAssessment(
            dispute_id=dispute.pk,
            merchant_id=dispute.merchant_id,
            reason=dispute.reason,
            party=a.party,
            item=a.key,
            provided=evidence_key(a.party, a.key) in provided
            or (a.party == Party.MERCHANT and a.key in judgement.automatic),
            weight=a.weight,
            note=a.note,
            created_at=now,
        )
        for a in judgement.record
    )


def dispute_decide(
    *,
    dispute: Dispute,
    actor: Actor,
    outcome: str,
    reason: str,
    code: str = "",
    assessments: Sequence[Assessment] = (),
    override_reason: str = "",
    amount: Decimal | str | None = None,
    fraud_proven: bool = False,
    now: datetime | None = None,
) -> Dispute:
    """Support decides: for the merchant (invoice reactivated) or the customer (charged back).

    The decision carries its itemised record: `assessments` weigh every evidence item of both
    sides, `code` is a decision reason code that fits the outcome. A decision for the customer
    on a case where the merchant has not had its say needs `override_reason`, which the merchant
    reads and which gives it a fresh appeal. `fraud_proven` marks an unauthorized purchase shown
    to be fraud: no dispute fee for it.
    """
    reason = clean_message(reason, required=True)
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        _check_appeal_decider(dispute, actor)
        settled = settled_amount_for_decision(
            outcome,
            None if amount in (None, "") else parse_amount(amount, dispute.currency),
            disputed_amount=dispute.disputed_amount,
            currency=dispute.currency,
        )
        if dispute.state not in (State.ESCALATED, State.INFO_REQUESTED):
            raise TransitionNotAllowed()
        judgement = _judge(
            dispute,
            outcome=outcome,
            code=code,
            assessments=assessments,
            override_reason=override_reason,
        )
        apply_transition(
            dispute,
            "decide",
            now=now,
            outcome=Outcome(outcome),
            settled_amount=settled,
            reason=reason,
            decided_by_id=actor.user_id,
            fraud_proven=fraud_proven and dispute.reason == Reason.UNAUTHORIZED,
            code=judgement.code,
            override_reason=judgement.override_reason,
        )
        change = Change(disputes=[dispute])
        change.events.append(
            events.decided(dispute, actor=actor, now=now, record=judgement.event_record())
        )
        settle_order(dispute, change)
        _store_record(dispute, judgement, now=now)
        persist(change, now=now)
    return dispute


def dispute_assign(
    *, dispute: Dispute, actor: Actor, assignee_id: int | None, now: datetime | None = None
) -> Dispute:
    """Give the case to a support colleague (or to nobody); the queue shows who owns what."""
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if dispute.assigned_to_id == assignee_id:
            return dispute
        dispute.assigned_to_id = assignee_id
        dispute.assigned_at = now if assignee_id else None
        dispute.updated_at = now
        dispute.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        assignee = str(assignee_id) if assignee_id else ""
        events.record([events.assigned(dispute, actor=actor, now=now, assignee=assignee)])
    return dispute


def dispute_decide_return(
    *,
    dispute: Dispute,
    actor: Actor,
    reason: str,
    code: str = "",
    assessments: Sequence[Assessment] = (),
    override_reason: str = "",
    amount: Decimal | str | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Support decides "refund after the goods are returned": the customer gets a deadline to
    send them back; the refund follows the merchant's confirmation of receipt. A decision for
    the customer: it carries the same record, and waits for the merchant's say, as `decide`."""
    reason = clean_message(reason, required=True)
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        _check_appeal_decider(dispute, actor)
        refund = settled_amount_for_decision(
            Outcome.CUSTOMER,
            None if amount in (None, "") else parse_amount(amount, dispute.currency),
            disputed_amount=dispute.disputed_amount,
            currency=dispute.currency,
        )
        if dispute.state not in (State.ESCALATED, State.INFO_REQUESTED):
            raise TransitionNotAllowed()
        judgement = _judge(
            dispute,
            outcome=Outcome.CUSTOMER,
            code=code,
            assessments=assessments,
            override_reason=override_reason,
        )
        due_at = window_deadline(dispute.merchant, RETURN_WINDOW, start=now)
        apply_transition(
            dispute,
            "decide_return",
            amount=refund,
            reason=reason,
            decided_by_id=actor.user_id,
            due_at=due_at,
            code=judgement.code,
            override_reason=judgement.override_reason,
        )
        change = Change(disputes=[dispute])
        change.events.append(
            events.return_decided(dispute, actor=actor, now=now, record=judgement.event_record())
        )
        _store_record(dispute, judgement, now=now)
        persist(change, now=now)
    return dispute


def _check_appeal_decider(dispute: Dispute, actor: Actor) -> None:
    if dispute.appealed_at is not None and dispute.appealed_decision_by_id == actor.user_id:
        raise TransitionNotAllowed(
            gettext("An appeal is decided by a different staff member than the first decision.")
        )


def dispute_reopen(
    *, dispute: Dispute, actor: Actor, reason: str, now: datetime | None = None
) -> Dispute:
    """Support reopens a decided or settled case, with a written reason both parties read: it
    goes back to support's queue to be decided again (a paused invoice is paused again; no new
    fee). The order may not have another case open meanwhile."""
    reason = clean_message(reason, required=True)
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        other_open = (
            Dispute.objects.filter(order_id=dispute.order_id, state__in=OPEN_STATES)
            .exclude(pk=dispute.pk)
            .values_list("public_id", flat=True)
            .first()
        )
        if other_open is not None:
            raise DisputeAlreadyOpen(
                other_open,
                gettext(
                    "The order has another open case (%(case)s). "
                    "Close that case before reopening this one."
                )
                % {"case": other_open},
            )
        if not can_reopen(state=dispute.state, order_has_open_case=False):
            raise TransitionNotAllowed(gettext("Only a decided or settled case can be reopened."))
        apply_transition(dispute, "reopen", now=now)
        retire_decision_record(dispute)
        change = Change(disputes=[dispute])
        change.events.append(events.reopened(dispute, actor=actor, now=now, reason=reason))
        pause_for(dispute, change)
        persist(change, now=now)
    return dispute
