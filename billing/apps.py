from datetime import datetime
from decimal import Decimal
from typing import Any

from django.apps import AppConfig


def _charge_escalations(
    sender: object, *, disputes: Any, now: datetime, **kwargs: Any
) -> dict[int, Decimal]:
    from .services import fee_charge_escalations

    return fee_charge_escalations(disputes=disputes, now=now)


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.checks import register

        from disputes.signals import cases_escalated

        from .checks import currencies_have_a_fee_schedule

        register(currencies_have_a_fee_schedule)

        cases_escalated.connect(_charge_escalations, dispatch_uid="billing.charge_escalations")
