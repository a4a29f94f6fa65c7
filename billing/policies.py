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


# Above this share of disputes to orders, the elevated fee applies (DESIGN.md §5).
ELEVATED_RATE_THRESHOLD = Decimal("0.015")
# Merchants are warned once their rate reaches this share of the threshold.
WARNING_SHARE = Decimal("0.8")


def dispute_rate(*, disputes_opened: int, orders_placed: int) -> Decimal | None:
    """Disputes opened in a period divided by orders placed in it; None when there were no
    orders (no rate, rather than a division error)."""
    if orders_placed <= 0:
        return None
    return Decimal(disputes_opened) / Decimal(orders_placed)


def rate_standing(rate: Decimal | None) -> str:
    """ "above" the threshold, "warning" when close to it, "ok" otherwise or without a rate."""
    if rate is None:
        return "ok"
    if rate > ELEVATED_RATE_THRESHOLD:
        return "above"
    if rate >= ELEVATED_RATE_THRESHOLD * WARNING_SHARE:
        return "warning"
    return "ok"
