"""Reads for the merchant's fee pages; each costs a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum

from disputes.contracts import contract_terms_at
from disputes.models import Dispute, Merchant, Order
from disputes.policies import policy_for
from disputes.selectors import month_rate_counts, rate_counts_from

from .models import DEFAULT_FEE_PLAN, FeeLine, FeeSchedule, Statement, StatementStatus
from .policies import (
    DEFAULT_MINIMUM_ORDERS,
    ELEVATED_RATE_THRESHOLD,
    FORECAST_PACE_DAYS,
    FeeTerms,
    Period,
    RateStanding,
    current_month,
    forecast_orders,
    forecast_rate,
    merchant_rate_standing,
    previous_month,
    standard_fee_at,
    surcharge_applies_at,
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
    """This month so far, as the merchant's dashboard and fee page show it."""

    period: Period
    fees: list[tuple[str, Decimal]]
    disputes_opened: int  # claims against the merchant, as the dispute rate counts them
    orders_placed: int
    rate: Decimal | None
    rate_threshold: Decimal
    minimum_orders: int
    forecast: Decimal | None
    forecast_orders: Decimal
    disputes_recent: int
    orders_recent: int
    # The statement's fee terms for the month; None when the currency has no schedule yet.
    terms: FeeTerms | None
    # Last month's final rate (None without orders): on the 1st this month has none yet.
    previous_rate: Decimal | None = None

    @property
    def above_threshold(self) -> bool:
        """The statement would charge the elevated fee if the month ended now."""
        return self.terms is not None and surcharge_applies_at(
            rate=self.rate, orders=self.orders_placed, terms=self.terms
        )

    @property
    def forecast_above_threshold(self) -> bool:
        """At this pace the month's statement would charge the elevated fee."""
        return self.terms is not None and surcharge_applies_at(
            rate=self.forecast, orders=self.forecast_orders, terms=self.terms
        )

    @property
    def below_minimum_orders(self) -> bool:
        return self.orders_placed < self.minimum_orders

    @property
    def standing(self) -> RateStanding:
        if self.terms is None:
            return RateStanding.OK  # no fee schedule: no elevated fee to warn of
        return merchant_rate_standing(
            rate=self.rate,
            orders=self.orders_placed,
            terms=self.terms,
            forecast_charges=self.forecast_above_threshold,
        )


def current_month_for_merchant(merchant: Merchant, now: datetime) -> CurrentMonth:
    """This month so far (UTC): fees fixed, the live rate, and its forecast from the last
    14 days' pace, judged by the terms its statement will use (the merchant's fee plan on the
    month's first day). Seven queries."""
    period = current_month(now)
    recent_from = now - timedelta(days=FORECAST_PACE_DAYS)
    fees = [
        (row["currency"], row["total"])
        for row in FeeLine.objects.filter(
            merchant=merchant, incurred_at__gte=period.start, incurred_at__lt=period.end
        )
        .values("currency")
        .annotate(total=Sum("amount"))
        .order_by("currency")
    ]
    # Up to the month's end: nothing is dated later than now, and a case opened this very
    # instant counts already.
    live = rate_counts_from(merchant, starts=[period.start, recent_from], end=period.end)
    before = previous_month(now)
    previous = month_rate_counts(merchant, start=before.start, end=before.end, now=now)
    so_far, pace = live[period.start], live[recent_from]
    schedule = [row.as_terms() for row in FeeSchedule.objects.filter(currency=merchant.currency)]
    # The plan of the contract terms in force on the month's first day, as the statement takes it.
    contract = contract_terms_at(merchant, period.start)
    plan = contract.fee_plan if contract is not None else DEFAULT_FEE_PLAN
    terms = terms_in_force(schedule, currency=merchant.currency, at=period.start, plan=plan)
    days_left = Decimal((period.end - now).total_seconds()) / Decimal(86400)
    return CurrentMonth(
        period=period,
        fees=fees,
        disputes_opened=so_far.claims,
        orders_placed=so_far.orders,
        rate=so_far.rate,
        rate_threshold=terms.rate_threshold if terms else ELEVATED_RATE_THRESHOLD,
        minimum_orders=terms.minimum_orders if terms else DEFAULT_MINIMUM_ORDERS,
        forecast=forecast_rate(
            disputes_so_far=so_far.claims,
            orders_so_far=so_far.orders,
            disputes_recent=pace.claims,
            orders_recent=pace.orders,
            days_left=days_left,
        ),
        forecast_orders=forecast_orders(
            orders_so_far=so_far.orders, orders_recent=pace.orders, days_left=days_left
        ),
        disputes_recent=pace.claims,
        orders_recent=pace.orders,
        terms=terms,
        previous_rate=previous.rate,
    )


def currencies_without_fee_schedule() -> list[str]:
    """The currencies of orders (and of merchants) that no fee schedule row prices."""
    priced = FeeSchedule.objects.values("currency")
    held = set(
        Order.objects.exclude(currency__in=priced).values_list("currency", flat=True).distinct()
    ) | set(
        Merchant.objects.exclude(currency__in=priced).values_list("currency", flat=True).distinct()
    )
    return sorted(held)


def priced_currencies(*, plan: str, currencies: set[str]) -> set[str]:
    """Which of these currencies the fee plan has a schedule row for (one query)."""
    return set(
        FeeSchedule.objects.filter(plan=plan, currency__in=currencies)
        .values_list("currency", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class CaseFee:
    """What a case costs its merchant: the fee lines it carries so far (the standard fee and
    any correction), and the standard fee an escalation would fix now, when none is charged
    yet and the case's reason charges one."""

    charged: Decimal | None
    if_escalated: Decimal | None
    currency: str


def case_fee(dispute: Dispute, now: datetime) -> CaseFee:
    """Two small queries: the case's fee lines, and (not yet charged) the fee schedule."""
    charged = FeeLine.objects.filter(dispute_id=dispute.pk).aggregate(total=Sum("amount"))["total"]
    if_escalated = None
    charges = policy_for(dispute.program).rule_for(dispute.reason).charges_fee
    if charged is None and charges and dispute.escalated_at is None:
        plan = dispute.terms.fee_plan if dispute.terms is not None else DEFAULT_FEE_PLAN
        schedule = [row.as_terms() for row in FeeSchedule.objects.filter(currency=dispute.currency)]
        if_escalated = standard_fee_at(schedule, currency=dispute.currency, at=now, plan=plan)
    return CaseFee(charged=charged, if_escalated=if_escalated, currency=dispute.currency)
