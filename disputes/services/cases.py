"""What the customer and the merchant do on a case: open, answer, reply, write, withdraw,
send back, confirm a return, appeal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext

from notifications.services import EmailNotice, outbox_enqueue

from .. import events, monthly
from ..actors import SYSTEM, Actor
from ..choices import (
    OPEN_STATES,
    ActorKind,
    EventType,
    Outcome,
    Party,
    Program,
    RefundOffer,
    State,
)
from ..contracts import contract_terms_at, terms_of
from ..eligibility import check_order_eligibility
from ..errors import (
    DeadlinePassed,
    DisputeAlreadyOpen,
    InvalidChoice,
    TransitionNotAllowed,
)
from ..links import customer_case_url
from ..models import Dispute, Order
from ..policies import (
    RETURN_CONFIRM_WINDOW,
    ReplyEffect,
    appeal_open,
    appeal_used,
    at_stake_for,
    customer_reply_effect,
    is_open,
    merchant_window_for,
    next_reminder_at,
    parse_amount,
    policy_for,
    refund_terms,
    settled_amount_for_decision,
    skips_customer_step,
    under_appeal,
)
from ..uploads import CheckedFile
from .machinery import (
    Change,
    EvidenceInput,
    apply_transition,
    attach_documents,
    attach_evidence,
    checked_evidence,
    clean_message,
    escalate,
    evidence_data,
    files_removed_on_failure,
    lock_for_actor,
    note_evidence,
    now_or_current,
    pause_for,
    persist,
    record_with_fees,
    retire_decision_record,
    settle_order,
    window_deadline,
)


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
    evidence: Sequence[EvidenceInput] = (),
    now: datetime | None = None,
) -> Dispute:
    """Open a case for an order: start the merchant's window, or go straight to support.

    `language` is the one the customer used; their emails follow it. `evidence` holds the items
    of the customer's checklist for the reason, given with the opening.
    """
    now = now_or_current(now)
    policy = policy_for(program)
    rule = policy.rule_for(reason)
    message = clean_message(message, required=True)
    with files_removed_on_failure() as stored, transaction.atomic():
        # The order lock serialises two openings of the same order.
        order = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        actor = actor or Actor.customer(order.customer_email)
        existing = Dispute.objects.filter(order=order, state__in=OPEN_STATES).first()
        if existing is not None:
            raise DisputeAlreadyOpen(existing.public_id)
        check_order_eligibility(order, program, now=now)
        terms_row = contract_terms_at(order.merchant, now)
        # What is still at stake: the amount less what earlier cases moved to the customer and
        # what the provider refunded outside the portal.
        amount = at_stake_for(
            amount=order.amount,
            moved_by_other_cases=order.moved_to_customer,
            refunded_outside=order.refunded_outside_amount,
            cancelled=False,
        )
        if disputed_amount is not None:
            amount = settled_amount_for_decision(
                Outcome.CUSTOMER,
                disputed_amount,
                disputed_amount=amount,
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
            terms=terms_row,
            opened_at=now,
        )
        given = checked_evidence(dispute, Party.CUSTOMER, evidence)
        note_evidence(dispute, Party.CUSTOMER, given)
        change = Change(
            events=[events.opened(dispute, actor=actor, now=now, items=evidence_data(given))]
        )
        if rule.straight_to_support:
            escalate(dispute, change, now=now, actor=SYSTEM, cause="straight_to_support")
        else:
            window = merchant_window_for(program, terms_of(terms_row))
            due_at = window_deadline(merchant, window, start=now)
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
        # Opened now, this changes no ended month; opened with an earlier date (the demo data),
        # it may: the kept figures of that month are marked stale.
        monthly.months_changed([(merchant.pk, now)])
        pause_for(dispute, change)
        if change.orders:
            order.save(update_fields=["payment_state", "updated_at"])
        recorded = record_with_fees(change, now=now)
        attach_documents(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
        attach_evidence(dispute, recorded[0], given, uploaded_by=actor.kind, stored=stored)
    return dispute


def dispute_respond(
    *,
    dispute: Dispute,
    actor: Actor,
    refund: str,
    amount: Decimal | str | None,
    message: str,
    documents: Sequence[CheckedFile] = (),
    evidence: Sequence[EvidenceInput] = (),
    now: datetime | None = None,
) -> Dispute:
    """The merchant's answer: a full, partial or after-return refund, or none; message required.
    `evidence` holds items of the merchant's checklist for the reason, given with the answer."""
    message = clean_message(message, required=True)
    with files_removed_on_failure() as stored, transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(
            now
        )  # read after the lock: the deadline is judged when we hold the row
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
        given = checked_evidence(dispute, Party.MERCHANT, evidence)
        note_evidence(dispute, Party.MERCHANT, given)
        items = evidence_data(given)
        change = Change(disputes=[dispute])
        if skips_customer_step(policy.rule_for(dispute.reason), terms):
            # Refused after a cancellation: the customer's step is skipped (docs/rules.md §2).
            dispute.refund_offer, dispute.refund_offer_amount = terms.offer, terms.amount
            change.events.append(
                events.offer_made(dispute, actor=actor, now=now, message=message, items=items)
            )
            escalate(dispute, change, now=now, actor=SYSTEM, cause="refused_after_cancellation")
        else:
            due_at = window_deadline(dispute.merchant, policy.customer_window, start=now)
            dispute.make_offer(
                terms=terms,
                due_at=due_at,
                reminder_due_at=next_reminder_at(due_at, policy.customer_reminder_days, after=now),
            )
            change.events.append(
                events.offer_made(dispute, actor=actor, now=now, message=message, items=items)
            )
        recorded = persist(change, now=now)
        attach_documents(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
        attach_evidence(dispute, recorded[0], given, uploaded_by=actor.kind, stored=stored)
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
    message = clean_message(message, required=False)
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if dispute.state != State.AWAITING_MERCHANT:
            _refuse_merchant_action(dispute)
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed()
        if dispute.program != Program.PAYMENT_DISPUTE:
            raise InvalidChoice(
                gettext("Only a payment dispute can be accepted outright."), field="action"
            )
        apply_transition(dispute, "accept_dispute", now=now)
        change = Change(disputes=[dispute])
        change.events.append(
            events.dispute_accepted(dispute, actor=actor, now=now, message=message)
        )
        change.events.append(
            events.resolved(dispute, actor=actor, now=now, cause="merchant_accepted")
        )
        settle_order(dispute, change)
        persist(change, now=now)
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
    message = clean_message(message, required=False)
    with files_removed_on_failure() as stored, transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if dispute.state != State.AWAITING_CUSTOMER:
            _refuse_customer_reply(dispute)
        if not is_open(dispute.due_at, now):
            raise DeadlinePassed(_reply_window_ended())
        effect = customer_reply_effect(
            dispute.refund_offer,
            reply,
            partial=(dispute.refund_offer_amount or 0) < dispute.disputed_amount,
        )
        change = Change(disputes=[dispute])
        change.events.append(
            events.customer_replied(dispute, actor=actor, now=now, reply=reply, message=message)
        )
        if effect == ReplyEffect.RESOLVE:
            apply_transition(dispute, "settle", now=now)
            change.events.append(events.resolved(dispute, actor=actor, now=now, cause=reply))
            settle_order(dispute, change)
        else:
            # The customer's reply is their event; the escalation is the rules' consequence.
            escalate(dispute, change, now=now, actor=SYSTEM, cause=reply)
        recorded = persist(change, now=now)
        attach_documents(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
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
    message = clean_message(message, required=True)
    if actor.kind not in (ActorKind.CUSTOMER, ActorKind.MERCHANT):
        raise TransitionNotAllowed()
    party = Party(actor.kind)
    with files_removed_on_failure() as stored, transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if not dispute.is_open:
            raise TransitionNotAllowed(
                gettext("This case is closed; no more messages can be added.")
            )
        change = Change()
        if (
            dispute.state == State.INFO_REQUESTED
            and dispute.information_requested_from == party
            and is_open(dispute.due_at, now)
        ):
            apply_transition(dispute, "return_to_support")
            change.disputes.append(dispute)
            event = events.info_provided(
                dispute, actor=actor, now=now, party=party, message=message
            )
        else:
            event = events.message(
                dispute, actor=actor, now=now, message=message, for_support=for_support
            )
        change.events.append(event)
        recorded = persist(change, now=now)
        attach_documents(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute


def dispute_add_evidence(
    *,
    dispute: Dispute,
    actor: Actor,
    evidence: Sequence[EvidenceInput],
    documents: Sequence[CheckedFile] = (),
    message: str = "",
    now: datetime | None = None,
) -> Dispute:
    """Evidence for support from the customer or the merchant, at any stage until the case is
    decided: items of the side's checklist (text, or documents tagged with the item they
    prove), other documents, and a note; at least one of them. Each addition is a new
    timeline event that the author and support see, never an edit of an earlier one; when
    support asked this side for information, it is that information and the case goes back
    to support."""
    message = clean_message(message, required=False)
    if actor.kind not in (ActorKind.CUSTOMER, ActorKind.MERCHANT):
        raise TransitionNotAllowed()
    if not evidence and not documents and not message:
        raise InvalidChoice(
            gettext("Give at least one evidence item, a document or a note."), field="evidence"
        )
    party = Party(actor.kind)
    with files_removed_on_failure() as stored, transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if not dispute.is_open or dispute.state == State.AWAITING_RETURN:
            raise TransitionNotAllowed(gettext("Evidence can be added until the case is decided."))
        given = checked_evidence(dispute, party, evidence)
        note_evidence(dispute, party, given)
        items = evidence_data(given)
        change = Change(disputes=[dispute])
        if (
            dispute.state == State.INFO_REQUESTED
            and dispute.information_requested_from == party
            and is_open(dispute.due_at, now)
        ):
            apply_transition(dispute, "return_to_support")
            event = events.info_provided(
                dispute, actor=actor, now=now, party=party, message=message, items=items
            )
        else:
            event = events.evidence_added(
                dispute, actor=actor, now=now, party=party, message=message, items=items
            )
        change.events.append(event)
        recorded = persist(change, now=now)
        attach_documents(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
        attach_evidence(dispute, recorded[0], given, uploaded_by=actor.kind, stored=stored)
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
        now = now_or_current(now)
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
    """The customer withdraws the case at any open stage, except while the merchant's appeal
    is with support (a decision under review is not undone from the side)."""
    message = clean_message(message, required=False)
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if under_appeal(state=dispute.state, appealed=dispute.appealed_at is not None):
            raise TransitionNotAllowed(
                gettext(
                    "The merchant has appealed support's decision and support is deciding the "
                    "case again, so it cannot be withdrawn now. You can still add a statement."
                )
            )
        apply_transition(dispute, "withdraw", now=now)
        change = Change(disputes=[dispute])
        change.events.append(events.withdrawn(dispute, actor=actor, now=now, message=message))
        settle_order(dispute, change)
        persist(change, now=now)
    return dispute


def dispute_mark_return_shipped(
    *, dispute: Dispute, actor: Actor, message: str, now: datetime | None = None
) -> Dispute:
    """The customer says the goods are on their way back (with tracking details)."""
    message = clean_message(message, required=True)
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        late = dispute.state == State.DECIDED and dispute.refund_offer == RefundOffer.AFTER_RETURN
        if late or (dispute.state == State.AWAITING_RETURN and not is_open(dispute.due_at, now)):
            raise DeadlinePassed(gettext("The time to send the goods back has ended."))
        if dispute.state != State.AWAITING_RETURN or dispute.return_shipped_at is not None:
            raise TransitionNotAllowed()
        due_at = window_deadline(dispute.merchant, RETURN_CONFIRM_WINDOW, start=now)
        apply_transition(dispute, "mark_return_shipped", now=now, due_at=due_at)
        change = Change(disputes=[dispute])
        change.events.append(events.return_shipped(dispute, actor=actor, now=now, message=message))
        persist(change, now=now)
    return dispute


def dispute_confirm_return(
    *, dispute: Dispute, actor: Actor, message: str = "", now: datetime | None = None
) -> Dispute:
    """The merchant has the goods back: the refund support decided is made."""
    message = clean_message(message, required=False)
    with transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if dispute.state != State.AWAITING_RETURN:
            raise TransitionNotAllowed()
        apply_transition(dispute, "close_return", now=now, goods_back=True)
        change = Change(disputes=[dispute])
        change.events.append(events.return_received(dispute, actor=actor, now=now, message=message))
        change.events.append(events.decided(dispute, actor=SYSTEM, now=now))
        settle_order(dispute, change)
        persist(change, now=now)
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
    message = clean_message(message, required=True)
    if actor.kind != ActorKind.MERCHANT:
        raise TransitionNotAllowed()
    with files_removed_on_failure() as stored, transaction.atomic():
        dispute = lock_for_actor(dispute, actor=actor)
        now = now_or_current(now)
        if dispute.state != State.DECIDED:
            raise TransitionNotAllowed()
        if not appeal_open(
            closed_at=dispute.closed_at,
            appealed=appeal_used(dispute),
            now=now,
            time_zone=dispute.merchant.time_zone,
            country=dispute.merchant.country,
        ):
            raise DeadlinePassed(gettext("A decision can be appealed once, within 14 days."))
        apply_transition(dispute, "appeal", now=now)
        retire_decision_record(dispute)
        change = Change(disputes=[dispute])
        change.events.append(events.appealed(dispute, actor=actor, now=now, message=message))
        recorded = persist(change, now=now)
        attach_documents(dispute, recorded[0], documents, uploaded_by=actor.kind, stored=stored)
    return dispute
