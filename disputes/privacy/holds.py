"""Legal holds: support stops every deletion of a case's data until the hold is lifted."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import events
from ..actors import Actor, staff_id
from ..errors import DomainError
from ..models import Dispute, LegalHold


class HoldReasonMissing(DomainError):
    code = "hold_reason_missing"
    default_message = _("Say why: a legal hold or its lifting needs a reason.")

    def __init__(self) -> None:
        super().__init__(field="reason")


class AlreadyOnHold(DomainError):
    code = "already_on_hold"
    default_message = _("The case is already on legal hold.")


class NotOnHold(DomainError):
    code = "not_on_hold"
    default_message = _("The case is not on legal hold.")


def hold_in_force(dispute: Dispute) -> LegalHold | None:
    return dispute.legal_holds.filter(lifted_at__isnull=True).select_related("placed_by").first()


def order_held(order_ref: OuterRef | str) -> Exists:
    """Whether any case of the order is on hold: a hold keeps the order's whole history."""
    return Exists(LegalHold.objects.filter(dispute__order_id=order_ref, lifted_at__isnull=True))


def _reason(reason: str) -> str:
    if not reason.strip():
        raise HoldReasonMissing()
    return reason.strip()


def _locked_with_hold(dispute: Dispute) -> tuple[Dispute, LegalHold | None]:
    """The case, locked (its timeline's head), and the hold in force on it, if any."""
    locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
    return locked, locked.legal_holds.filter(lifted_at__isnull=True).first()


def legal_hold_place(
    *, dispute: Dispute, actor: Actor, reason: str, now: datetime | None = None
) -> LegalHold:
    reason, now = _reason(reason), now or timezone.now()
    with transaction.atomic():
        locked, current = _locked_with_hold(dispute)
        if current is not None:
            raise AlreadyOnHold()
        hold = LegalHold.objects.create(
            dispute=locked, reason=reason, placed_by_id=staff_id(actor), placed_at=now
        )
        events.record([events.legal_hold(locked, actor=actor, now=now, reason=reason, placed=True)])
    return hold


def legal_hold_lift(
    *, dispute: Dispute, actor: Actor, reason: str, now: datetime | None = None
) -> LegalHold:
    reason, now = _reason(reason), now or timezone.now()
    with transaction.atomic():
        locked, hold = _locked_with_hold(dispute)
        if hold is None:
            raise NotOnHold()
        hold.lifted_at, hold.lifted_by_id, hold.lift_reason = now, staff_id(actor), reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        events.record(
            [events.legal_hold(locked, actor=actor, now=now, reason=reason, placed=False)]
        )
    return hold
