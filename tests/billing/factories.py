"""Billing test data: the default schedule, orders in bulk, an issued statement."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from billing.models import FeeSchedule, Statement, StatementStatus
from billing.policies import month_of
from disputes.models import Merchant, Order

MARCH = month_of(date(2026, 3, 1))


def ensure_default_schedule() -> None:
    """The rows of the data migration; a transactional test's flush removes them."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("billing.migrations.0003_default_fee_schedule")
    if not FeeSchedule.objects.filter(valid_from=migration.VALID_FROM).exists():
        migration.create_default_schedule(apps, None)


def place_orders(merchant: Merchant, count: int, *, at: datetime, currency: str = "EUR") -> None:
    Order.objects.bulk_create(
        Order(
            merchant=merchant,
            order_number=f"BULK-{merchant.pk}-{at:%Y%m%d%H%M%S}-{n}",
            placed_at=at,
            amount=Decimal("20.00"),
            currency=currency,
            customer_email=f"bulk{n}@mail.example",
        )
        for n in range(count)
    )


def issued_statement(merchant: Merchant, *, first_day: date = MARCH.first_day) -> Statement:
    """An issued statement with one line, made directly (for page and isolation tests)."""
    statement, _ = Statement.objects.get_or_create(
        merchant=merchant,
        currency=merchant.currency,
        period_start=first_day,
        defaults={
            "status": StatementStatus.ISSUED,
            "computed_at": datetime(2026, 4, 1, 2, tzinfo=UTC),
            "issued_at": datetime(2026, 4, 1, 2, tzinfo=UTC),
            "total": Decimal("0.00"),
        },
    )
    return statement
