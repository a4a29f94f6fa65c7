"""Reads for the merchant's fee pages; each costs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum

from disputes.models import Dispute, Merchant, Order
from disputes.policies import rate_standing
from disputes.selectors import month_start

from .models import FeeLine, FeeSchedule, Statement, StatementStatus
from .policies import (
    DEFAULT_MINIMUM_ORDERS,
    ELEVATED_RATE_THRESHOLD,
    FORECAST_PACE_DAYS,
    Period,
    current_month,
    dispute_rate,
    forecast_rate,
    terms_in_force,
)


def statements_for_merchant(merchant: Merchant) -> QuerySet[Statement]:
    """The merchant's issued statements, newest month first (drafts are not theirs to see)."""
    return Statement.objects.filter(merchant=merchant, status=StatementStatus.ISSUED).order_by(
        "-period_start", "currency"
    )


def statement_for_merchant(merchant: Merchant, statement_id: int) -> Statement | None:
    """One issued statement of this merchant with its lines and their cases, or None."""
    return (
        statements_for_merchant(merchant)
        .filter(pk=statement_id)
        .prefetch_related("lines__dispute", "lines__corrects__statement")
        .first()
    )


@dataclass(frozen=True)
class CurrentMonth:
    period: Period
    fees: list[tuple[str, Decimal]]
    disputes_opened: int
    orders_placed: int
    rate: Decimal | None
    rate_threshold: Decimal
    minimum_orders: int
    forecast: Decimal | None
    disputes_recent: int
    orders_recent: int

    @property
    def above_threshold(self) -> bool:
        return self.rate is not None and self.rate > self.rate_threshold

    @property
    def forecast_above_threshold(self) -> bool:
        return self.forecast is not None and self.forecast > self.rate_threshold

    @property
    def below_minimum_orders(self) -> bool:
        return self.orders_placed < self.minimum_orders


def current_month_for_merchant(merchant: Merchant, now: datetime) -> CurrentMonth:
    """This month so far (UTC): fees fixed, the live rate, and its forecast from the last
    14 days' pace. Five queries."""
    period = current_month(now)
    recent_from = now - timedelta(days=FORECAST_PACE_DAYS)
    since = min(period.start, recent_from)
    fees = [
        (row["currency"], row["total"])
        for row in FeeLine.objects.filter(
            merchant=merchant, incurred_at__gte=period.start, incurred_at__lt=period.end
        )
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    ]
    disputes = Dispute.objects.filter(
        merchant=merchant, opened_at__gte=since, opened_at__lt=now
    ).aggregate(
        month=Count("id", filter=Q(opened_at__gte=period.start)),
        recent=Count("id", filter=Q(opened_at__gte=recent_from)),
    )
    orders = Order.objects.filter(
        merchant=merchant, placed_at__gte=since, placed_at__lt=now
    ).aggregate(
        month=Count("id", filter=Q(placed_at__gte=period.start)),
        recent=Count("id", filter=Q(placed_at__gte=recent_from)),
    )
    schedule = [row.as_terms() for row in FeeSchedule.objects.filter(currency=merchant.currency)]
    terms = terms_in_force(schedule, currency=merchant.currency, at=now)
    days_left = Decimal((period.end - now).total_seconds()) / Decimal(86400)
    return CurrentMonth(
        period=period,
        fees=fees,
        disputes_opened=disputes["month"],
        orders_placed=orders["month"],
        rate=dispute_rate(disputes_opened=disputes["month"], orders_placed=orders["month"]),
        rate_threshold=terms.rate_threshold if terms else ELEVATED_RATE_THRESHOLD,
        minimum_orders=terms.minimum_orders if terms else DEFAULT_MINIMUM_ORDERS,
        forecast=forecast_rate(
            disputes_so_far=disputes["month"],
            orders_so_far=orders["month"],
            disputes_recent=disputes["recent"],
            orders_recent=orders["recent"],
            days_left=days_left,
        ),
        disputes_recent=disputes["recent"],
        orders_recent=orders["recent"],
    )


# --- The dashboard's month ----------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRate:
    disputes_opened: int
    orders_placed: int
    rate: Decimal | None
    standing: str


# Fees are billed per calendar month in UTC (billing): the dashboard counts the same month.
BILLING_TZ = ZoneInfo("UTC")


def dashboard_month_rate(merchant: Merchant, now: datetime) -> MonthRate:
    start = month_start(now, BILLING_TZ)
    opened = Dispute.objects.filter(merchant=merchant, opened_at__gte=start).count()
    orders = Order.objects.filter(merchant=merchant, placed_at__gte=start).count()
    rate = dispute_rate(disputes_opened=opened, orders_placed=orders)
    return MonthRate(opened, orders, rate, rate_standing(rate))


def dashboard_fees_this_month(merchant: Merchant, now: datetime) -> list[tuple[str, Decimal]]:
    start = month_start(now, BILLING_TZ)
    rows = (
        FeeLine.objects.filter(merchant=merchant, incurred_at__gte=start)
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    )
    return [(row["currency"], row["total"]) for row in rows]
