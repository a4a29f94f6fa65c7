"""Reads for the API: the merchant's cases by keyset pages with a signed cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from disputes.errors import DomainError
from disputes.models import Dispute, Merchant

_CURSOR_SALT = "disputes.api-list"


class InvalidCursor(DomainError):
    code = "invalid_cursor"
    default_message = _("The cursor is not one this API gave out.")


@dataclass(frozen=True)
class DisputeListFilters:
    state: str = ""
    program: str = ""
    reason: str = ""
    due_before: datetime | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True)
class DisputePage:
    rows: list[Dispute]
    next_cursor: str | None


# What a list page shows (api_schemas.dispute_out) and nothing more: half the columns, and half
# the values for the ORM to turn into Python.
API_LIST_FIELDS = (
    "public_id",
    "program",
    "reason",
    "state",
    "outcome",
    "next_actor",
    "due_at",
    "currency",
    "order_amount",
    "disputed_amount",
    "refund_offer",
    "refund_offer_amount",
    "settled_amount",
    "customer_message",
    "decision_reason",
    "opened_at",
    "escalated_at",
    "closed_at",
    "updated_at",
    "order__order_number",
    "order__placed_at",
    "order__amount",
    "order__currency",
    "order__customer_email",
    "terms__valid_from",
    "terms__dispute_window_days",
    "terms__dispute_window_day_count",
    "terms__protection_window_days",
    "terms__fee_plan",
    "terms__payment_dispute",
    "terms__buyer_protection",
    "evidence_provided",
    "decision_code",
    "override_reason",
    "information_requested_from",
    "return_shipped_at",
    "appealed_at",
    "assigned_to__first_name",
)


def _filtered(merchant: Merchant, filters: DisputeListFilters) -> QuerySet[Dispute]:
    queryset = Dispute.objects.filter(merchant=merchant)
    for name in ("state", "program", "reason"):
        value = getattr(filters, name)
        if value:
            queryset = queryset.filter(**{name: value})
    if filters.due_before:
        queryset = queryset.filter(due_at__lt=filters.due_before)
    if filters.updated_since:
        queryset = queryset.filter(updated_at__gte=filters.updated_since)
    return queryset


def dispute_list_for_merchant(
    merchant: Merchant, filters: DisputeListFilters, *, cursor: str | None, limit: int
) -> DisputePage:
    """Newest case first; keyset on (opened_at, id), which never change, so pages are stable
    while cases move between states."""
    rows = (
        _filtered(merchant, filters)
        .select_related("order", "terms", "assigned_to")
        .only(*API_LIST_FIELDS)
        .order_by("-opened_at", "-id")
    )
    if cursor:
        try:
            value, pk = signing.loads(cursor, salt=_CURSOR_SALT)
            opened_at = datetime.fromisoformat(value)
            pk = int(pk)
        except (signing.BadSignature, ValueError, TypeError):
            raise InvalidCursor(field="cursor") from None
        # The plain bound starts the index range at the cursor (with the OR alone, a deep page
        # reads every row before it).
        rows = rows.filter(
            Q(opened_at__lte=opened_at),
            Q(opened_at__lt=opened_at) | Q(opened_at=opened_at, id__lt=pk),
        )
    page = list(rows[: limit + 1])
    for row in page:
        row.merchant = merchant  # the page's own merchant: no query per row for its time zone
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        last = page[-1]
        next_cursor = signing.dumps([last.opened_at.isoformat(), last.pk], salt=_CURSOR_SALT)
    return DisputePage(rows=page, next_cursor=next_cursor)
