"""The fee rules of billing/policies.py, as pure unit tests (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.policies import DEFAULT_STANDARD_FEE_EUR, standard_fee

# The shape of settings.DISPUTE_FEE_STANDARD, written out so the tests do not depend on settings.
SCHEDULE = {"EUR": "7.50", "SEK": "85.00", "NOK": "85.00", "DKK": "56.00"}


def test_standard_fee_in_euro_is_7_50_from_the_schedule():
    fee = standard_fee("EUR", SCHEDULE)

    assert fee == Decimal("7.50")
    assert isinstance(fee, Decimal)


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("SEK", "85.00"), ("NOK", "85.00"), ("DKK", "56.00")],
)
def test_standard_fee_is_the_schedules_amount_for_the_currency(currency, expected):
    assert standard_fee(currency, SCHEDULE) == Decimal(expected)


def test_standard_fee_matches_the_currency_whatever_its_case():
    assert standard_fee("sek", SCHEDULE) == Decimal("85.00")


@pytest.mark.parametrize("currency", ["CHF", "GBP", "PLN"])
def test_currency_missing_from_the_schedule_falls_back_to_the_euro_amount(currency):
    assert standard_fee(currency, SCHEDULE) == Decimal("7.50")


def test_fallback_follows_a_configured_euro_amount():
    assert standard_fee("CHF", {"EUR": "9.00"}) == Decimal("9.00")


def test_empty_schedule_charges_the_default_euro_fee():
    assert standard_fee("EUR", {}) == DEFAULT_STANDARD_FEE_EUR == Decimal("7.50")
    assert standard_fee("CHF", {}) == Decimal("7.50")


@pytest.mark.parametrize(
    ("currency", "schedule", "expected"),
    [
        pytest.param("EUR", {"EUR": "7.5"}, "7.50", id="padded-to-cents"),
        pytest.param("EUR", {"EUR": "7.505"}, "7.51", id="half-cent-rounds-up"),
        pytest.param("EUR", {"EUR": "7.504"}, "7.50", id="below-half-rounds-down"),
        pytest.param("JPY", {"JPY": "1200.5"}, "1201", id="jpy-no-decimals"),
        pytest.param("JPY", {"EUR": "7.50"}, "8", id="jpy-fallback-rounded-to-yen"),
        pytest.param("KWD", {"KWD": "2.5"}, "2.500", id="kwd-three-decimals"),
    ],
)
def test_standard_fee_is_rounded_to_the_currencys_minor_unit(currency, schedule, expected):
    fee = standard_fee(currency, schedule)

    assert fee == Decimal(expected)
    assert str(fee) == expected
