"""`manage.py check`: every currency the portal holds orders in has a fee schedule row.

Without one, escalations in that currency are charged nothing (never another currency's
number). Skipped while migrating, so the migration that adds the row can always run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.checks import CheckMessage, Error
from django.db import DatabaseError

from .selectors import currencies_without_fee_schedule


def currencies_have_a_fee_schedule(
    app_configs: Any, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    if databases:  # `migrate` names its database: never block a migration
        return []
    try:
        missing = currencies_without_fee_schedule()
    except DatabaseError:  # no database yet, or not migrated: nothing to check
        return []
    except RuntimeError:  # database access is not allowed here (a test, a worker's self-check)
        return []
    return [
        Error(
            f"Orders are held in {currency}, which has no fee schedule row: escalations in "
            f"{currency} are charged no dispute fee.",
            hint="Add the currency's fees in the admin (Billing → Fee schedule).",
            id="billing.E001",
        )
        for currency in missing
    ]
