"""Reads for the API: the merchant's cases by keyset pages with a signed cursor, the documents
of its cases, and its events feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.core import signing
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from disputes.errors import DomainError
from disputes.models import Attachment, Dispute, Merchant
from disputes.selectors import MERCHANT_VISIBLE

from .models import Event

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
    rows: list[ListedCase]
    next_cursor: str | None


# What a list page shows (api.schemas.dispute_json) and nothing more, read as plain values:
# building a Dispute, an Order, a ContractTerms and a User per row cost more than the query.
API_LIST_COLUMNS = (
    "id",
    "public_id",
    "order_id",
    "program",
    "reason",
    "customer_message",
    "state",
    "outcome",
    "next_actor",
    "due_at",
    "information_requested_from",
    "currency",
    "order_amount",
    "disputed_amount",
    "terms_id",
    "refund_offer",
    "refund_offer_amount",
    "settled_amount",
    "opened_at",
    "escalated_at",
    "closed_at",
    "decision_reason",
    "decision_code",
    "override_reason",
    "evidence_provided",
    "assigned_to_id",
    "return_shipped_at",
    "appealed_at",
    "updated_at",
    "order__order_number",
    "order__placed_at",
    "order__amount",
    "order__currency",
    "order__customer_email",
    "terms__valid_from",
    "terms__payment_dispute",
    "terms__buyer_protection",
    "terms__dispute_window_days",
    "terms__dispute_window_day_count",
    "terms__protection_window_days",
    "terms__fee_plan",
    "assigned_to__first_name",
)
_OWN = [(i, name) for i, name in enumerate(API_LIST_COLUMNS) if "__" not in name]
_RELATED = {
    relation: [
        (i, name.split("__", 1)[1])
        for i, name in enumerate(API_LIST_COLUMNS)
        if name.startswith(relation + "__")
    ]
    for relation in ("order", "terms", "assigned_to")
}


class ListedCase(SimpleNamespace):
    """A case of a list page: the Dispute's attribute names (and its order, terms, merchant and
    assigned_to as the same kind of object), which is all the API's rules and shapes read."""


def _listed(row: tuple[Any, ...], merchant: Merchant) -> ListedCase:
    case = ListedCase(**{name: row[i] for i, name in _OWN})
    case.pk = case.id
    case.merchant = merchant  # the page's own merchant: its time zone dates the deadlines
    case.order = SimpleNamespace(**{name: row[i] for i, name in _RELATED["order"]})
    case.terms = (
        SimpleNamespace(**{name: row[i] for i, name in _RELATED["terms"]})
        if case.terms_id
        else None
    )
    case.assigned_to = (
        SimpleNamespace(**{name: row[i] for i, name in _RELATED["assigned_to"]})
        if case.assigned_to_id
        else None
    )
    return case


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
    rows = _filtered(merchant, filters).order_by("-opened_at", "-id").values_list(*API_LIST_COLUMNS)
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
    page = [_listed(row, merchant) for row in rows[: limit + 1]]
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        last = page[-1]
        next_cursor = signing.dumps([last.opened_at.isoformat(), last.pk], salt=_CURSOR_SALT)
    return DisputePage(rows=page, next_cursor=next_cursor)


# --- Documents -----------------------------------------------------------------------------------


def merchant_documents(
    merchant: Merchant, *, dispute: Dispute | None = None, include_erased: bool = False
) -> QuerySet[Attachment]:
    """The documents of the merchant's cases that the merchant may see, oldest first: those of
    timeline entries it sees (the customer's and its own; the portal's MERCHANT_VISIBLE rule),
    never support-only notes nor a document on an entry the merchant does not see. The one
    place that says which; `dispute` narrows it to one case. Documents erased by the retention
    job are left out, unless `include_erased` (a download of one answers 410 Gone). Each row
    carries `event_visibility`, its entry's visibility."""
    documents = Attachment.objects.filter(
        dispute__merchant=merchant, event__visibility__in=MERCHANT_VISIBLE
    ).annotate(event_visibility=F("event__visibility"))
    if dispute is not None:
        documents = documents.filter(dispute=dispute)
    if not include_erased:
        documents = documents.filter(erased_at__isnull=True)
    return documents.order_by("created_at", "id")


# --- Events feed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventPage:
    rows: list[Event]
    next_after: str | None


def merchant_event(merchant: Merchant, public_id: str) -> Event | None:
    return Event.objects.filter(merchant=merchant, public_id=public_id).first()


def merchant_events(
    merchant: Merchant,
    *,
    after: str | None,
    limit: int,
    event_type: str = "",
    dispute: Dispute | None = None,
) -> EventPage:
    """The merchant's events oldest first, a keyset on id after the event `after` (one of the
    merchant's: else InvalidCursor); each filter has its index (merchant, [type | case], id)."""
    events = Event.objects.filter(merchant=merchant)
    if event_type:
        events = events.filter(event_type=event_type)
    if dispute is not None:
        events = events.filter(dispute=dispute)
    if after:
        after_pk = (
            Event.objects.filter(merchant=merchant, public_id=after)
            .values_list("pk", flat=True)
            .first()
        )
        if after_pk is None:
            raise InvalidCursor(
                gettext("No event of this merchant has this id (events are kept for 30 days)."),
                field="after",
            )
        events = events.filter(pk__gt=after_pk)
    rows = list(events.order_by("pk")[:limit])
    return EventPage(rows=rows, next_after=rows[-1].public_id if rows else None)
