"""Fee rules as pure functions (DESIGN.md §5)."""

from decimal import Decimal

from disputes.policies import round_money

DEFAULT_STANDARD_FEE_EUR = Decimal("7.50")


def standard_fee(currency: str, schedule: dict[str, str]) -> Decimal:
    """The standard fee for one escalated case, in the case's currency.

    A currency missing from the schedule falls back to the EUR amount: charging something
    known is better than charging nothing silently.
    """
    amount = Decimal(schedule.get(currency.upper(), schedule.get("EUR", DEFAULT_STANDARD_FEE_EUR)))
    return round_money(amount, currency)
