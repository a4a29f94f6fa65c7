"""Figures for the support desk: complaints per million orders, the refund causes (returned
but not refunded, paid but not received, a wrong amount), escalations, time to a decision and
merchants above the elevated rate. Test merchants are left out.

Reads only. Each function costs a fixed number of queries whatever the data size: the database
groups and counts, Python only arranges the grouped rows (at most months x programs x reasons).
Months are calendar months in UTC, listed newest first, empty months included.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, models
from django.db.models import Aggregate, Avg, Count, DurationField, F, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from .choices import Program, Reason, State
from .models import Dispute, Merchant, Order
from .policies import dispute_rate, policy_for, rate_standing
from .selectors import dispute_rate_counts, month_start

UTC = ZoneInfo("UTC")
PER_MILLION = 1_000_000
MERCHANT_ROWS_LIMIT = 100


class RefundCause(models.TextChoices):
    """The three reasons customers want money back (seed 003)."""

    RETURNED_NOT_REFUNDED = "returned_not_refunded", _("Returned but not refunded")
    PAID_NOT_RECEIVED = "paid_not_received", _("Paid but not received")
    WRONG_AMOUNT = "wrong_amount", _("Paid a wrong amount")


REFUND_CAUSE_REASONS: dict[str, tuple[str, ...]] = {
    RefundCause.RETURNED_NOT_REFUNDED: (
        Reason.RETURNED_NOT_REFUNDED,
        Reason.NO_REFUND_AFTER_RETURN,
    ),
    RefundCause.PAID_NOT_RECEIVED: (Reason.NOT_RECEIVED,),
    RefundCause.WRONG_AMOUNT: (Reason.WRONG_AMOUNT,),
}


# --- Shapes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplaintsMonth:
    month: date
    orders_placed: int
    disputes_opened: int
    # Disputes per million orders of the month; None when no orders were placed.
    per_million: Decimal | None
    # Reason -> disputes of that reason per million orders of the month (same None rule).
    by_reason: dict[str, Decimal | None]
    disputes_by_reason: dict[str, int]


@dataclass(frozen=True)
class ComplaintsFigures:
    months: list[ComplaintsMonth]
    # Program -> the same figures for that program's cases (still per million of all orders).
    by_program: dict[str, list[ComplaintsMonth]]


@dataclass(frozen=True)
class RefundCausesMonth:
    month: date
    orders_placed: int
    disputes: dict[str, int]
    per_million: dict[str, Decimal | None]


@dataclass(frozen=True)
class EscalationMonth:
    month: date
    disputes_opened: int
    escalated: int
    # Escalated / opened, of the cases opened that month; None when none were opened.
    share: Decimal | None

    @property
    def percent(self) -> Decimal | None:
        return None if self.share is None else self.share * 100


@dataclass(frozen=True)
class DecisionTimeMonth:
    month: date
    decided: int
    median_hours: float | None
    average_hours: float | None


@dataclass(frozen=True)
class MerchantRate:
    merchant_id: int
    name: str
    slug: str
    disputes_opened: int
    orders_placed: int
    rate: Decimal

    @property
    def percent(self) -> Decimal:
        return self.rate * 100


# --- Months --------------------------------------------------------------------------------------


def month_bounds(now: datetime, months_back: int = 0) -> tuple[datetime, datetime]:
    """[start, end) of the UTC calendar month `months_back` before the one holding `now`."""
    start = month_start(now, UTC, months_back=months_back)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _months(now: datetime, months: int) -> tuple[list[date], datetime, datetime]:
    """The months' first days (newest first) and the [start, end) instants they cover."""
    firsts = [month_start(now, UTC, months_back=back) for back in range(months)]
    return [first.date() for first in firsts], firsts[-1], month_bounds(now)[1]


def _month_key(value: datetime | date) -> date:
    # TruncMonth gives an aware datetime on both backends; a date is tolerated all the same.
    return value.astimezone(UTC).date() if isinstance(value, datetime) else value


def _per_million(count: int, orders: int) -> Decimal | None:
    rate = dispute_rate(disputes_opened=count, orders_placed=orders)
    return None if rate is None else rate * PER_MILLION


def _orders_by_month(start: datetime, end: datetime) -> dict[date, int]:
    rows = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end, merchant__test_mode=False)
        .annotate(month=TruncMonth("placed_at", tzinfo=UTC))
        .order_by()
        .values("month")
        .annotate(total=Count("id"))
    )
    return {_month_key(row["month"]): row["total"] for row in rows}


def _opened_by_month(start: datetime, end: datetime, *fields: str) -> QuerySet[Dispute, Any]:
    """Cases opened in [start, end), grouped by UTC month and `fields`, ready to annotate."""
    return (
        Dispute.objects.filter(opened_at__gte=start, opened_at__lt=end, merchant__test_mode=False)
        .annotate(month=TruncMonth("opened_at", tzinfo=UTC))
        .order_by()
        .values("month", *fields)
    )


# --- Complaints per million ----------------------------------------------------------------------


def complaints_per_million(*, now: datetime, months: int = 12) -> ComplaintsFigures:
    """Disputes opened per million orders placed, by month and reason, in two queries."""
    month_days, start, end = _months(now, months)
    orders = _orders_by_month(start, end)
    rows = _opened_by_month(start, end, "program", "reason").annotate(total=Count("id"))
    # (month, program, reason) -> disputes; a few hundred grouped rows at most.
    counts: dict[tuple[date, str, str], int] = {}
    per_program: dict[tuple[date, str], int] = defaultdict(int)
    for row in rows:
        month = _month_key(row["month"])
        counts[(month, row["program"], row["reason"])] = row["total"]
        per_program[(month, row["program"])] += row["total"]

    def months_for(programs: list[str], reasons: list[str]) -> list[ComplaintsMonth]:
        result = []
        for month in month_days:
            placed = orders.get(month, 0)
            opened = sum(per_program[(month, program)] for program in programs)
            by_reason = {
                reason: sum(counts.get((month, program, reason), 0) for program in programs)
                for reason in reasons
            }
            result.append(
                ComplaintsMonth(
                    month=month,
                    orders_placed=placed,
                    disputes_opened=opened,
                    per_million=_per_million(opened, placed),
                    by_reason={r: _per_million(n, placed) for r, n in by_reason.items()},
                    disputes_by_reason=by_reason,
                )
            )
        return result

    return ComplaintsFigures(
        months=months_for(list(Program.values), list(Reason.values)),
        by_program={
            program: months_for([program], [str(r) for r in policy_for(program).reason_choices])
            for program in Program.values
        },
    )


def refund_causes_per_million(*, now: datetime, months: int = 12) -> list[RefundCausesMonth]:
    """The three refund causes of seed 003 per million orders, by month, in two queries."""
    month_days, start, end = _months(now, months)
    orders = _orders_by_month(start, end)
    rows = _opened_by_month(start, end).annotate(
        **{
            cause: Count("id", filter=Q(reason__in=reasons))
            for cause, reasons in REFUND_CAUSE_REASONS.items()
        }
    )
    by_month = {_month_key(row["month"]): row for row in rows}
    result = []
    for month in month_days:
        placed = orders.get(month, 0)
        row = by_month.get(month, {})
        disputes = {cause: row.get(cause, 0) for cause in RefundCause.values}
        result.append(
            RefundCausesMonth(
                month=month,
                orders_placed=placed,
                disputes=disputes,
                per_million={c: _per_million(n, placed) for c, n in disputes.items()},
            )
        )
    return result


# --- Escalations ---------------------------------------------------------------------------------


def escalation_rate(*, now: datetime, months: int = 12) -> list[EscalationMonth]:
    """Of the cases opened each month, how many went to support (at any time since), in one
    query."""
    month_days, start, end = _months(now, months)
    rows = _opened_by_month(start, end).annotate(
        opened=Count("id"),
        escalated=Count("id", filter=Q(escalated_at__isnull=False)),
    )
    by_month = {_month_key(row["month"]): row for row in rows}
    result = []
    for month in month_days:
        row = by_month.get(month, {})
        opened, escalated = row.get("opened", 0), row.get("escalated", 0)
        share = Decimal(escalated) / Decimal(opened) if opened else None
        result.append(EscalationMonth(month, opened, escalated, share))
    return result


# --- Time to a decision --------------------------------------------------------------------------


class _Median(Aggregate):
    """PostgreSQL's continuous median (the mean of the two middle values for an even count)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def _hours(duration: timedelta | None) -> float | None:
    return None if duration is None else duration.total_seconds() / 3600


def time_to_decision(*, now: datetime, months: int = 12) -> list[DecisionTimeMonth]:
    """Hours from escalation to support's decision, by month of the decision, in one query."""
    month_days, start, end = _months(now, months)
    decided = Dispute.objects.filter(
        state=State.DECIDED,
        closed_at__gte=start,
        closed_at__lt=end,
        escalated_at__isnull=False,
        merchant__test_mode=False,
    ).annotate(
        month=TruncMonth("closed_at", tzinfo=UTC), duration=F("closed_at") - F("escalated_at")
    )
    figures: dict[date, DecisionTimeMonth] = {}
    if connection.vendor == "postgresql":
        rows = (
            decided.order_by()
            .values("month")
            .annotate(
                count=Count("id"),
                median=_Median("duration", output_field=DurationField()),
                average=Avg("duration", output_field=DurationField()),
            )
        )
        for row in rows:
            month = _month_key(row["month"])
            figures[month] = DecisionTimeMonth(
                month, row["count"], _hours(row["median"]), _hours(row["average"])
            )
    else:
        # No percentile function elsewhere (SQLite): the durations themselves, grouped here.
        durations: dict[date, list[float]] = defaultdict(list)
        for month_value, duration in decided.values_list("month", "duration"):
            durations[_month_key(month_value)].append(duration.total_seconds() / 3600)
        for month, hours in durations.items():
            figures[month] = DecisionTimeMonth(
                month, len(hours), statistics.median(hours), statistics.fmean(hours)
            )
    return [figures.get(month, DecisionTimeMonth(month, 0, None, None)) for month in month_days]


# --- Merchants above the elevated rate -----------------------------------------------------------


def merchants_above_threshold(
    *, start: datetime, end: datetime, now: datetime
) -> list[MerchantRate]:
    """Merchants whose dispute rate (claims opened / orders placed) in [start, min(end, now))
    is strictly above ELEVATED_RATE_THRESHOLD, highest rate first, at most
    MERCHANT_ROWS_LIMIT. The rate is counted as everywhere (`dispute_rate_counts`); one more
    query names the merchants above it.
    """
    end = min(end, now)
    counts = dispute_rate_counts(start=start, end=end)
    rates = {
        merchant_id: (count, count.rate)
        for merchant_id, count in counts.items()
        if count.rate is not None and rate_standing(count.rate) == "above"
    }
    # One query even when no merchant is above (pk -1 exists nowhere): the figure costs the
    # same whatever the data.
    named = {
        pk: (name, slug)
        for pk, name, slug in Merchant.objects.filter(pk__in=list(rates) or [-1]).values_list(
            "pk", "name", "slug"
        )
    }
    above = [
        MerchantRate(
            merchant_id=merchant_id,
            name=named[merchant_id][0],
            slug=named[merchant_id][1],
            disputes_opened=count.claims,
            orders_placed=count.orders,
            rate=rate,
        )
        for merchant_id, (count, rate) in rates.items()
        if rate is not None
    ]
    above.sort(key=lambda m: (-m.rate, -m.disputes_opened, m.name, m.merchant_id))
    return above[:MERCHANT_ROWS_LIMIT]
