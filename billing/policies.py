"""Fee rules as pure functions (docs/rules.md §7)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from disputes.choices import Outcome
from disputes.policies import ELEVATED_RATE_THRESHOLD, WARNING_SHARE, dispute_rate, round_money

# --- Fee schedule --------------------------------------------------------------------------------

DEFAULT_ELEVATED_FEE_EUR = Decimal("30.00")
DEFAULT_MINIMUM_ORDERS = 100


@dataclass(frozen=True)
class FeeTerms:
    """The fee schedule of one currency from `valid_from` (a UTC calendar day) on."""

    currency: str
    valid_from: date
    standard_fee: Decimal
    elevated_fee: Decimal
    rate_threshold: Decimal = ELEVATED_RATE_THRESHOLD
    minimum_orders: int = DEFAULT_MINIMUM_ORDERS
    waive_when_merchant_wins: bool = False
    plan: str = "standard"


def terms_in_force(
    schedule: Iterable[FeeTerms], *, currency: str, at: datetime, plan: str = "standard"
) -> FeeTerms | None:
    """The schedule row of `plan` and `currency` in force at the instant `at`: the latest one
    whose valid-from day (UTC) has begun. None when the plan has no row for the currency yet."""
    day = at.astimezone(UTC).date()
    candidates = [
        terms
        for terms in schedule
        if terms.plan == plan and terms.currency == currency.upper() and terms.valid_from <= day
    ]
    return max(candidates, key=lambda terms: terms.valid_from, default=None)


def standard_fee_at(
    schedule: Iterable[FeeTerms], *, currency: str, at: datetime, plan: str = "standard"
) -> Decimal | None:
    """The standard fee fixed when a case is escalated at `at`, or None when the plan has no
    row for the currency: no fee is ever priced from another currency's number."""
    terms = terms_in_force(schedule, currency=currency, at=at, plan=plan)
    return None if terms is None else round_money(terms.standard_fee, currency)


# --- Billing periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month in UTC: from `start` (midnight of the 1st) up to, not including, `end`."""

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def month_of(day: date) -> Period:
    start = datetime(day.year, day.month, 1, tzinfo=UTC)
    end = datetime(day.year + (day.month == 12), day.month % 12 + 1, 1, tzinfo=UTC)
    return Period(start=start, end=end)


def current_month(now: datetime) -> Period:
    return month_of(now.astimezone(UTC).date())


def previous_month(now: datetime) -> Period:
    """The last calendar month (UTC) that has ended at `now`: the one a statement bills."""
    return month_of(current_month(now).start.date() - timedelta(days=1))


# --- Surcharge and waivers -----------------------------------------------------------------------


def surcharge_applies(*, disputes_opened: int, orders_placed: int, terms: FeeTerms) -> bool:
    """The elevated fee applies when the month's rate is strictly above the threshold and the
    merchant had at least the minimum number of orders (small shops are never surcharged)."""
    rate = dispute_rate(disputes_opened=disputes_opened, orders_placed=orders_placed)
    return surcharge_applies_at(rate=rate, orders=orders_placed, terms=terms)


def surcharge_applies_at(*, rate: Decimal | None, orders: Decimal | int, terms: FeeTerms) -> bool:
    """The same rule for any rate and order count, the forecast's projected ones included."""
    return orders >= terms.minimum_orders and rate is not None and rate > terms.rate_threshold


class RateStanding(StrEnum):
    """What a merchant is told of this month's rate; only ABOVE means the fee is charged."""

    ABOVE = "above"  # the statement would charge the elevated fee
    ABOVE_FEW_ORDERS = "above_few_orders"  # above the threshold, with too few orders to charge
    WARNING = "warning"  # close to the threshold, or heading above it
    OK = "ok"


def merchant_rate_standing(
    *, rate: Decimal | None, orders: int, terms: FeeTerms, forecast_charges: bool = False
) -> RateStanding:
    """The dashboard's and fee page's word on the month: from the statement's own rule."""
    if surcharge_applies_at(rate=rate, orders=orders, terms=terms):
        return RateStanding.ABOVE
    if rate is not None and rate > terms.rate_threshold:
        return RateStanding.ABOVE_FEW_ORDERS
    close = rate is not None and rate >= terms.rate_threshold * WARNING_SHARE
    return RateStanding.WARNING if close or forecast_charges else RateStanding.OK


class Waiver(StrEnum):
    FRAUD_PROVEN = "fraud_proven"
    MERCHANT_WON = "merchant_won"


def waiver_for(
    *, outcome: str, fraud_proven: bool, waive_when_merchant_wins: bool
) -> Waiver | None:
    """Why a case's fees are waived, or None when they are due."""
    if fraud_proven:
        return Waiver.FRAUD_PROVEN
    if waive_when_merchant_wins and outcome == Outcome.MERCHANT:
        return Waiver.MERCHANT_WON
    return None


# --- Statement lines -----------------------------------------------------------------------------


class LineKind(StrEnum):
    STANDARD = "standard"
    SURCHARGE = "surcharge"
    WAIVED = "waived"
    CREDIT = "credit"
    DEBIT = "debit"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True)
class EscalationCharge:
    """A fee line fixed during the month (normally a case's standard fee)."""

    fee_line_id: int
    dispute_id: int | None
    amount: Decimal
    is_standard: bool
    outcome: str = ""
    fraud_proven: bool = False


@dataclass(frozen=True)
class PlannedLine:
    kind: LineKind
    amount: Decimal
    dispute_id: int | None = None
    fee_line_id: int | None = None
    # What a waived line would have cost; kept so a later reversal knows what to charge.
    waived_amount: Decimal = Decimal("0")
    waiver: str = ""
    corrects_line_id: int | None = None
    correction_seq: int | None = None


def plan_month_lines(
    *,
    charges: Sequence[EscalationCharge],
    currency: str,
    surcharge: Decimal | None,
    waive_when_merchant_wins: bool,
) -> list[PlannedLine]:
    """The lines of one month: per escalated case its standard fee, or a zero line saying why
    it is waived, and the surcharge when the month's rate called for one (`surcharge` is the
    amount per case, None when it does not apply). Every amount is rounded at the line."""
    lines: list[PlannedLine] = []
    for charge in charges:
        amount = round_money(charge.amount, currency)
        if not charge.is_standard:
            lines.append(
                PlannedLine(LineKind.ADJUSTMENT, amount, charge.dispute_id, charge.fee_line_id)
            )
            continue
        elevated = round_money(surcharge, currency) if surcharge is not None else None
        waiver = waiver_for(
            outcome=charge.outcome,
            fraud_proven=charge.fraud_proven,
            waive_when_merchant_wins=waive_when_merchant_wins,
        )
        if waiver is not None:
            lines.append(
                PlannedLine(
                    LineKind.WAIVED,
                    round_money(Decimal(0), currency),
                    charge.dispute_id,
                    charge.fee_line_id,
                    waived_amount=amount + (elevated or 0),
                    waiver=waiver,
                )
            )
            continue
        lines.append(PlannedLine(LineKind.STANDARD, amount, charge.dispute_id, charge.fee_line_id))
        if elevated is not None:
            lines.append(PlannedLine(LineKind.SURCHARGE, elevated, charge.dispute_id))
    return lines


@dataclass(frozen=True)
class BilledCase:
    """A case billed on an issued statement, with everything charged for it since."""

    dispute_id: int
    original_line_id: int
    # What the case cost when it was billed, waived or not (standard + surcharge).
    original_due: Decimal
    # The sum of all its lines so far: the original ones and earlier corrections.
    net_charged: Decimal
    corrections_so_far: int
    outcome: str
    fraud_proven: bool
    waive_when_merchant_wins: bool


def plan_correction(case: BilledCase, *, currency: str) -> PlannedLine | None:
    """A credit when a case billed earlier is now waived (e.g. decided for the merchant after
    the statement was issued), a debit when a waiver no longer holds, else nothing."""
    waiver = waiver_for(
        outcome=case.outcome,
        fraud_proven=case.fraud_proven,
        waive_when_merchant_wins=case.waive_when_merchant_wins,
    )
    target = Decimal(0) if waiver is not None else case.original_due
    difference = round_money(target - case.net_charged, currency)
    if difference == 0:
        return None
    return PlannedLine(
        LineKind.CREDIT if difference < 0 else LineKind.DEBIT,
        difference,
        case.dispute_id,
        waiver=waiver or "",
        corrects_line_id=case.original_line_id,
        correction_seq=case.corrections_so_far + 1,
    )


def statement_total(lines: Iterable[PlannedLine], currency: str) -> Decimal:
    """The sum of the (already rounded) lines: a total never rounds on its own."""
    return round_money(sum((line.amount for line in lines), Decimal(0)), currency)


# --- Forecast ------------------------------------------------------------------------------------

FORECAST_PACE_DAYS = 14


def forecast_orders(
    *,
    orders_so_far: int,
    orders_recent: int,
    days_left: Decimal,
    pace_days: int = FORECAST_PACE_DAYS,
) -> Decimal:
    """The month's orders if the rest of it goes at the pace of the last `pace_days` days."""
    factor = max(Decimal(0), days_left) / Decimal(pace_days)
    return Decimal(orders_so_far) + Decimal(orders_recent) * factor


def forecast_rate(
    *,
    disputes_so_far: int,
    orders_so_far: int,
    disputes_recent: int,
    orders_recent: int,
    days_left: Decimal,
    pace_days: int = FORECAST_PACE_DAYS,
) -> Decimal | None:
    """The month's rate if the rest of it goes at the daily pace of the last `pace_days` days:
    (cases so far + recent cases per day * days left) ÷ (orders so far + recent orders per day
    * days left). None when no orders are expected at all."""
    factor = max(Decimal(0), days_left) / Decimal(pace_days)
    projected_orders = forecast_orders(
        orders_so_far=orders_so_far,
        orders_recent=orders_recent,
        days_left=days_left,
        pace_days=pace_days,
    )
    if projected_orders <= 0:
        return None
    projected_disputes = Decimal(disputes_so_far) + Decimal(disputes_recent) * factor
    return projected_disputes / projected_orders
