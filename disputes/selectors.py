"""Reads for pages: each returns what a page needs in a fixed number of queries."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db.models import Count, Prefetch, Q, QuerySet

from . import monthly
from .choices import OPEN_STATES, EventType, Party, Visibility
from .identifiers import normalise_public_id
from .links import LinkInvalid, dispute_id_from_token
from .models import Attachment, Dispute, DisputeEvent, Merchant, Order
from .policies import CLAIM_REASONS, dispute_rate

PUBLIC_ID_PATTERN = re.compile(r"DP-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")

CUSTOMER_VISIBLE = (Visibility.BOTH, Visibility.CUSTOMER)
# Bookkeeping entries a customer does not need to read.
_HIDDEN_FROM_CUSTOMER = (EventType.REMINDER_SENT, EventType.MERCHANT_WINDOW_STARTED)


def merchant_choices_for_public_form() -> list[tuple[str, str]]:
    return list(Merchant.objects.order_by("name").values_list("slug", "name"))


def order_find_for_customer(*, shop: str, order_number: str, email: str) -> Order | None:
    """The order matching all three, or None: callers must not tell which one was wrong."""
    return (
        Order.objects.select_related("merchant")
        .filter(
            merchant__slug=shop,
            order_number=order_number.strip(),
            customer_email__iexact=email.strip(),
        )
        .first()
    )


def open_dispute_for_order(order: Order) -> Dispute | None:
    return Dispute.objects.filter(order=order, state__in=OPEN_STATES).first()


def customer_timeline(dispute_id: int) -> QuerySet[DisputeEvent]:
    return (
        DisputeEvent.objects.filter(dispute_id=dispute_id, visibility__in=CUSTOMER_VISIBLE)
        .exclude(event_type__in=_HIDDEN_FROM_CUSTOMER)
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id"))
        )
        .order_by("created_at", "id")
    )


def dispute_for_customer_link(token: str) -> Dispute:
    """The case a customer's link opens; raises LinkExpired or LinkInvalid (also when revoked)."""
    dispute_id, version = dispute_id_from_token(token)
    dispute = Dispute.objects.select_related("order", "merchant").filter(pk=dispute_id).first()
    if dispute is None or dispute.customer_link_version != version:
        raise LinkInvalid()
    return dispute


def attachment_for_customer(dispute: Dispute, attachment_id: int) -> Attachment | None:
    """A document the customer may open: one attached to an entry they can see."""
    return (
        Attachment.objects.filter(
            pk=attachment_id,
            dispute=dispute,
            event__visibility__in=CUSTOMER_VISIBLE,
            erased_at__isnull=True,
        )
        .exclude(event__event_type__in=_HIDDEN_FROM_CUSTOMER)
        .first()
    )


# --- Merchant portal -----------------------------------------------------------------------------

MERCHANT_VISIBLE = (Visibility.BOTH, Visibility.MERCHANT)
QUEUE_PAGE_SIZE = 25
# Tab counts stop here ("1,000+"): an exact count would read every case of a large shop.
QUEUE_COUNT_CAP = 1000


class QueueTab(StrEnum):
    NEEDS_RESPONSE = "needs_response"
    WAITING_CUSTOMER = "waiting_customer"
    WITH_SUPPORT = "with_support"
    CLOSED = "closed"


@dataclass(frozen=True)
class _TabSpec:
    condition: Q
    sort_field: str
    descending: bool = False


# A tab is "who acts next": each is one ordered range of the (merchant, next_actor, ...) index.
_TABS = {
    QueueTab.NEEDS_RESPONSE: _TabSpec(Q(next_actor=Party.MERCHANT), "due_at"),
    QueueTab.WAITING_CUSTOMER: _TabSpec(Q(next_actor=Party.CUSTOMER), "due_at"),
    QueueTab.WITH_SUPPORT: _TabSpec(Q(next_actor=Party.SUPPORT), "escalated_at"),
    QueueTab.CLOSED: _TabSpec(Q(closed_at__isnull=False), "closed_at", descending=True),
}


@dataclass(frozen=True)
class QueueFilters:
    search: str = ""
    program: str = ""
    reason: str = ""
    state: str = ""
    opened_from: date | None = None
    opened_to: date | None = None


@dataclass(frozen=True)
class QueuePage:
    rows: list[Dispute]
    next_cursor: str | None


_CURSOR_SALT = "disputes.portal-queue"


def _filtered(merchant: Merchant, filters: QueueFilters) -> QuerySet[Dispute]:
    queryset = Dispute.objects.filter(merchant=merchant)
    search = filters.search.strip()
    if search:
        public_id = normalise_public_id(search)
        if PUBLIC_ID_PATTERN.fullmatch(public_id):
            queryset = queryset.filter(public_id=public_id)
        elif "@" in search:
            queryset = queryset.filter(order__customer_email__iexact=search)
        else:
            queryset = queryset.filter(order__order_number=search)
    if filters.program:
        queryset = queryset.filter(program=filters.program)
    if filters.reason:
        queryset = queryset.filter(reason=filters.reason)
    if filters.state:
        queryset = queryset.filter(state=filters.state)
    tz = ZoneInfo(merchant.time_zone)
    if filters.opened_from:
        queryset = queryset.filter(opened_at__gte=_local_midnight(filters.opened_from, tz))
    if filters.opened_to:
        queryset = queryset.filter(
            opened_at__lt=_local_midnight(filters.opened_to + timedelta(days=1), tz)
        )
    return queryset


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def queue_rows(merchant: Merchant, tab: QueueTab, filters: QueueFilters) -> QuerySet[Dispute]:
    """The tab's cases, filtered and in the tab's order (used by the page and the CSV export)."""
    spec = _TABS[tab]
    order = (f"-{spec.sort_field}", "-id") if spec.descending else (spec.sort_field, "id")
    return _filtered(merchant, filters).filter(spec.condition).order_by(*order)


def queue_page(
    merchant: Merchant, tab: QueueTab, filters: QueueFilters, cursor: str | None
) -> QueuePage:
    """One page of a tab, by keyset: the cost of page 400 is the cost of page 1."""
    spec = _TABS[tab]
    rows = queue_rows(merchant, tab, filters).select_related("order")
    after = _read_cursor(cursor)
    if after is not None:
        value, pk = after
        beyond, from_ = ("lt", "lte") if spec.descending else ("gt", "gte")
        # The plain bound starts the index range at the cursor; with the OR alone the database
        # reads every row before the cursor only to reject it, and a deep page costs its depth.
        rows = rows.filter(
            Q(**{f"{spec.sort_field}__{from_}": value}),
            Q(**{f"{spec.sort_field}__{beyond}": value})
            | Q(**{spec.sort_field: value, f"id__{beyond}": pk}),
        )
    page = list(rows[: QUEUE_PAGE_SIZE + 1])
    next_cursor = None
    if len(page) > QUEUE_PAGE_SIZE:
        page = page[:QUEUE_PAGE_SIZE]
        next_cursor = queue_cursor(page[-1], tab)
    return QueuePage(rows=page, next_cursor=next_cursor)


def queue_cursor(dispute: Dispute, tab: QueueTab) -> str:
    """The signed `after` value of the page that follows `dispute` in `tab`."""
    value = getattr(dispute, _TABS[tab].sort_field)
    return signing.dumps([value.isoformat(), dispute.pk], salt=_CURSOR_SALT)


def _read_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """A cursor from our own link; anything else (tampered, stale) means the first page."""
    if not cursor:
        return None
    try:
        value, pk = signing.loads(cursor, salt=_CURSOR_SALT)
        moment = datetime.fromisoformat(value)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return moment, int(pk)


def queue_counts(merchant: Merchant, filters: QueueFilters) -> dict[str, int]:
    """How many cases each tab holds, counted up to QUEUE_COUNT_CAP + 1.

    A count above the cap means "more than QUEUE_COUNT_CAP". Each tab is one index range that
    stops after the cap, so the counts cost the same for a shop of 1 000 cases and of 100 000.
    """
    cases = _filtered(merchant, filters).order_by()
    return {
        tab.value: cases.filter(spec.condition)[: QUEUE_COUNT_CAP + 1].count()
        for tab, spec in _TABS.items()
    }


def dispute_for_merchant(merchant: Merchant, public_id: str) -> Dispute | None:
    """The merchant's own case; another merchant's case does not exist here."""
    return (
        Dispute.objects.select_related("order", "merchant", "terms")
        .filter(merchant=merchant, public_id=normalise_public_id(public_id))
        .first()
    )


def merchant_timeline(dispute_id: int) -> QuerySet[DisputeEvent]:
    return (
        DisputeEvent.objects.filter(dispute_id=dispute_id, visibility__in=MERCHANT_VISIBLE)
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id"))
        )
        .order_by("created_at", "id")
    )


def attachment_for_merchant(dispute: Dispute, attachment_id: int) -> Attachment | None:
    return Attachment.objects.filter(
        pk=attachment_id,
        dispute=dispute,
        event__visibility__in=MERCHANT_VISIBLE,
        erased_at__isnull=True,
    ).first()


# --- Dispute rate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateCounts:
    """A merchant's dispute rate over a period: claims against it opened, orders placed."""

    claims: int
    orders: int

    @property
    def rate(self) -> Decimal | None:
        return dispute_rate(disputes_opened=self.claims, orders_placed=self.orders)


def dispute_rate_counts(
    *, start: datetime, end: datetime, merchant_ids: Collection[int] | None = None
) -> dict[int, RateCounts]:
    """The dispute rate's two numbers per merchant for [start, end): claims against it (not
    "another request", a message to support) and its orders. Statements, the dashboard, the
    forecast, the support figures and the desk all count it here. Two grouped queries; without
    `merchant_ids`, for every merchant with a claim in the period.
    """
    claims = Dispute.objects.filter(
        opened_at__gte=start, opened_at__lt=end, reason__in=CLAIM_REASONS
    )
    if merchant_ids is not None:
        claims = claims.filter(merchant_id__in=merchant_ids)
    else:  # the support figures: test merchants are never among them
        claims = claims.filter(merchant__test_mode=False)
    claim_counts: dict[int, int] = dict(
        claims.order_by()
        .values("merchant_id")
        .annotate(total=Count("*"))
        .values_list("merchant_id", "total")
    )
    orders = Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
    if merchant_ids is not None:
        orders = orders.filter(merchant_id__in=merchant_ids)
    else:  # a merchant without claims has no rate to report
        orders = orders.filter(merchant_id__in=claims.values("merchant_id"))
    order_counts: dict[int, int] = dict(
        orders.order_by()
        .values("merchant_id")
        .annotate(total=Count("*"))
        .values_list("merchant_id", "total")
    )
    ids = list(merchant_ids) if merchant_ids is not None else list(claim_counts)
    return {
        merchant_id: RateCounts(claim_counts.get(merchant_id, 0), order_counts.get(merchant_id, 0))
        for merchant_id in ids
    }


def rate_counts_from(
    merchant: Merchant, *, starts: Collection[datetime], end: datetime
) -> dict[datetime, RateCounts]:
    """`dispute_rate_counts` of one merchant for several periods that end together, [start,
    end) for each start: two queries in all, each one index range with a count per start."""
    first = min(starts)
    claims = Dispute.objects.filter(
        merchant=merchant, opened_at__gte=first, opened_at__lt=end, reason__in=CLAIM_REASONS
    ).aggregate(
        **{
            f"c{i}": Count("opened_at", filter=Q(opened_at__gte=start))
            for i, start in enumerate(starts)
        }
    )
    orders = Order.objects.filter(
        merchant=merchant, placed_at__gte=first, placed_at__lt=end
    ).aggregate(
        **{
            f"c{i}": Count("placed_at", filter=Q(placed_at__gte=start))
            for i, start in enumerate(starts)
        }
    )
    return {start: RateCounts(claims[f"c{i}"], orders[f"c{i}"]) for i, start in enumerate(starts)}


# --- Dashboard -----------------------------------------------------------------------------------


def month_start(now: datetime, tz: ZoneInfo, months_back: int = 0) -> datetime:
    local = now.astimezone(tz)
    year, month = local.year, local.month - months_back
    while month <= 0:
        month += 12
        year -= 1
    return datetime(year, month, 1, tzinfo=tz)


# The dashboard counts with COUNT(*), which needs no column of the row: an index that holds the
# filtered columns answers it alone.
def dashboard_open_counts(merchant: Merchant) -> dict[str, int]:
    rows = (
        Dispute.objects.filter(merchant=merchant, state__in=OPEN_STATES)
        .values("state")
        .annotate(total=Count("*"))
    )
    return {row["state"]: row["total"] for row in rows}


def dashboard_due_soon(merchant: Merchant, now: datetime, hours: int = 48) -> list[Dispute]:
    return list(
        Dispute.objects.filter(
            merchant=merchant,
            next_actor=Party.MERCHANT,
            due_at__lt=now + timedelta(hours=hours),
        )
        .select_related("order")
        .order_by("due_at", "id")[:20]
    )


def dashboard_reasons_by_month(
    merchant: Merchant, now: datetime, months: int = 12
) -> list[tuple[date, dict[str, int]]]:
    """Cases opened per month and reason, oldest month first, empty months included. The
    months that have ended are kept (disputes/monthly.py): one query for them, one grouped
    query for the rest (this month, and the last one for a day after it ends)."""
    tz = ZoneInfo(merchant.time_zone)
    wanted = [month_start(now, tz, months_back=back).date() for back in range(months - 1, -1, -1)]
    kept = monthly.month_figures(merchant, wanted, now)
    by_month: dict[date, dict[str, int]] = {
        month: dict(kept[month].opened_by_reason) if month in kept else {} for month in wanted
    }
    live = [month for month in wanted if month not in kept]
    if live:
        # This month (and the last one for a day after it ends): a count per month and reason
        # from the index, no month computed per row.
        starts = [datetime(m.year, m.month, 1, tzinfo=tz) for m in live]
        bounds = [*starts[1:], None]
        rows = (
            Dispute.objects.filter(merchant=merchant, opened_at__gte=starts[0])
            .values("reason")
            .annotate(
                **{
                    f"m{i}": Count(
                        "opened_at",
                        filter=Q(opened_at__gte=start)
                        & (Q() if bound is None else Q(opened_at__lt=bound)),
                    )
                    for i, (start, bound) in enumerate(zip(starts, bounds, strict=True))
                }
            )
            .order_by()
        )
        for row in rows:
            counts: dict[str, Any] = dict(row)
            for i, month in enumerate(live):
                if counts[f"m{i}"]:
                    by_month[month][counts["reason"]] = counts[f"m{i}"]
    return sorted(by_month.items())


def month_rate_counts(
    merchant: Merchant, *, start: datetime, end: datetime, now: datetime
) -> RateCounts:
    """`dispute_rate_counts` for one merchant and one UTC calendar month: kept once the month
    has ended everywhere (one small query), counted before that."""
    month = start.astimezone(UTC).date()
    calendar_month = start == datetime.combine(month, time(), tzinfo=UTC) and month.day == 1
    if calendar_month and end == datetime.combine(monthly.next_month(month), time(), tzinfo=UTC):
        kept = monthly.month_figures(merchant, [month], now)
        if month in kept:
            return RateCounts(kept[month].claims, kept[month].orders)
    return dispute_rate_counts(start=start, end=end, merchant_ids=[merchant.pk])[merchant.pk]


@dataclass(frozen=True)
class Handler:
    """Who handles a case at support, as the parties see it: a first name and the team."""

    first_name: str
    team: str


def support_handler(dispute: Dispute) -> Handler | None:
    """The assigned colleague (first name only, never the login) and the operator's team name;
    None until the case is assigned."""
    user = dispute.assigned_to if dispute.assigned_to_id else None
    if user is None:
        return None
    return Handler(first_name=user.first_name.strip(), team=settings.SUPPORT_TEAM_NAME)
