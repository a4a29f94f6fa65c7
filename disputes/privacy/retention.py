"""The retention job: applies the policy (`policies`) to everything due, a batch at a time.

Each batch is one transaction that locks its rows (skipping rows a user is changing right now:
the next run takes them), removes what is due and notes it on each case's timeline; files are
deleted after commit. What is done no longer matches the queries, so a second run, or a late
one after an outage, removes nothing more than one run on time would.

The clock of a case is its order's: nothing of an order is removed while any case of it is
open, closed within the period, or on legal hold (a later case may need an earlier one's
documents).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from ..models import Attachment, Dispute, Order
from .holds import order_held
from .policies import Kind, months_before, personal_text_months, policy
from .removal import erase_documents, pseudonymise_cases, pseudonymise_orders

logger = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    documents: int = 0  # files deleted
    cases: int = 0  # cases whose words and customer email were pseudonymised
    timeline_entries: int = 0  # timeline entries whose personal text became the marker
    orders: int = 0  # orders without a case whose customer email was pseudonymised

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _order_not_done(order_ref: str, cutoff: datetime) -> Exists:
    """A case of the order still open, or closed after the cutoff."""
    return Exists(
        Dispute.objects.filter(order_id=OuterRef(order_ref)).filter(
            Q(closed_at__isnull=True) | Q(closed_at__gt=cutoff)
        )
    )


def documents_due(cutoff: datetime) -> QuerySet[Attachment]:
    return (
        Attachment.objects.filter(erased_at__isnull=True, dispute__closed_at__lte=cutoff)
        .exclude(_order_not_done("dispute__order_id", cutoff))
        .exclude(order_held(OuterRef("dispute__order_id")))
        .order_by("pk")
    )


def cases_due(cutoff: datetime) -> QuerySet[Dispute]:
    return (
        Dispute.objects.filter(pseudonymised_at__isnull=True, closed_at__lte=cutoff)
        .exclude(_order_not_done("order_id", cutoff))
        .exclude(order_held(OuterRef("order_id")))
        .order_by("closed_at", "pk")
    )


def orders_without_case_due(cutoff: datetime) -> QuerySet[Order]:
    return (
        Order.objects.filter(pseudonymised_at__isnull=True, placed_at__lte=cutoff)
        .exclude(Exists(Dispute.objects.filter(order_id=OuterRef("pk"))))
        .order_by("placed_at", "pk")
    )


def _in_batches(
    due: QuerySet,
    *,
    lock: type[Dispute] | type[Order],
    lock_field: str,
    apply: Callable[[list[int]], int],
    size: int,
) -> int:
    """Apply to everything due, `size` at a time, each batch in one transaction: lock the
    batch's cases (or orders), skipping those a user holds right now, then read what is due
    again under the locks, so a change the user committed meanwhile counts."""
    done = 0
    while True:
        with transaction.atomic():
            candidates = list(due.values_list("pk", lock_field)[:size])
            keys = {key for _, key in candidates}
            locked = set(
                lock.objects.filter(pk__in=keys)
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            ids = list(
                due.filter(pk__in=[pk for pk, key in candidates if key in locked]).values_list(
                    "pk", flat=True
                )
            )
            if ids:
                done += apply(ids)
        # Done when the last batch was not full, or when all that is left is locked by users.
        if len(candidates) < size or not ids:
            return done


def apply_retention(
    *, now: datetime | None = None, batch_size: int | None = None
) -> RetentionReport:
    now = now or timezone.now()
    size = batch_size or settings.RETENTION_BATCH_SIZE
    report = RetentionReport()

    # Cases first: a case due for both loses its documents and its words in one transaction,
    # so a user acting on it at that moment finds it either untouched or done.
    def cases(ids: list[int]) -> int:
        removed = pseudonymise_cases(ids, now=now)
        report.timeline_entries += removed.timeline_entries
        report.documents += removed.documents
        return removed.cases

    report.cases = _in_batches(
        cases_due(months_before(now, personal_text_months())),
        lock=Dispute,
        lock_field="pk",
        apply=cases,
        size=size,
    )
    report.documents += _in_batches(
        documents_due(months_before(now, policy(Kind.DOCUMENTS).months)),
        lock=Dispute,
        lock_field="dispute_id",
        apply=lambda ids: erase_documents(ids, now=now),
        size=size,
    )

    report.orders = _in_batches(
        orders_without_case_due(months_before(now, policy(Kind.ORDERS_WITHOUT_CASE).months)),
        lock=Order,
        lock_field="pk",
        apply=lambda ids: pseudonymise_orders(ids, now=now),
        size=size,
    )
    logger.info("Retention applied: %s", report.as_dict())
    return report
