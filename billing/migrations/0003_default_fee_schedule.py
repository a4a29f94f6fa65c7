"""The fee schedule the portal starts with (docs/rules.md §7): one row per currency it serves."""

from datetime import date
from decimal import Decimal

from django.db import migrations

# currency: (standard fee, elevated fee "up to"); threshold 1.5 %, at least 100 orders.
DEFAULT_FEES = {
    "EUR": (Decimal("7.50"), Decimal("30.00")),
    "SEK": (Decimal("85.00"), Decimal("340.00")),
    "NOK": (Decimal("85.00"), Decimal("340.00")),
    "DKK": (Decimal("56.00"), Decimal("225.00")),
}
# Before any case the portal ever opened: every escalation falls under a row.
VALID_FROM = date(2000, 1, 1)


def create_default_schedule(apps, schema_editor):
    FeeSchedule = apps.get_model("billing", "FeeSchedule")
    for currency, (standard, elevated) in DEFAULT_FEES.items():
        FeeSchedule.objects.get_or_create(
            currency=currency,
            valid_from=VALID_FROM,
            defaults={
                "standard_fee": standard,
                "elevated_fee": elevated,
                "rate_threshold": Decimal("0.0150"),
                "minimum_orders": 100,
                "waive_when_merchant_wins": False,
            },
        )


def remove_default_schedule(apps, schema_editor):
    FeeSchedule = apps.get_model("billing", "FeeSchedule")
    FeeSchedule.objects.filter(valid_from=VALID_FROM, currency__in=DEFAULT_FEES).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_statements")]

    operations = [migrations.RunPython(create_default_schedule, remove_default_schedule)]
