"""The standard fee of billing/policies.py, as pure unit tests (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.policies import FeeTerms, standard_fee_at

AT = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def schedule(**fees: str) -> list[FeeTerms]:
    return [
        FeeTerms(
            currency=currency,
            valid_from=date(2000, 1, 1),
            standard_fee=Decimal(fee),
            elevated_fee=Decimal("30.00"),
        )
        for currency, fee in fees.items()
    ]


SCHEDULE = schedule(EUR="7.50", SEK="85.00", NOK="85.00", DKK="56.00")


def test_standard_fee_in_euro_is_7_50_from_the_schedule():
    fee = standard_fee_at(SCHEDULE, currency="EUR", at=AT)

    assert fee == Decimal("7.50")
    assert isinstance(fee, Decimal)


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("SEK", "85.00"), ("NOK", "85.00"), ("DKK", "56.00")],
)
def test_standard_fee_is_the_schedules_amount_for_the_currency(currency, expected):
    assert standard_fee_at(SCHEDULE, currency=currency, at=AT) == Decimal(expected)


def test_standard_fee_matches_the_currency_whatever_its_case():
    assert standard_fee_at(SCHEDULE, currency="sek", at=AT) == Decimal("85.00")


@pytest.mark.parametrize("currency", ["CHF", "USD", "JPY"])
def test_a_currency_without_a_schedule_row_is_priced_nothing_never_the_euro_number(currency):
    assert standard_fee_at(SCHEDULE, currency=currency, at=AT) is None


def test_an_empty_schedule_prices_nothing():
    assert standard_fee_at([], currency="EUR", at=AT) is None


@pytest.mark.parametrize(
    ("currency", "fee", "expected"),
    [
        pytest.param("EUR", "7.5", "7.50", id="padded-to-cents"),
        pytest.param("EUR", "7.505", "7.51", id="half-cent-rounds-up"),
        pytest.param("EUR", "7.504", "7.50", id="below-half-rounds-down"),
        pytest.param("JPY", "1200.5", "1201", id="jpy-no-decimals"),
        pytest.param("KWD", "2.5", "2.500", id="kwd-three-decimals"),
    ],
)
def test_standard_fee_is_rounded_to_the_currencys_minor_unit(currency, fee, expected):
    amount = standard_fee_at(schedule(**{currency: fee}), currency=currency, at=AT)

    assert amount == Decimal(expected)
    assert str(amount) == expected
