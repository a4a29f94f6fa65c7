from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import AppConfig


def _charge_escalations(
    sender: object, *, disputes: Any, now: datetime, **kwargs: Any
) -> dict[int, tuple[Decimal, int | None]]:
    from .services import fee_charge_escalations

    return fee_charge_escalations(disputes=disputes, now=now)


def _priced_currencies(
    sender: object, *, plan: str, currencies: set[str], **kwargs: Any
) -> set[str]:
    from .selectors import priced_currencies

    return priced_currencies(plan=plan, currencies=currencies)


def _demo_statements(sender: object, *, merchants: Any, now: datetime, **kwargs: Any) -> None:
    """The demo's last month, billed and issued: the fee pages show a statement."""
    from .services import statements_issue_month

    statements_issue_month(now=now)


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.checks import register

        from disputes.signals import cases_escalated, currencies_priced, demo_seeded

        from .checks import currencies_have_a_fee_schedule

        register(currencies_have_a_fee_schedule)

        cases_escalated.connect(_charge_escalations, dispatch_uid="billing.charge_escalations")
        currencies_priced.connect(_priced_currencies, dispatch_uid="billing.priced_currencies")
        demo_seeded.connect(_demo_statements, dispatch_uid="billing.demo_statements")
