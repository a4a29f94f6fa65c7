"""Every write to a dispute goes through here.

Each service runs in one transaction: it locks the dispute (then its order: always in that
order), applies a django-fsm-2 transition, saves with `update_fields`, records the timeline event,
applies the side effects (invoice, fee) and queues notifications, which leave after commit.

The deadline sweeps use the same transitions and side effects, a batch at a time: one query per
kind of write per batch, rows claimed with SELECT ... FOR UPDATE SKIP LOCKED, so a sweep never
waits for a user and a user's action and a sweep never both take effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.translation import gettext
from django_fsm import TransitionNotAllowed as FSMTransitionNotAllowed

from billing.services import fee_charge_escalations
from notifications.services import EmailNotice, outbox_enqueue

from . import events
from .actors import SYSTEM, Actor
from .choices import (
    OPEN_STATES,
    ActorKind,
    EventType,
    Outcome,
    Party,
    ProtectionStatus,
    Reason,
    State,
)
from .errors import (
    DeadlinePassed,
    DisputeAlreadyOpen,
    DisputeNotFound,
    InvalidChoice,
    MissingMessage,
    TransitionNotAllowed,
)
from .links import customer_case_url, protection_answer_url
from .models import TRANSITION_FIELDS, Attachment, Dispute, DisputeEvent, Merchant, Order
from .notices import queue_notices
from .policies import (
    CHECKIN_AFTER_DAYS,
    EXTENSION_DAYS,
    PROTECTION_ENDING_NOTICE_DAYS,
    RETURN_CONFIRM_WINDOW,
    RETURN_WINDOW,
    DayCount,
    ExtensionDecision,
    ReplyEffect,
    Window,
    appeal_open,
    check_program_eligibility,
    customer_reply_effect,
    days_left,
    deadline_after,
    is_open,
    next_reminder_at,
    parse_amount,
    payment_state_on_close,
    payment_state_on_open,
    policy_for,
    protection_extension,
    refund_terms,
    settled_amount_for_decision,
    skips_customer_step,
)
from .uploads import CheckedFile

logger = logging.getLogger(__name__)

# --- Shared machinery ----------------------------------------------------------------------------


@dataclass
class _Change:
    """What one transaction writes besides the disputes themselves."""

    disputes: list[Dispute] = field(default_factory=list)
    events: list[DisputeEvent] = field(default_factory=list)
    charged: list[Dispute] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _fsm(dispute: Dispute, transition: str, **kwargs: object) -> None:
    try:
        getattr(dispute, transition)(**kwargs)
    except FSMTransitionNotAllowed:
        raise TransitionNotAllowed() from None


def _locked(queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
    # Lock the dispute and its order (the order's payment state changes on close); the
    # merchant row is read, never locked.
    return queryset.select_for_update(of=("self", "order")).select_related("order", "merchant")


def _lock(dispute: Dispute, *, actor: Actor) -> Dispute:
    locked = _locked(Dispute.objects.filter(pk=dispute.pk)).first()
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


def _save_disputes(disputes: Sequence[Dispute]) -> None:
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


def _persist(change: _Change, *, now: datetime) -> list[DisputeEvent]:
    for dispute in change.disputes:
        dispute.updated_at = now
    if change.disputes:
        _save_disputes(change.disputes)
    if change.orders:
        for order in change.orders:
            order.updated_at = now
        Order.objects.bulk_update(change.orders, ["payment_state", "updated_at"])
    return _record_with_fees(change, now=now)


def _record_with_fees(change: _Change, *, now: datetime) -> list[DisputeEvent]:
    """Charge the escalation fees, state each one on its escalation event, record the
    events and queue their notices."""
    fees = fee_charge_escalations(disputes=change.charged, now=now)
    for event in change.events:
        fee = fees.get(event.dispute.pk) if event.event_type == EventType.ESCALATED else None
        if fee is not None:
            event.data["fee"] = str(fee)
    recorded = events.record(change.events)
    queue_notices(events=recorded, now=now)
    return recorded


def _escalate(
    dispute: Dispute, change: _Change, *, now: datetime, actor: Actor, cause: str
) -> None:
    _fsm(dispute, "escalate", now=now)
    if policy_for(dispute.program).rule_for(dispute.reason).charges_fee:
        change.charged.append(dispute)  # the fee itself is fixed from the schedule on save
    change.events.append(events.escalated(dispute, actor=actor, now=now, cause=cause))


def _settle_payment(dispute: Dispute, change: _Change) -> None:
    order = dispute.order
    new_state = payment_state_on_close(
        order.payment_state,
        outcome=dispute.outcome,
        settled_amount=dispute.settled_amount or Decimal("0.00"),
        order_amount=order.amount,
    )
    if new_state != order.payment_state:
        order.payment_state = new_state
        change.orders.append(order)


def _deadline(merchant: Merchant, window: Window, *, start: datetime) -> datetime:
    """A window starting now, closing at the end of its last day in the merchant's time zone."""
    return deadline_after(start, window, time_zone=merchant.time_zone, country=merchant.country)


def _clean_message(message: str, *, required: bool) -> str:
    cleaned = (message or "").strip()
    if required and not cleaned:
        raise MissingMessage(field="message")
    return cleaned


@contextmanager
def _files_removed_on_failure() -> Iterator[list[FieldFile]]:
    """Files stored during a transaction that then fails are deleted: nothing half-written."""
    stored: list[FieldFile] = []
    try:
        yield stored
    except BaseException:
        for field_file in stored:
            if field_file.name:
                field_file.storage.delete(field_file.name)
        raise


def _attach(
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


# --- Customer and merchant actions ---------------------------------------------------------------


def dispute_open(
    *,
    order: Order,
    program: str,
    reason: str,
    message: str,
    actor: Actor | None = None,
    documents: Sequence[CheckedFile] = (),
    language: str | None = None,
    disputed_amount: Decimal | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Open a case for an order: start the merchant's window, or go straight to support.

    `language` is the one the customer used; their emails follow it.
    """
    now = _now(now)
    policy = policy_for(program)
    rule = policy.rule_for(reason)
    message = _clean_message(message, required=True)
    with _files_removed_on_failure() as stored, transaction.atomic():
        # The order lock serialises two openings of the same order.
        order = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        actor = actor or Actor.customer(order.customer_email)
        existing = Dispute.objects.filter(order=order, state__in=OPEN_STATES).first()
        if existing is not None:
            raise DisputeAlreadyOpen(existing.public_id)
        check_program_eligibility(
            program,
            payment_state=order.payment_state,
            tier=order.protection_tier,
            protection_status=order.protection_status,
            protection_ends_at=order.protection_ends_at,
            now=now,
        )
        amount = order.amount
        if disputed_amount is not None:
            amount = settled_amount_for_decision(
                Outcome.CUSTOMER,
                disputed_amount,
                disputed_amount=order.amount,
                currency=order.currency,
            )
        merchant = order.merchant
        dispute = Dispute(
            order=order,
            merchant=merchant,
            program=program,
            reason=reason,
            customer_message=message,
            customer_language=language or order.customer_language,
            currency=order.currency,
            order_amount=order.amount,
            disputed_amount=amount,
            opened_at=now,
        )
        change = _Change(events=[events.opened(dispute, actor=actor, now=now)])
        if rule.straight_to_support:
            _escalate(dispute, change, now=now, actor=SYSTEM, cause="straight_to_support")
        else:
            due_at = _deadline(merchant, policy.merchant_window, start=now)
            dispute.start_merchant_window(
                due_at=due_at,
                reminder_due_at=next_reminder_at(due_at, policy.merchant_reminder_days, after=now),
            )
        try:
            with transaction.atomic():
                dispute.save()
        except IntegrityError:
            # Only reachable without row locks (SQLite): the partial unique index decides.
            existing = Dispute.objects.filter(order=order, state__in=OPEN_STATES).first()
            raise DisputeAlreadyOpen(existing.public_id if existing else "") from None
        new_payment_state = payment_state_on_open(order.payment_state, policy)
        if new_payment_state != order.payment_state:
            order.payment_state = new_payment_state
            order.save(update_fields=["payment_state", "updated_at"])
        recorded = _record_with_fees(change, now=now)
        _attach(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute


def dispute_respond(
    *,
    dispute: Dispute,
    actor: Actor,
    refund: str,
    amount: Decimal | str | None,
    message: str,
    documents: Sequence[CheckedFile] = (),
    now: datetime | None = None,
) -> Dispute:
    """The merchant's answer: a full, partial or after-return refund, or none; message required."""
    message = _clean_message(message, required=True)
    with _files_removed_on_failure() as stored, transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)  # read after the lock: the deadline is judged when we hold the row
        if dispute.state != State.AWAITING_MERCHANT:
            _refuse_merchant_action(dispute)
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed()
        policy = policy_for(dispute.program)
        terms = refund_terms(
            refund,
            None if amount in (None, "") else parse_amount(amount, dispute.currency),
            order_amount=dispute.disputed_amount,
            currency=dispute.currency,
        )
        change = _Change(disputes=[dispute])
        if skips_customer_step(policy.rule_for(dispute.reason), terms):
            # Refused after a cancellation: the customer's step is skipped (DESIGN.md §2).
            dispute.refund_offer, dispute.refund_offer_amount = terms.offer, terms.amount
            change.events.append(events.offer_made(dispute, actor=actor, now=now, message=message))
            _escalate(dispute, change, now=now, actor=SYSTEM, cause="refused_after_cancellation")
        else:
            due_at = _deadline(dispute.merchant, policy.customer_window, start=now)
            dispute.make_offer(
                terms=terms,
                due_at=due_at,
                reminder_due_at=next_reminder_at(due_at, policy.customer_reminder_days, after=now),
            )
            change.events.append(events.offer_made(dispute, actor=actor, now=now, message=message))
        recorded = _persist(change, now=now)
        _attach(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute


def _refuse_merchant_action(dispute: Dispute) -> None:
    """Say why a merchant's answer is refused: late is not the same as "not possible"."""
    if dispute.state == State.ESCALATED and not dispute.refund_offer:
        raise DeadlinePassed(
            gettext("The response time has ended and the case is now with support.")
        )
    raise TransitionNotAllowed()


def _reply_window_ended() -> str:
    return gettext("The time to answer the offer has ended; the case was closed.")


def _refuse_customer_reply(dispute: Dispute) -> None:
    """A reply that arrives just after the window closed gets the reason, not a generic error."""
    closed_by_silence = dispute.events.filter(
        event_type=EventType.RESOLVED, data__cause="customer_silent"
    ).exists()
    if closed_by_silence:
        raise DeadlinePassed(_reply_window_ended())
    raise TransitionNotAllowed()


def dispute_accept(
    *, dispute: Dispute, actor: Actor, message: str = "", now: datetime | None = None
) -> Dispute:
    """The merchant accepts a payment dispute outright: the customer gets the disputed amount."""
    message = _clean_message(message, required=False)
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        if dispute.state != State.AWAITING_MERCHANT:
            _refuse_merchant_action(dispute)
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed()
        if dispute.program != "payment_dispute":
            raise InvalidChoice(
                gettext("Only a payment dispute can be accepted outright."), field="action"
            )
        _fsm(dispute, "accept_dispute", now=now)
        change = _Change(disputes=[dispute])
        change.events.append(
            events.dispute_accepted(dispute, actor=actor, now=now, message=message)
        )
        change.events.append(
            events.resolved(dispute, actor=actor, now=now, cause="merchant_accepted")
        )
        _settle_payment(dispute, change)
        _persist(change, now=now)
    return dispute


def dispute_customer_reply(
    *,
    dispute: Dispute,
    actor: Actor,
    reply: str,
    message: str = "",
    documents: Sequence[CheckedFile] = (),
    now: datetime | None = None,
) -> Dispute:
    """The customer's answer to the merchant's offer: it closes the case or escalates it."""
    message = _clean_message(message, required=False)
    with _files_removed_on_failure() as stored, transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        if dispute.state != State.AWAITING_CUSTOMER:
            _refuse_customer_reply(dispute)
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed(_reply_window_ended())
        effect = customer_reply_effect(
            dispute.refund_offer,
            reply,
            partial=(dispute.refund_offer_amount or 0) < dispute.disputed_amount,
        )
        change = _Change(disputes=[dispute])
        change.events.append(
            events.customer_replied(dispute, actor=actor, now=now, reply=reply, message=message)
        )
        if effect == ReplyEffect.RESOLVE:
            _fsm(dispute, "settle", now=now)
            change.events.append(events.resolved(dispute, actor=actor, now=now, cause=reply))
            _settle_payment(dispute, change)
        else:
            # The customer's reply is their event; the escalation is the rules' consequence.
            _escalate(dispute, change, now=now, actor=SYSTEM, cause=reply)
        recorded = _persist(change, now=now)
        _attach(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute


def dispute_add_message(
    *,
    dispute: Dispute,
    actor: Actor,
    message: str,
    documents: Sequence[CheckedFile] = (),
    for_support: bool = False,
    now: datetime | None = None,
) -> Dispute:
    """A message (and documents) from the customer or the merchant at any open stage.

    `for_support` keeps it between the author and support (evidence the other side does not
    see). When support asked this party for information, the message is that information and
    the case goes back to support.
    """
    message = _clean_message(message, required=True)
    if actor.kind not in (ActorKind.CUSTOMER, ActorKind.MERCHANT):
        raise TransitionNotAllowed()
    party = Party(actor.kind)
    with _files_removed_on_failure() as stored, transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        if not dispute.is_open:
            raise TransitionNotAllowed(
                gettext("This case is closed; no more messages can be added.")
            )
        change = _Change()
        if (
            dispute.state == State.INFO_REQUESTED
            and dispute.information_requested_from == party
            and is_open(dispute.due_at, now)
        ):
            _fsm(dispute, "return_to_support")
            change.disputes.append(dispute)
            event = events.info_provided(
                dispute, actor=actor, now=now, party=party, message=message
            )
        else:
            event = events.message(
                dispute, actor=actor, now=now, message=message, for_support=for_support
            )
        change.events.append(event)
        recorded = _persist(change, now=now)
        _attach(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute


def dispute_renew_customer_link(*, order: Order, now: datetime | None = None) -> Dispute | None:
    """Email the customer a fresh link to the order's case; links sent before stop working.

    Returns the case, or None when the order has none (the caller says the same either way).
    """
    with transaction.atomic():
        dispute = (
            Dispute.objects.select_for_update(of=("self",))
            .select_related("order", "merchant")
            .filter(order=order)
            .order_by("-opened_at", "-pk")
            .first()
        )
        if dispute is None:
            return None
        now = _now(now)
        Dispute.objects.filter(pk=dispute.pk).update(
            customer_link_version=F("customer_link_version") + 1, updated_at=now
        )
        dispute.refresh_from_db(fields=["customer_link_version"])
        outbox_enqueue(
            notices=[
                EmailNotice(
                    kind="customer_case_link",
                    recipient=dispute.order.customer_email,
                    dedupe_key=f"customer_case_link:{dispute.pk}:{dispute.customer_link_version}",
                    language=dispute.customer_language,
                    time_zone=dispute.merchant.time_zone,
                    dispute_id=dispute.pk,
                    context={
                        "case_id": dispute.public_id,
                        "merchant_name": dispute.merchant.name,
                        "order_number": dispute.order.order_number,
                        "case_url": customer_case_url(dispute),
                    },
                )
            ],
            now=now,
        )
    return dispute


def dispute_withdraw(
    *, dispute: Dispute, actor: Actor, message: str = "", now: datetime | None = None
) -> Dispute:
    """The customer withdraws the case at any open stage."""
    message = _clean_message(message, required=False)
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        _fsm(dispute, "withdraw", now=now)
        change = _Change(disputes=[dispute])
        change.events.append(events.withdrawn(dispute, actor=actor, now=now, message=message))
        _settle_payment(dispute, change)
        _persist(change, now=now)
    return dispute


# --- Support -------------------------------------------------------------------------------------


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
    message = _clean_message(message, required=True)
    if party not in (Party.MERCHANT, Party.CUSTOMER):
        raise InvalidChoice(field="party")
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        window = policy_for(dispute.program).information_window
        if working_days is not None:
            window = Window(working_days, DayCount.WORKING)
        due_at = _deadline(dispute.merchant, window, start=now)
        _check_appeal_decider(dispute, actor)
        _fsm(dispute, "request_information", party=party, due_at=due_at)
        change = _Change(disputes=[dispute])
        change.events.append(
            events.info_requested(dispute, actor=actor, now=now, party=party, message=message)
        )
        _persist(change, now=now)
    return dispute


def dispute_provide_information(
    *, dispute: Dispute, actor: Actor, message: str, now: datetime | None = None
) -> Dispute:
    """The party support asked answers; the case goes back to support's queue."""
    message = _clean_message(message, required=True)
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        party = Party(actor.kind) if actor.kind in (Party.MERCHANT, Party.CUSTOMER) else None
        if dispute.state != State.INFO_REQUESTED or dispute.information_requested_from != party:
            raise TransitionNotAllowed()
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed()
        _fsm(dispute, "return_to_support")
        change = _Change(disputes=[dispute])
        change.events.append(
            events.info_provided(dispute, actor=actor, now=now, party=party, message=message)
        )
        _persist(change, now=now)
    return dispute


def dispute_decide(
    *,
    dispute: Dispute,
    actor: Actor,
    outcome: str,
    reason: str,
    amount: Decimal | str | None = None,
    fraud_proven: bool = False,
    now: datetime | None = None,
) -> Dispute:
    """Support decides: for the merchant (invoice reactivated) or the customer (charged back).

    `fraud_proven` marks an unauthorized purchase shown to be fraud: no dispute fee for it.
    """
    reason = _clean_message(reason, required=True)
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        _check_appeal_decider(dispute, actor)
        settled = settled_amount_for_decision(
            outcome,
            None if amount in (None, "") else parse_amount(amount, dispute.currency),
            disputed_amount=dispute.disputed_amount,
            currency=dispute.currency,
        )
        _fsm(
            dispute,
            "decide",
            now=now,
            outcome=Outcome(outcome),
            settled_amount=settled,
            reason=reason,
            decided_by_id=actor.user_id,
            fraud_proven=fraud_proven and dispute.reason == Reason.UNAUTHORIZED,
        )
        change = _Change(disputes=[dispute])
        change.events.append(events.decided(dispute, actor=actor, now=now))
        _settle_payment(dispute, change)
        _persist(change, now=now)
    return dispute


def dispute_assign(
    *, dispute: Dispute, actor: Actor, assignee_id: int | None, now: datetime | None = None
) -> Dispute:
    """Give the case to a support colleague (or to nobody); the queue shows who owns what."""
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
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
    amount: Decimal | str | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Support decides "refund after the goods are returned": the customer gets a deadline to
    send them back; the refund follows the merchant's confirmation of receipt."""
    reason = _clean_message(reason, required=True)
    if actor.kind != ActorKind.STAFF:
        raise TransitionNotAllowed()
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        _check_appeal_decider(dispute, actor)
        refund = settled_amount_for_decision(
            Outcome.CUSTOMER,
            None if amount in (None, "") else parse_amount(amount, dispute.currency),
            disputed_amount=dispute.disputed_amount,
            currency=dispute.currency,
        )
        due_at = _deadline(dispute.merchant, RETURN_WINDOW, start=now)
        _fsm(
            dispute,
            "decide_return",
            amount=refund,
            reason=reason,
            decided_by_id=actor.user_id,
            due_at=due_at,
        )
        change = _Change(disputes=[dispute])
        change.events.append(events.return_decided(dispute, actor=actor, now=now))
        _persist(change, now=now)
    return dispute


def dispute_mark_return_shipped(
    *, dispute: Dispute, actor: Actor, message: str, now: datetime | None = None
) -> Dispute:
    """The customer says the goods are on their way back (with tracking details)."""
    message = _clean_message(message, required=True)
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        late = dispute.state == State.DECIDED and dispute.refund_offer == "after_return"
        if late or (dispute.state == State.AWAITING_RETURN and not is_open(dispute.due_at, now)):
            raise DeadlinePassed(gettext("The time to send the goods back has ended."))
        if dispute.state != State.AWAITING_RETURN or dispute.return_shipped_at is not None:
            raise TransitionNotAllowed()
        due_at = _deadline(dispute.merchant, RETURN_CONFIRM_WINDOW, start=now)
        _fsm(dispute, "mark_return_shipped", now=now, due_at=due_at)
        change = _Change(disputes=[dispute])
        change.events.append(events.return_shipped(dispute, actor=actor, now=now, message=message))
        _persist(change, now=now)
    return dispute


def dispute_confirm_return(
    *, dispute: Dispute, actor: Actor, message: str = "", now: datetime | None = None
) -> Dispute:
    """The merchant has the goods back: the refund support decided is made."""
    message = _clean_message(message, required=False)
    with transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        if dispute.state != State.AWAITING_RETURN:
            raise TransitionNotAllowed()
        _fsm(dispute, "close_return", now=now, goods_back=True)
        change = _Change(disputes=[dispute])
        change.events.append(events.return_received(dispute, actor=actor, now=now, message=message))
        change.events.append(events.decided(dispute, actor=SYSTEM, now=now))
        _settle_payment(dispute, change)
        _persist(change, now=now)
    return dispute


def dispute_appeal(
    *,
    dispute: Dispute,
    actor: Actor,
    message: str,
    documents: Sequence[CheckedFile] = (),
    now: datetime | None = None,
) -> Dispute:
    """The merchant appeals a decision, once, within 14 days, with new information."""
    message = _clean_message(message, required=True)
    if actor.kind != ActorKind.MERCHANT:
        raise TransitionNotAllowed()
    with _files_removed_on_failure() as stored, transaction.atomic():
        dispute = _lock(dispute, actor=actor)
        now = _now(now)
        if dispute.state != State.DECIDED:
            raise TransitionNotAllowed()
        if not appeal_open(
            closed_at=dispute.closed_at, appealed=dispute.appealed_at is not None, now=now
        ):
            raise DeadlinePassed(gettext("A decision can be appealed once, within 14 days."))
        _fsm(dispute, "appeal", now=now)
        change = _Change(disputes=[dispute])
        change.events.append(events.appealed(dispute, actor=actor, now=now, message=message))
        recorded = _persist(change, now=now)
        _attach(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute


def _check_appeal_decider(dispute: Dispute, actor: Actor) -> None:
    if dispute.appealed_at is not None and dispute.appealed_decision_by_id == actor.user_id:
        raise TransitionNotAllowed(
            gettext("An appeal is decided by a different staff member than the first decision.")
        )


# --- Deadline sweeps -----------------------------------------------------------------------------


def _sweep(
    candidates: Callable[[], QuerySet[Dispute]],
    apply: Callable[[Dispute, _Change], None],
    *,
    now: datetime,
    batch_size: int | None,
    changes_orders: bool,
) -> int:
    """Apply `apply` to every candidate, one locked batch per transaction, until none is left.

    Rows another transaction holds are skipped (SKIP LOCKED), not waited for: whoever holds them
    is changing them, and the next run re-reads them. Orders are locked too when `apply` may
    change them (a case that closes settles its order's payment).
    """
    size = batch_size or settings.SWEEP_BATCH_SIZE
    locked = ("self", "order") if changes_orders else ("self",)
    done = 0
    seen: set[int] = set()
    while True:
        with transaction.atomic():
            batch = list(
                candidates()
                .select_for_update(skip_locked=True, of=locked)
                .select_related("order", "merchant")
                .order_by("due_at", "pk")[:size]
            )
            if not batch or seen.issuperset(d.pk for d in batch):
                return done
            seen.update(d.pk for d in batch)
            change = _Change(disputes=batch)
            for dispute in batch:
                apply(dispute, change)
            _persist(change, now=now)
        done += len(batch)
        # After the commit: operators (and the fault tests) see progress batch by batch.
        logger.info(
            "sweep %s: committed a batch of %d (%d so far)", apply.__qualname__, len(batch), done
        )
        if len(batch) < size:
            return done


def _sweep_overdue(
    state: State,
    apply: Callable[[Dispute, _Change], None],
    *,
    now: datetime,
    batch_size: int | None,
    changes_orders: bool = True,
) -> int:
    """Apply `apply` to every case in `state` whose deadline has passed."""
    return _sweep(
        lambda: Dispute.objects.filter(state=state, due_at__lte=now),
        apply,
        now=now,
        batch_size=batch_size,
        changes_orders=changes_orders,
    )


def dispute_escalate_overdue(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Escalate every merchant window that has closed without an answer; charge the fee."""
    now = _now(now)

    def apply(dispute: Dispute, change: _Change) -> None:
        _escalate(dispute, change, now=now, actor=SYSTEM, cause="merchant_deadline")

    # An escalation leaves the order as it is: no need to lock it.
    return _sweep_overdue(
        State.AWAITING_MERCHANT, apply, now=now, batch_size=batch_size, changes_orders=False
    )


def dispute_close_overdue_customer_windows(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """A customer silent for the whole 20 days is taken to accept the merchant's offer."""
    now = _now(now)

    def apply(dispute: Dispute, change: _Change) -> None:
        _fsm(dispute, "settle", now=now)
        change.events.append(
            events.resolved(dispute, actor=SYSTEM, now=now, cause="customer_silent")
        )
        _settle_payment(dispute, change)

    return _sweep_overdue(State.AWAITING_CUSTOMER, apply, now=now, batch_size=batch_size)


def dispute_expire_information_requests(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """Unanswered requests from support: a silent merchant loses the case; a silent customer's
    case goes back to support to decide on what it has."""
    now = _now(now)

    def apply(dispute: Dispute, change: _Change) -> None:
        party = Party(dispute.information_requested_from)
        change.events.append(
            events.info_request_expired(dispute, actor=SYSTEM, now=now, party=party)
        )
        if party == Party.MERCHANT:
            _fsm(
                dispute,
                "decide",
                now=now,
                outcome=Outcome.CUSTOMER,
                settled_amount=dispute.disputed_amount,
                reason=gettext(
                    "The merchant did not send the information support asked for in time, "
                    "so the case is decided for the customer."
                ),
                decided_by_id=None,
            )
            change.events.append(events.decided(dispute, actor=SYSTEM, now=now))
            _settle_payment(dispute, change)
        else:
            _fsm(dispute, "return_to_support")

    return _sweep_overdue(State.INFO_REQUESTED, apply, now=now, batch_size=batch_size)


def dispute_expire_returns(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Return periods that ended: goods never sent back → decided for the merchant; sent back
    but not confirmed by the merchant in time → the refund is made."""
    now = _now(now)

    def apply(dispute: Dispute, change: _Change) -> None:
        shipped = dispute.return_shipped_at is not None
        change.events.append(events.return_expired(dispute, actor=SYSTEM, now=now, shipped=shipped))
        _fsm(dispute, "close_return", now=now, goods_back=shipped)
        change.events.append(events.decided(dispute, actor=SYSTEM, now=now))
        _settle_payment(dispute, change)

    return _sweep_overdue(State.AWAITING_RETURN, apply, now=now, batch_size=batch_size)


def dispute_send_due_reminders(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """Queue each due reminder once and move the case's reminder clock to the next one."""
    now = _now(now)

    def apply(dispute: Dispute, change: _Change) -> None:
        policy = policy_for(dispute.program)
        days_before = (
            policy.merchant_reminder_days
            if dispute.state == State.AWAITING_MERCHANT
            else policy.customer_reminder_days
        )
        change.events.append(
            events.reminder_sent(
                dispute,
                actor=SYSTEM,
                now=now,
                party=Party(dispute.next_actor),
                days_left=days_left(dispute.due_at, now),  # type: ignore[arg-type]
            )
        )
        dispute.reminder_due_at = next_reminder_at(dispute.due_at, days_before, after=now)

    return _sweep(
        lambda: Dispute.objects.filter(
            state__in=[State.AWAITING_MERCHANT, State.AWAITING_CUSTOMER],
            reminder_due_at__lte=now,
            due_at__gt=now,
        ),
        apply,
        now=now,
        batch_size=batch_size,
        changes_orders=False,  # a reminder leaves the order as it is
    )


# --- Buyer protection ----------------------------------------------------------------------------


def _sweep_orders(
    candidates: QuerySet[Order],
    *,
    mark: Callable[[Order], None],
    marked_field: str,
    notice_kind: str,
    now: datetime,
    batch_size: int | None,
) -> int:
    """Mark each candidate order and email its customer, one locked batch per transaction.

    `mark` changes `marked_field` so the order leaves `candidates`: a rerun sends nothing.
    """
    size = batch_size or settings.SWEEP_BATCH_SIZE
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                candidates.select_for_update(skip_locked=True, of=("self",))
                .select_related("merchant")
                .order_by("pk")[:size]
            )
            if not batch:
                return done
            for order in batch:
                mark(order)
                order.updated_at = now
            Order.objects.bulk_update(batch, [marked_field, "updated_at"])
            outbox_enqueue(notices=[_order_notice(order, notice_kind) for order in batch], now=now)
        done += len(batch)
        if len(batch) < size:
            return done


def order_send_protection_checkins(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """Day 23: ask each protected customer whether everything went well (once per order)."""
    now = _now(now)

    def mark(order: Order) -> None:
        order.protection_checkin_sent_at = now

    return _sweep_orders(
        Order.objects.filter(
            protection_status=ProtectionStatus.ACTIVE,
            protection_checkin_sent_at__isnull=True,
            placed_at__lte=now - timedelta(days=CHECKIN_AFTER_DAYS),
            protection_ends_at__gt=now,
        ).exclude(disputes__state__in=OPEN_STATES),
        mark=mark,
        marked_field="protection_checkin_sent_at",
        notice_kind="customer_protection_checkin",
        now=now,
        batch_size=batch_size,
    )


def order_send_protection_ending_notices(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """A few days before protection ends, tell the customer (once per end date)."""
    now = _now(now)

    def mark(order: Order) -> None:
        order.protection_ending_notice_for = order.protection_ends_at

    return _sweep_orders(
        Order.objects.filter(
            protection_status=ProtectionStatus.ACTIVE,
            protection_ends_at__gt=now,
            protection_ends_at__lte=now + timedelta(days=PROTECTION_ENDING_NOTICE_DAYS),
        )
        .exclude(protection_ending_notice_for=F("protection_ends_at"))
        .exclude(disputes__state__in=OPEN_STATES),
        mark=mark,
        marked_field="protection_ending_notice_for",
        notice_kind="customer_protection_ending",
        now=now,
        batch_size=batch_size,
    )


def order_expire_protection(*, now: datetime | None = None) -> int:
    """Protection ends at day 30 (60 after an extension): one set-based UPDATE."""
    now = _now(now)
    return Order.objects.filter(
        protection_status=ProtectionStatus.ACTIVE, protection_ends_at__lte=now
    ).update(protection_status=ProtectionStatus.EXPIRED, updated_at=now)


def order_extend_protection(*, order: Order, now: datetime | None = None) -> ExtensionDecision:
    """Extend protection once by 30 days (plus and one-time); basic must upgrade first."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        now = _now(now)
        decision = protection_extension(
            tier=order.protection_tier,
            status=order.protection_status,
            ends_at=order.protection_ends_at,
            extended=order.protection_extended_at is not None,
            now=now,
        )
        if decision == ExtensionDecision.GRANTED:
            assert order.protection_ends_at is not None  # noqa: S101 - guaranteed by the policy
            order.protection_ends_at += timedelta(days=EXTENSION_DAYS)
            order.protection_extended_at = now
            order.save(update_fields=["protection_ends_at", "protection_extended_at", "updated_at"])
            outbox_enqueue(notices=[_order_notice(order, "customer_protection_extended")], now=now)
    return decision


def order_end_protection(*, order: Order, now: datetime | None = None) -> bool:
    """The customer says all went well: protection ends early. False if it was not active."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.protection_status != ProtectionStatus.ACTIVE:
            return False
        order.protection_status = ProtectionStatus.ENDED
        order.save(update_fields=["protection_status", "updated_at"])
    return True


def _order_notice(order: Order, kind: str) -> EmailNotice:
    return EmailNotice(
        kind=kind,
        recipient=order.customer_email,
        dedupe_key=f"{kind}:order:{order.pk}:{order.protection_ends_at:%Y%m%d}",
        language=order.customer_language,
        time_zone=order.merchant.time_zone,
        context={
            "merchant_name": order.merchant.name,
            "order_number": order.order_number,
            "order_placed_at": order.placed_at.isoformat(),
            "answer_urls": {
                answer: protection_answer_url(order, answer)
                for answer in ("all_fine", "not_received", "no_refund", "extend", "other_request")
            },
            "protection_ends_at": order.protection_ends_at.isoformat()
            if order.protection_ends_at
            else None,
        },
    )
