"""How long each kind of personal data is kept: the retention policy, as data.

The defaults below apply unless the operator overrides a kind in the `RETENTION_POLICY`
setting, e.g. `RETENTION_POLICY = {"documents": {"months": 24}}` (or the environment
variables named in the README). Periods are calendar months after the moment named by
`starts`; `disputes.privacy.retention` applies them, `erasure` explains them.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class Kind(StrEnum):
    DOCUMENTS = "documents"
    PERSONAL_TEXT = "personal_text"
    ORDERS_WITHOUT_CASE = "orders_without_case"
    FEE_RECORDS = "fee_records"


@dataclass(frozen=True)
class Retention:
    """One kind's rule; its words are shown to support (the desk's personal-data page, the
    erasure report) in the reader's language."""

    kind: Kind
    months: int
    label: Any  # the kind of data, in words
    starts: Any  # what the period counts from
    action: Any  # what happens when it ends
    why: Any  # why it is kept that long


DEFAULTS: dict[Kind, Retention] = {
    Kind.DOCUMENTS: Retention(
        Kind.DOCUMENTS,
        months=13,
        label=_("Documents of a case"),
        starts=_("the last case of the order closed"),
        action=_("the files are deleted; their size and SHA-256 hash stay on the case"),
        why=_("a closed case can still be appealed, reopened or taken to an ADR body"),
    ),
    Kind.PERSONAL_TEXT: Retention(
        Kind.PERSONAL_TEXT,
        months=13,
        label=_("The parties' words and the customer's email"),
        starts=_("the last case of the order closed (never before the appeal window ended)"),
        action=_(
            "the parties' words (statements, messages, checklist text) become a marker, the "
            "customer's email becomes a pseudonym, the customer link stops working"
        ),
        why=_("the case may still be needed to establish or defend a legal claim"),
    ),
    Kind.ORDERS_WITHOUT_CASE: Retention(
        Kind.ORDERS_WITHOUT_CASE,
        months=13,
        label=_("The customer's email on an order without a case"),
        starts=_("the order was placed"),
        action=_("the customer's email becomes a pseudonym"),
        why=_("a case about the order can still be opened"),
    ),
    Kind.FEE_RECORDS: Retention(
        Kind.FEE_RECORDS,
        months=7 * 12,
        label=_("Fee statements, fee lines and payment instructions"),
        starts=_("the end of the statement's year"),
        action=_(
            "never deleted by the portal; they hold the case number and amounts, not the "
            "customer's email or words"
        ),
        why=_("fee statements are bookkeeping records, kept for the statutory period"),
    ),
}


def policy(kind: Kind) -> Retention:
    """The policy for one kind, with the settings' override applied."""
    overrides = getattr(settings, "RETENTION_POLICY", {})
    unknown_kinds = set(overrides) - set(Kind)
    if unknown_kinds:
        raise ImproperlyConfigured(f"RETENTION_POLICY: unknown kinds {sorted(unknown_kinds)}")
    override = overrides.get(str(kind), {})
    unknown = set(override) - {"months"}
    if unknown:
        raise ImproperlyConfigured(f"RETENTION_POLICY[{kind!r}]: unknown keys {sorted(unknown)}")
    found = replace(DEFAULTS[kind], **override)
    if found.months < 1:
        raise ImproperlyConfigured(f"RETENTION_POLICY[{kind!r}]: at least one month")
    return found


def all_policies() -> list[Retention]:
    return [policy(kind) for kind in Kind]


def personal_text_months() -> int:
    """The parties' words are pseudonymised after the documents' period too: never before."""
    return max(policy(Kind.PERSONAL_TEXT).months, policy(Kind.DOCUMENTS).months)


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment `months` calendar months earlier (the 31st becomes the
    month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_after(moment: datetime, months: int) -> datetime:
    return months_before(moment, -months)


@register()
def retention_policy_is_valid(app_configs: Any, **kwargs: Any) -> list[Error]:
    """A wrong RETENTION_POLICY stops the portal at start-up, not the nightly job."""
    try:
        all_policies()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="disputes.E010")]
    return []
