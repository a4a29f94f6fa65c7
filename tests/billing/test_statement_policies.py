"""Rates, surcharges, waivers, corrections and periods (billing/policies.py), without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billing.policies import (
    BilledCase,
    EscalationCharge,
    FeeTerms,
    LineKind,
    Waiver,
    current_month,
    dispute_rate,
    forecast_rate,
    month_of,
    plan_correction,
    plan_month_lines,
    previous_month,
    standard_fee_at,
    statement_total,
    surcharge_applies,
    terms_in_force,
    waiver_for,
)

EUR = FeeTerms(
    currency="EUR",
    valid_from=date(2000, 1, 1),
    standard_fee=Decimal("7.50"),
    elevated_fee=Decimal("30.00"),
)
SCHEDULE = [
    EUR,
    FeeTerms("SEK", date(2000, 1, 1), Decimal("85.00"), Decimal("340.00")),
    FeeTerms("EUR", date(2026, 3, 15), Decimal("9.00"), Decimal("30.00")),
]


def charge(n: int, amount: str = "7.50", **kwargs) -> EscalationCharge:
    return EscalationCharge(
        fee_line_id=n, dispute_id=n, amount=Decimal(amount), is_standard=True, **kwargs
    )


# --- Dispute rate --------------------------------------------------------------------------------


def test_a_month_without_orders_has_no_rate_rather_than_a_division_error():
    assert dispute_rate(disputes_opened=3, orders_placed=0) is None
    assert not surcharge_applies(disputes_opened=3, orders_placed=0, terms=EUR)


def test_rate_is_disputes_opened_over_orders_placed():
    assert dispute_rate(disputes_opened=3, orders_placed=200) == Decimal("0.015")


def test_exactly_one_and_a_half_percent_is_not_above_the_threshold():
    assert not surcharge_applies(disputes_opened=15, orders_placed=1000, terms=EUR)
    assert surcharge_applies(disputes_opened=16, orders_placed=1000, terms=EUR)


def test_merchants_below_the_minimum_order_count_pay_no_surcharge():
    assert not surcharge_applies(disputes_opened=50, orders_placed=99, terms=EUR)
    assert surcharge_applies(disputes_opened=2, orders_placed=100, terms=EUR)


def test_crossing_the_threshold_on_the_last_day_of_the_month_applies_the_surcharge():
    march = month_of(date(2026, 3, 1))
    opened = [datetime(2026, 3, day, 12, tzinfo=UTC) for day in range(1, 16)]  # 15 cases
    opened.append(datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC))  # the 16th, on the last day
    opened.append(datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # April's, not March's
    in_march = sum(march.contains(moment) for moment in opened)
    assert in_march == 16
    assert surcharge_applies(disputes_opened=in_march, orders_placed=1000, terms=EUR)
    assert not surcharge_applies(disputes_opened=in_march - 1, orders_placed=1000, terms=EUR)


# --- Periods -------------------------------------------------------------------------------------


def test_a_month_starts_and_ends_at_midnight_utc():
    march = month_of(date(2026, 3, 17))
    assert march.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert march.end == datetime(2026, 4, 1, tzinfo=UTC)
    assert march.last_day == date(2026, 3, 31)
    assert march.contains(datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert not march.contains(datetime(2026, 4, 1, tzinfo=UTC))
    assert not march.contains(datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC))


def test_the_month_billed_is_the_one_before_now_in_utc_whatever_the_local_time():
    amsterdam_summer = timezone(timedelta(hours=2))
    # 1 April 01:30 in Amsterdam is still 31 March in UTC: March is not over yet.
    assert previous_month(datetime(2026, 4, 1, 1, 30, tzinfo=amsterdam_summer)).first_day == date(
        2026, 2, 1
    )
    assert previous_month(datetime(2026, 4, 1, 0, 0, tzinfo=UTC)).first_day == date(2026, 3, 1)
    # 31 March 23:30 at UTC-1 is 1 April 00:30 UTC.
    minus_one = timezone(timedelta(hours=-1))
    assert previous_month(datetime(2026, 3, 31, 23, 30, tzinfo=minus_one)).first_day == date(
        2026, 3, 1
    )


def test_january_bills_december_of_the_year_before():
    december = previous_month(datetime(2027, 1, 15, tzinfo=UTC))
    assert (december.first_day, december.last_day) == (date(2026, 12, 1), date(2026, 12, 31))
    assert current_month(datetime(2026, 12, 31, 23, 0, tzinfo=UTC)).end == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_february_of_a_leap_year_has_29_days():
    assert month_of(date(2028, 2, 10)).last_day == date(2028, 2, 29)


# --- Schedule versions ---------------------------------------------------------------------------


def test_a_schedule_row_applies_from_midnight_utc_of_its_first_day():
    before = datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC)
    on = datetime(2026, 3, 15, 0, 0, tzinfo=UTC)
    assert terms_in_force(SCHEDULE, currency="EUR", at=before).standard_fee == Decimal("7.50")
    assert terms_in_force(SCHEDULE, currency="EUR", at=on).standard_fee == Decimal("9.00")


def test_each_currency_has_its_own_schedule_and_an_unknown_one_has_none():
    at = datetime(2026, 3, 20, tzinfo=UTC)
    assert terms_in_force(SCHEDULE, currency="sek", at=at).standard_fee == Decimal("85.00")
    assert terms_in_force(SCHEDULE, currency="NOK", at=at) is None


def test_without_a_schedule_row_no_standard_fee_is_known():
    at = datetime(2026, 3, 20, tzinfo=UTC)
    assert standard_fee_at(SCHEDULE, currency="NOK", at=at) is None
    assert standard_fee_at(SCHEDULE, currency="EUR", at=at) == Decimal("9.00")


# --- Lines ---------------------------------------------------------------------------------------


def test_each_escalated_case_gets_its_standard_fee_and_the_surcharge_when_due():
    lines = plan_month_lines(
        charges=[charge(1), charge(2)],
        currency="EUR",
        surcharge=Decimal("30"),
        waive_when_merchant_wins=False,
    )
    assert [(line.kind, line.amount, line.dispute_id) for line in lines] == [
        (LineKind.STANDARD, Decimal("7.50"), 1),
        (LineKind.SURCHARGE, Decimal("30.00"), 1),
        (LineKind.STANDARD, Decimal("7.50"), 2),
        (LineKind.SURCHARGE, Decimal("30.00"), 2),
    ]
    assert statement_total(lines, "EUR") == Decimal("75.00")


def test_lines_are_rounded_half_up_and_the_total_is_the_sum_of_the_rounded_lines():
    lines = plan_month_lines(
        charges=[charge(n, "0.125") for n in range(3)],
        currency="EUR",
        surcharge=None,
        waive_when_merchant_wins=False,
    )
    assert [line.amount for line in lines] == [Decimal("0.13")] * 3
    # Rounding the sum instead (0.375 -> 0.38) would not match the lines.
    assert statement_total(lines, "EUR") == Decimal("0.39")


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [("SEK", "84.995", "85.00"), ("DKK", "56.004", "56.00"), ("JPY", "1200.5", "1201")],
)
def test_lines_follow_the_currencys_minor_unit(currency, amount, expected):
    [line] = plan_month_lines(
        charges=[charge(1, amount)],
        currency=currency,
        surcharge=None,
        waive_when_merchant_wins=False,
    )
    assert str(line.amount) == expected


def test_a_case_proven_fraud_is_a_zero_line_saying_why_and_carries_no_surcharge():
    lines = plan_month_lines(
        charges=[charge(1, fraud_proven=True, outcome="customer")],
        currency="EUR",
        surcharge=Decimal("30"),
        waive_when_merchant_wins=False,
    )
    assert [(line.kind, line.amount, line.waived_amount, line.waiver) for line in lines] == [
        (LineKind.WAIVED, Decimal("0.00"), Decimal("37.50"), Waiver.FRAUD_PROVEN)
    ]


@pytest.mark.parametrize(("schedule_waives", "kind"), [(False, "standard"), (True, "waived")])
def test_a_case_the_merchant_won_is_waived_only_if_the_schedule_says_so(schedule_waives, kind):
    [line] = plan_month_lines(
        charges=[charge(1, outcome="merchant")],
        currency="EUR",
        surcharge=None,
        waive_when_merchant_wins=schedule_waives,
    )
    assert line.kind == kind
    assert waiver_for(outcome="customer", fraud_proven=False, waive_when_merchant_wins=True) is None


# --- Corrections ---------------------------------------------------------------------------------


def billed(**kwargs) -> BilledCase:
    values = {
        "dispute_id": 1,
        "original_line_id": 10,
        "original_due": Decimal("37.50"),
        "net_charged": Decimal("37.50"),
        "corrections_so_far": 0,
        "outcome": "customer",
        "fraud_proven": False,
        "waive_when_merchant_wins": False,
    }
    return BilledCase(**(values | kwargs))


def test_a_fee_waived_after_its_statement_is_credited_once():
    line = plan_correction(billed(fraud_proven=True), currency="EUR")
    assert (line.kind, line.amount, line.corrects_line_id, line.correction_seq) == (
        LineKind.CREDIT,
        Decimal("-37.50"),
        10,
        1,
    )
    # Once the credit is on a statement, nothing more is due.
    assert (
        plan_correction(
            billed(fraud_proven=True, net_charged=Decimal("0.00"), corrections_so_far=1),
            currency="EUR",
        )
        is None
    )


def test_a_waiver_that_no_longer_holds_is_charged_back_as_a_debit():
    line = plan_correction(billed(net_charged=Decimal("0.00")), currency="EUR")
    assert (line.kind, line.amount, line.correction_seq) == (LineKind.DEBIT, Decimal("37.50"), 1)


def test_nothing_changed_means_no_correction():
    assert plan_correction(billed(outcome="merchant"), currency="EUR") is None


# --- Forecast ------------------------------------------------------------------------------------


def test_forecast_continues_the_last_14_days_pace_to_the_end_of_the_month():
    # 10 days in: 2 cases, 200 orders; the last 14 days 2 cases and 140 orders (10 per day).
    forecast = forecast_rate(
        disputes_so_far=2,
        orders_so_far=200,
        disputes_recent=7,
        orders_recent=140,
        days_left=Decimal(14),
    )
    # (2 + 7) / (200 + 140)
    assert forecast == Decimal(9) / Decimal(340)


def test_no_forecast_without_any_orders():
    assert (
        forecast_rate(
            disputes_so_far=1,
            orders_so_far=0,
            disputes_recent=1,
            orders_recent=0,
            days_left=Decimal(3),
        )
        is None
    )


def test_on_the_last_instant_the_forecast_is_the_rate():
    assert forecast_rate(
        disputes_so_far=3,
        orders_so_far=100,
        disputes_recent=9,
        orders_recent=10,
        days_left=Decimal(0),
    ) == Decimal("0.03")
