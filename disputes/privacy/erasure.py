"""An erasure request (GDPR Art. 17): pseudonymise now what nothing still needs, and say what
is kept, why, and until when.

Needed still (Art. 17(3)(b) and (e)): a case that is open, on legal hold, or whose appeal
window has not ended, and every other case of the same order (the order's history is judged
as a whole). Kept in any case: the case record itself (dates, amounts, outcome, the who/when of
its timeline) and its fee and payment records, which hold no email or words of the customer,
for the bookkeeping period.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..actors import Actor, staff_id
from ..models import Dispute, PersonalDataRequest
from ..policies import appeal_deadline, appeal_open
from .export import customer_cases, customer_orders
from .policies import Kind, months_after, policy
from .removal import pseudonym, pseudonymise_cases, pseudonymise_orders


@dataclass(frozen=True)
class Kept:
    what: str
    why: str
    until: str | None  # ISO date, None while it depends on something still open


@dataclass
class ErasureReport:
    pseudonym: str
    cases_pseudonymised: list[str] = field(default_factory=list)
    orders_pseudonymised: int = 0
    kept: list[Kept] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _why_kept(case: Dispute, order_cases: list[Dispute], now: datetime) -> Kept | None:
    others = [c for c in order_cases if c.pk != case.pk]
    if case.is_open:
        return Kept(case.public_id, _("The case is open: it is still being handled."), None)
    if any(c.is_open for c in others):
        return Kept(case.public_id, _("Another case about the same order is open."), None)
    hold = next((h for c in order_cases for h in c.legal_holds.all() if h.lifted_at is None), None)
    if hold is not None:
        return Kept(case.public_id, _("Legal hold: %(reason)s") % {"reason": hold.reason}, None)
    merchant = case.merchant
    for c in order_cases:
        appealable = appeal_open(
            closed_at=c.closed_at,
            appealed=c.appealed_at is not None,
            now=now,
            time_zone=merchant.time_zone,
            country=merchant.country,
        )
        if appealable:
            assert c.closed_at is not None  # noqa: S101 (appeal_open says so)
            until = appeal_deadline(
                c.closed_at, time_zone=merchant.time_zone, country=merchant.country
            )
            return Kept(
                case.public_id,
                _("The merchant may still appeal the decision."),
                until.date().isoformat(),
            )
    return None


def _plan(email: str, now: datetime) -> tuple[ErasureReport, list[int], list[int]]:
    report = ErasureReport(pseudonym=pseudonym(email))
    cases = list(
        customer_cases(email)
        .select_related("merchant")
        .prefetch_related("legal_holds")
        .order_by("opened_at", "pk")
    )
    by_order: dict[int, list[Dispute]] = defaultdict(list)
    for case in cases:
        by_order[case.order_id].append(case)
    to_pseudonymise: list[int] = []
    records = policy(Kind.FEE_RECORDS)
    for case in cases:
        if case.pseudonymised_at is not None:
            continue
        kept = _why_kept(case, by_order[case.order_id], now)
        if kept is not None:
            report.kept.append(kept)
            continue
        to_pseudonymise.append(case.pk)
        report.cases_pseudonymised.append(case.public_id)
        assert case.closed_at is not None  # noqa: S101 (only closed cases get here)
        end_of_year = case.closed_at.replace(month=12, day=31)
        report.kept.append(
            Kept(
                _("The record of case %(case)s (dates, amounts, outcome) and its fees")
                % {"case": case.public_id},
                str(records.why),
                months_after(end_of_year, records.months).date().isoformat(),
            )
        )
    orders = list(
        customer_orders(email)
        .filter(pseudonymised_at__isnull=True, disputes__isnull=True)
        .values_list("pk", flat=True)
    )
    return report, to_pseudonymise, orders


def erasure_plan(*, email: str, now: datetime | None = None) -> ErasureReport:
    """What an erasure would do now, without doing it (support reads it before confirming)."""
    report, _cases, orders = _plan(email, now or timezone.now())
    report.orders_pseudonymised = len(orders)
    return report


def erasure_apply(*, email: str, actor: Actor, now: datetime | None = None) -> ErasureReport:
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(customer_cases(email).select_for_update().values_list("pk", flat=True))
        report, cases, orders = _plan(email, now)
        assert set(cases) <= set(ids)  # noqa: S101
        pseudonymise_cases(cases, now=now, actor=actor)
        report.orders_pseudonymised = pseudonymise_orders(orders, now=now)
        PersonalDataRequest.objects.create(
            kind=PersonalDataRequest.Kind.ERASURE,
            pseudonym=report.pseudonym,
            handled_by_id=staff_id(actor),
            handled_at=now,
            summary=report.as_dict(),
        )
    return report
