"""A merchant's figures for the months that have ended, counted once and kept (MerchantMonth).

Kept per month: the cases opened per reason in the merchant's time zone (the dashboard's
chart) and the dispute rate's claims and orders in UTC (last month's rate). They depend on
the cases' merchant, opening time and reason and on the orders' merchant and placing time,
nothing else: no state change touches them. A case opens now and keeps its reason, so only an
order placed in an ended month (a late feed, a back-fill) or moved out of one changes them:
`months_changed` marks those months stale in the writer's transaction, and the next read
counts them again.

A month is kept only once it has ended in every time zone and a while more (`SETTLE`, longer
than any writing transaction): whatever was written while it ran has committed by then. A
writer marks a month only when the moment it writes lies in a month that has ended everywhere;
a case opened now never does. A build reads the month's generation before it counts, and stores
its count only if the generation is still the one it read (an upsert with a condition): a
change committed meanwhile leaves the month stale for the next read. Builds are idempotent and
may run twice, late or side by side with a view; `manage.py build_month_figures` makes them
ahead of the first view.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from .models import Dispute, Merchant, MerchantMonth, Order
from .policies import CLAIM_REASONS

# The farthest any time zone is from UTC: a moment's local month is the UTC month of the moment
# up to this much earlier or later.
TZ_SPAN = timedelta(hours=14)
# Longer than any transaction that writes a case or an order.
SETTLE = timedelta(hours=1)


@dataclass(frozen=True)
class MonthFigures:
    month: date
    opened_by_reason: dict[str, int] = field(default_factory=dict)  # in the merchant's zone
    claims: int = 0  # UTC month
    orders: int = 0


def first_of(moment: datetime) -> date:
    """The first day of the moment's UTC month."""
    return moment.astimezone(UTC).date().replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _start(month: date, tz: tzinfo) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=tz)


def ended_everywhere(month: date, at: datetime) -> bool:
    return at >= _start(next_month(month), UTC) + TZ_SPAN


def kept(month: date, at: datetime) -> bool:
    """Whether the month's figures are kept (else counted on each read)."""
    return at >= _start(next_month(month), UTC) + TZ_SPAN + SETTLE


# --- Writes that change them ------------------------------------------------------------------


def months_changed(changes: Iterable[tuple[int, datetime]]) -> None:
    """Cases or orders of these merchants were written (created, moved, removed) at these
    moments: mark the ended months they may fall in stale. Call it in the writing transaction."""
    at = timezone.now()
    keys = sorted(
        {
            (merchant_id, month)
            for merchant_id, moment in changes
            for month in (first_of(moment - TZ_SPAN), first_of(moment + TZ_SPAN))
            if ended_everywhere(month, at)
        }
    )
    if keys:
        _mark_stale(keys)


def refresh(merchant: Merchant, months: Sequence[date], now: datetime) -> dict[date, MonthFigures]:
    """Count these months again whatever is kept (after data written around the write path)."""
    _mark_stale(sorted((merchant.pk, month) for month in months if kept(month, now)))
    return month_figures(merchant, months, now)


def _mark_stale(keys: Sequence[tuple[int, date]]) -> None:
    table = connection.ops.quote_name(MerchantMonth._meta.db_table)
    rows = ", ".join(["(%s, %s, 1, %s, '', %s, 0, 0)"] * len(keys))
    empty = connection.ops.adapt_json_value({}, None)
    params: list[Any] = []
    for merchant_id, month in keys:  # sorted: two writers lock the rows in the same order
        params += [merchant_id, connection.ops.adapt_datefield_value(month), False, empty]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (merchant_id, month, generation, fresh, time_zone, "  # noqa: S608
            f"opened_by_reason, claims, orders) VALUES {rows} "
            f"ON CONFLICT (merchant_id, month) DO UPDATE SET "
            f"generation = {table}.generation + 1, fresh = %s",
            [*params, False],
        )


# --- Reads ---------------------------------------------------------------------------------------


def month_figures(
    merchant: Merchant, months: Sequence[date], now: datetime
) -> dict[date, MonthFigures]:
    """The figures of those of these months that are kept, counting the missing or stale ones
    (three grouped queries) and storing them. One query when all are kept."""
    wanted = sorted({month for month in months if kept(month, now)})
    if not wanted:
        return {}
    rows = {
        row.month: row
        for row in MerchantMonth.objects.filter(merchant=merchant, month__in=wanted).only(
            "month", "generation", "fresh", "time_zone", "opened_by_reason", "claims", "orders"
        )
    }
    found: dict[date, MonthFigures] = {}
    generations: dict[date, int] = {}
    for month in wanted:
        row = rows.get(month)
        if row is not None and row.fresh and row.time_zone == merchant.time_zone:
            found[month] = MonthFigures(month, row.opened_by_reason, row.claims, row.orders)
        else:
            generations[month] = row.generation if row is not None else 0
    if generations:
        counted = _count(merchant, sorted(generations))
        _store(merchant, counted, generations, now)
        found.update(counted)
    return found


def _count(merchant: Merchant, months: Sequence[date]) -> dict[date, MonthFigures]:
    tz = ZoneInfo(merchant.time_zone)
    first, end = months[0], next_month(months[-1])
    opened: dict[date, dict[str, int]] = defaultdict(dict)
    for row in (
        Dispute.objects.filter(
            merchant=merchant, opened_at__gte=_start(first, tz), opened_at__lt=_start(end, tz)
        )
        .annotate(month=TruncMonth("opened_at", tzinfo=tz))
        .values("month", "reason")
        .annotate(total=Count("*"))
        .order_by()
    ):
        opened[_as_date(row["month"], tz)][row["reason"]] = row["total"]
    claims = _per_utc_month(
        Dispute.objects.filter(
            merchant=merchant,
            reason__in=CLAIM_REASONS,
            opened_at__gte=_start(first, UTC),
            opened_at__lt=_start(end, UTC),
        ),
        "opened_at",
    )
    orders = _per_utc_month(
        Order.objects.filter(
            merchant=merchant, placed_at__gte=_start(first, UTC), placed_at__lt=_start(end, UTC)
        ),
        "placed_at",
    )
    return {
        month: MonthFigures(
            month, dict(sorted(opened[month].items())), claims.get(month, 0), orders.get(month, 0)
        )
        for month in months
    }


def _per_utc_month(rows: QuerySet[Any], moment: str) -> dict[date, int]:
    return {
        _as_date(month, UTC): total
        for month, total in rows.annotate(month=TruncMonth(moment, tzinfo=UTC))
        .values("month")
        .annotate(total=Count("*"))
        .order_by()
        .values_list("month", "total")
    }


def _as_date(value: datetime | date, tz: tzinfo) -> date:
    return value.astimezone(tz).date() if isinstance(value, datetime) else value


def _store(
    merchant: Merchant,
    counted: dict[date, MonthFigures],
    generations: dict[date, int],
    now: datetime,
) -> None:
    """Upsert each month's count unless its generation moved since it was read."""
    table = connection.ops.quote_name(MerchantMonth._meta.db_table)
    months = sorted(generations)
    rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(months))
    params: list[Any] = []
    for month in months:
        figures = counted[month]
        params += [
            merchant.pk,
            connection.ops.adapt_datefield_value(month),
            generations[month],
            True,
            merchant.time_zone,
            connection.ops.adapt_json_value(figures.opened_by_reason, None),
            figures.claims,
            figures.orders,
            connection.ops.adapt_datetimefield_value(now),
        ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (merchant_id, month, generation, fresh, time_zone, "  # noqa: S608
            f"opened_by_reason, claims, orders, built_at) VALUES {rows} "
            f"ON CONFLICT (merchant_id, month) DO UPDATE SET fresh = excluded.fresh, "
            f"time_zone = excluded.time_zone, opened_by_reason = excluded.opened_by_reason, "
            f"claims = excluded.claims, orders = excluded.orders, built_at = excluded.built_at "
            f"WHERE {table}.generation = excluded.generation",
            params,
        )


# --- Ahead of the first view ---------------------------------------------------------------------


def recent_months(now: datetime, count: int = 13) -> list[date]:
    """The `count` UTC months before now's, oldest first: those a dashboard reads."""
    months = [first_of(now)]
    for _ in range(count):
        previous = months[-1] - timedelta(days=1)
        months.append(previous.replace(day=1))
    return sorted(months[1:])


def build(
    merchant: Merchant, now: datetime, *, count: int = 13, again: bool = False
) -> dict[date, MonthFigures]:
    """Keep the merchant's recent ended months: the missing or stale ones counted, or with
    `again` all of them (after rows written around the write path, such as the bench data)."""
    months = recent_months(now, count)
    return refresh(merchant, months, now) if again else month_figures(merchant, months, now)
