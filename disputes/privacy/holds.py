"""Legal holds: support stops every deletion of a case's data until the hold is lifted."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
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


def held_cases(queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
    return queryset.filter(order_held(OuterRef("order_id")))


def _locked(dispute: Dispute) -> Dispute:
    return Dispute.objects.select_for_update().get(pk=dispute.pk)


def legal_hold_place(
    *, dispute: Dispute, actor: Actor, reason: str, now: datetime | None = None
) -> LegalHold:
    reason = reason.strip()
    if not reason:
        raise HoldReasonMissing()
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(dispute)
        if locked.legal_holds.filter(lifted_at__isnull=True).exists():
            raise AlreadyOnHold()
        try:
            with transaction.atomic():
                hold = LegalHold.objects.create(
                    dispute=locked, reason=reason, placed_by_id=staff_id(actor), placed_at=now
                )
        except IntegrityError:  # one_legal_hold: a colleague placed one a moment ago
            raise AlreadyOnHold() from None
        events.record([events.legal_hold_placed(locked, actor=actor, now=now, reason=reason)])
    return hold


def legal_hold_lift(
    *, dispute: Dispute, actor: Actor, reason: str, now: datetime | None = None
) -> LegalHold:
    reason = reason.strip()
    if not reason:
        raise HoldReasonMissing()
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked(dispute)
        hold = locked.legal_holds.filter(lifted_at__isnull=True).first()
        if hold is None:
            raise NotOnHold()
        hold.lifted_at, hold.lifted_by_id, hold.lift_reason = now, staff_id(actor), reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        events.record([events.legal_hold_lifted(locked, actor=actor, now=now, reason=reason)])
    return hold
