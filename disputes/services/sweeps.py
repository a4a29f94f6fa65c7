"""The deadline sweeps: the same transitions and side effects as a click, a batch at a time.

One query per kind of write per batch, rows claimed with SELECT ... FOR UPDATE SKIP LOCKED, so a
sweep never waits for a user, and a user's action and a sweep never both take effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext

from .. import events
from ..actors import SYSTEM
from ..choices import (
    Outcome,
    Party,
    State,
)
from ..errors import TransitionNotAllowed
from ..models import Dispute
from ..policies import (
    days_left,
    next_reminder_at,
    policy_for,
)
from .machinery import (
    Change,
    apply_transition,
    escalate,
    now_or_current,
    persist,
    settle_order,
)

logger = logging.getLogger(__name__)


def _sweep(
    candidates: Callable[[], QuerySet[Dispute]],
    apply: Callable[[Dispute, Change], None],
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
            change = Change(disputes=batch)
            for dispute in batch:
                apply(dispute, change)
            persist(change, now=now)
        done += len(batch)
        # After the commit: operators (and the fault tests) see progress batch by batch.
        logger.info(
            "sweep %s: committed a batch of %d (%d so far)", apply.__qualname__, len(batch), done
        )
        if len(batch) < size:
            return done


def _sweep_overdue(
    state: State,
    apply: Callable[[Dispute, Change], None],
    *,
    now: datetime,
    batch_size: int | None,
    changes_orders: bool = True,
    only: Sequence[int] | None = None,
) -> int:
    """Apply `apply` to every case in `state` whose deadline has passed (or to those of `only`,
    for a test merchant's clock)."""

    def candidates() -> QuerySet[Dispute]:
        due = Dispute.objects.filter(state=state, due_at__lte=now)
        return due if only is None else due.filter(pk__in=only)

    return _sweep(
        candidates,
        apply,
        now=now,
        batch_size=batch_size,
        changes_orders=changes_orders,
    )


def dispute_escalate_overdue(
    *, now: datetime | None = None, batch_size: int | None = None, only: Sequence[int] | None = None
) -> int:
    """Escalate every merchant window that has closed without an answer; charge the fee."""
    now = now_or_current(now)

    def apply(dispute: Dispute, change: Change) -> None:
        escalate(dispute, change, now=now, actor=SYSTEM, cause="merchant_deadline")

    # An escalation leaves the order as it is: no need to lock it.
    return _sweep_overdue(
        State.AWAITING_MERCHANT,
        apply,
        now=now,
        batch_size=batch_size,
        changes_orders=False,
        only=only,
    )


def dispute_close_overdue_customer_windows(
    *, now: datetime | None = None, batch_size: int | None = None, only: Sequence[int] | None = None
) -> int:
    """A customer silent for the whole 20 days is taken to accept the merchant's offer."""
    now = now_or_current(now)

    def apply(dispute: Dispute, change: Change) -> None:
        apply_transition(dispute, "settle", now=now)
        change.events.append(
            events.resolved(dispute, actor=SYSTEM, now=now, cause="customer_silent")
        )
        settle_order(dispute, change)

    return _sweep_overdue(State.AWAITING_CUSTOMER, apply, now=now, batch_size=batch_size, only=only)


def dispute_expire_information_requests(
    *, now: datetime | None = None, batch_size: int | None = None, only: Sequence[int] | None = None
) -> int:
    """Unanswered requests from support: a silent merchant loses the case; a silent customer's
    case goes back to support to decide on what it has."""
    now = now_or_current(now)

    def apply(dispute: Dispute, change: Change) -> None:
        party = Party(dispute.information_requested_from)
        change.events.append(
            events.info_request_expired(dispute, actor=SYSTEM, now=now, party=party)
        )
        if party == Party.MERCHANT:
            apply_transition(
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
                code="merchant_did_not_answer",
            )
            change.events.append(events.decided(dispute, actor=SYSTEM, now=now))
            settle_order(dispute, change)
        else:
            apply_transition(dispute, "return_to_support")

    return _sweep_overdue(State.INFO_REQUESTED, apply, now=now, batch_size=batch_size, only=only)


def dispute_expire_returns(
    *, now: datetime | None = None, batch_size: int | None = None, only: Sequence[int] | None = None
) -> int:
    """Return periods that ended: goods never sent back → decided for the merchant; sent back
    but not confirmed by the merchant in time → the refund is made."""
    now = now_or_current(now)

    def apply(dispute: Dispute, change: Change) -> None:
        shipped = dispute.return_shipped_at is not None
        change.events.append(events.return_expired(dispute, actor=SYSTEM, now=now, shipped=shipped))
        apply_transition(dispute, "close_return", now=now, goods_back=shipped)
        change.events.append(events.decided(dispute, actor=SYSTEM, now=now))
        settle_order(dispute, change)

    return _sweep_overdue(State.AWAITING_RETURN, apply, now=now, batch_size=batch_size, only=only)


def dispute_test_advance(*, dispute: Dispute, now: datetime | None = None) -> Dispute:
    """A test merchant's case, taken past its current deadline: the deadline is moved to now
    and the sweep that handles the case's state runs for this case alone (the beat's code)."""
    now = now_or_current(now)
    sweeps: dict[str, Callable[..., int]] = {
        State.AWAITING_MERCHANT: dispute_escalate_overdue,
        State.AWAITING_CUSTOMER: dispute_close_overdue_customer_windows,
        State.INFO_REQUESTED: dispute_expire_information_requests,
        State.AWAITING_RETURN: dispute_expire_returns,
    }
    with transaction.atomic():
        current = Dispute.objects.select_related("merchant").get(pk=dispute.pk)
        if not current.merchant.test_mode:
            raise TransitionNotAllowed(gettext("Only a test merchant's cases can be advanced."))
        sweep = sweeps.get(current.state)
        if sweep is None or current.due_at is None:
            raise TransitionNotAllowed(gettext("This case is not waiting for a deadline now."))
        Dispute.objects.filter(pk=current.pk).update(due_at=min(current.due_at, now))
        sweep(now=now, only=[current.pk])
    return Dispute.objects.select_related("order", "merchant").get(pk=dispute.pk)


def dispute_send_due_reminders(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """Queue each due reminder once and move the case's reminder clock to the next one."""
    now = now_or_current(now)

    def apply(dispute: Dispute, change: Change) -> None:
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
