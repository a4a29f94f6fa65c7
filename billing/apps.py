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


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.checks import register

        from disputes.signals import cases_escalated, currencies_priced

        from .checks import currencies_have_a_fee_schedule

        register(currencies_have_a_fee_schedule)

        cases_escalated.connect(_charge_escalations, dispatch_uid="billing.charge_escalations")
        currencies_priced.connect(_priced_currencies, dispatch_uid="billing.priced_currencies")
