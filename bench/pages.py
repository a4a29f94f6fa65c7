"""Figures 2 and 6: the merchant portal's pages, timed on the server.

Each request goes through the whole Django stack in this process (`django.test.Client`:
middleware, session, view, selectors, template), as the owner of a bench merchant, over https
as in production. Time and queries are measured in separate passes: counting queries turns on
the debug cursor, which costs time of its own.

The work queue is timed for the large merchant and the 1 000-case one with their requests
interleaved, so that a noisy neighbour slows both alike and the ratio between them holds. The
small merchant's page is the floor: the large merchant's page should cost no more than it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.db import connection
from django.db.models import Count, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from disputes import selectors
from disputes.choices import MemberRole, State
from disputes.models import Dispute, Merchant, MerchantMembership
from disputes.selectors import MERCHANT_VISIBLE, QueueFilters, QueueTab

from .results import Figure, check, median_ms, p99_ms

QUEUE_TARGET = "<= 1.2"
QUERIES_TARGET = "<= 1"  # the large merchant's page makes no more queries than the small one's
DASHBOARD_TARGET = "<= 30"  # ms, the median of the large merchant's dashboard
WARM_UP = 5
DEEP_TAB = QueueTab.CLOSED  # every merchant's longest tab: where a deep page is deepest
CASE_CANDIDATES = 200  # open cases looked at to find one with a long timeline


@dataclass(frozen=True)
class Page:
    label: str
    url: str
    client: Client


def queue_page_figures(*, large_slug: str, small_slug: str, repeats: int = 50) -> list[Figure]:
    """Figure 2: the work queue's first page and a deep page, large merchant against small."""
    with _serving():
        large, small = _merchant(large_slug), _merchant(small_slug)
        large_client, small_client = _client_for(large), _client_for(small)
        pages = {
            "large first": Page("large first", _queue_url(), large_client),
            "small first": Page("small first", _queue_url(), small_client),
            "large deep": Page("large deep", _deep_url(large), large_client),
            "small deep": Page("small deep", _deep_url(small), small_client),
        }
        samples = _timed(list(pages.values()), repeats)
        queries = {key: _queries(page) for key, page in pages.items()}
        sizes = {"large": _sizes(large), "small": _sizes(small)}

    def times(key: str) -> dict[str, float]:
        return {"median_ms": median_ms(samples[key]), "p99_ms": p99_ms(samples[key])}

    ratio = median_ms(samples["large first"]) / median_ms(samples["small first"])
    deep_ratio = median_ms(samples["large deep"]) / median_ms(samples["small deep"])
    query_ratio = queries["large first"] / queries["small first"]
    common = {"slugs": [large_slug, small_slug], "repeats": repeats, "cases": sizes}
    return [
        Figure(
            "queue first page median, large / small merchant",
            median_ms(samples["large first"]),
            "ms",
            floor=median_ms(samples["small first"]),
            ratio=round(ratio, 3),
            target=QUEUE_TARGET,
            met=check(ratio, QUEUE_TARGET),
            details={**common, "large": times("large first"), "small": times("small first")},
        ),
        Figure(
            "queue first page p99, large merchant",
            p99_ms(samples["large first"]),
            "ms",
            details={"small_p99_ms": p99_ms(samples["small first"]), "repeats": repeats},
        ),
        Figure(
            "queue first page median, small merchant",
            median_ms(samples["small first"]),
            "ms",
            details={"p99_ms": p99_ms(samples["small first"]), "slug": small_slug},
        ),
        Figure(
            "queue deep page median, large / small merchant",
            median_ms(samples["large deep"]),
            "ms",
            floor=median_ms(samples["small deep"]),
            ratio=round(deep_ratio, 3),
            details={
                "tab": DEEP_TAB.value,
                "position": "the row halfway down the tab",
                "large": times("large deep"),
                "small": times("small deep"),
                "large_vs_its_first_page": round(
                    median_ms(samples["large deep"]) / median_ms(samples["large first"]), 3
                ),
            },
        ),
        Figure(
            "queue deep page p99, large merchant",
            p99_ms(samples["large deep"]),
            "ms",
            details={"small_p99_ms": p99_ms(samples["small deep"])},
        ),
        Figure(
            "queue page queries",
            queries["large first"],
            "queries",
            floor=queries["small first"],
            ratio=round(query_ratio, 3),
            target=QUERIES_TARGET,
            met=check(query_ratio, QUERIES_TARGET) and len(set(queries.values())) == 1,
            details={"queries": queries, "equal": len(set(queries.values())) == 1},
        ),
    ]


def case_and_dashboard_figures(*, slug: str, repeats: int = 50) -> list[Figure]:
    """Figure 6: the case page (an open case with a long timeline) and the dashboard."""
    with _serving():
        merchant = _merchant(slug)
        client = _client_for(merchant)
        # An open case waiting for the merchant (the page with every form), else any case.
        case, entries = case_with_longest_timeline(
            merchant,
            [Q(state=State.AWAITING_MERCHANT), Q()],
            visibility=MERCHANT_VISIBLE,
            what="cases",
        )
        case_page = Page("case", reverse("portal:case", args=[case.public_id]), client)
        dashboard = Page("dashboard", reverse("portal:dashboard"), client)
        samples = _timed([case_page, dashboard], repeats)
        case_queries, dashboard_queries = _queries(case_page), _queries(dashboard)
        cases = Dispute.objects.filter(merchant=merchant).count()
    return [
        Figure(
            "case page median, large merchant",
            median_ms(samples["case"]),
            "ms",
            details={
                "p99_ms": p99_ms(samples["case"]),
                "queries": case_queries,
                "case": case.public_id,
                "state": case.state,
                "timeline_entries": entries,
                "repeats": repeats,
            },
        ),
        Figure("case page p99, large merchant", p99_ms(samples["case"]), "ms"),
        Figure("case page queries", case_queries, "queries"),
        Figure(
            "dashboard median, large merchant",
            median_ms(samples["dashboard"]),
            "ms",
            target=DASHBOARD_TARGET,
            met=check(median_ms(samples["dashboard"]), DASHBOARD_TARGET),
            details={
                "p99_ms": p99_ms(samples["dashboard"]),
                "queries": dashboard_queries,
                "merchant_cases": cases,
                "repeats": repeats,
            },
        ),
        Figure("dashboard p99, large merchant", p99_ms(samples["dashboard"]), "ms"),
        Figure("dashboard queries", dashboard_queries, "queries"),
    ]


# --- Helpers -------------------------------------------------------------------------------------


@contextmanager
def _serving() -> Iterator[None]:
    # The in-process client's host; production settings otherwise (DEBUG off, https).
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        yield


def _merchant(slug: str) -> Merchant:
    return Merchant.objects.get(slug=slug)


def _client_for(merchant: Merchant) -> Client:
    membership = (
        MerchantMembership.objects.select_related("user")
        .filter(merchant=merchant, role=MemberRole.OWNER)
        .order_by("pk")
        .first()
    )
    if membership is None:
        raise LookupError(f"Merchant {merchant.slug} has no owner to log in as.")
    client = Client()
    client.force_login(membership.user)
    return client


def _queue_url(tab: QueueTab = QueueTab.NEEDS_RESPONSE, after: str | None = None) -> str:
    url = f"{reverse('portal:queue')}?tab={tab.value}"
    if after:
        url += f"&after={quote(after)}"
    return url


def _deep_url(merchant: Merchant) -> str:
    """The page that follows the row halfway down the merchant's longest tab."""
    rows = selectors.queue_rows(merchant, DEEP_TAB, QueueFilters())
    middle = rows.count() // 2
    row = rows[middle] if middle else rows.first()
    if row is None:
        return _queue_url(DEEP_TAB)
    return _queue_url(DEEP_TAB, after=selectors.queue_cursor(row, DEEP_TAB))


def _get(page: Page) -> None:
    response = page.client.get(page.url, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"{page.label}: {page.url} answered {response.status_code}")


def _timed(pages: list[Page], repeats: int) -> dict[str, list[float]]:
    """Seconds per request; the pages take turns so that a slow moment slows each of them."""
    for page in pages:
        for _ in range(WARM_UP):
            _get(page)
    samples: dict[str, list[float]] = {page.label: [] for page in pages}
    for _ in range(repeats):
        for page in pages:
            start = time.perf_counter()
            _get(page)
            samples[page.label].append(time.perf_counter() - start)
    return samples


def _queries(page: Page) -> int:
    with CaptureQueriesContext(connection) as captured:
        _get(page)
    return len(captured)


def _sizes(merchant: Merchant) -> dict[str, Any]:
    """The merchant's true tab sizes (counted once, outside the timing)."""
    exact = Dispute.objects.filter(merchant=merchant).aggregate(
        cases=Count("id"),
        needs_response=Count("id", filter=Q(next_actor="merchant")),
        closed=Count("id", filter=Q(closed_at__isnull=False)),
    )
    return dict(exact)


def case_with_longest_timeline(
    merchant: Merchant,
    choices: Sequence[Q],
    *,
    newest: str = "-opened_at",
    visibility: Sequence[str] | None = None,
    what: str,
) -> tuple[Dispute, int]:
    """Of the merchant's newest CASE_CANDIDATES cases of the first of `choices` that has any,
    the one whose timeline has the most entries (those of `visibility`, or all), and that
    number; LookupError, naming `what`, when none has any."""
    candidates: list[int] = []
    for choice in choices:
        candidates = list(
            Dispute.objects.filter(choice, merchant=merchant)
            .order_by(newest)
            .values_list("pk", flat=True)[:CASE_CANDIDATES]
        )
        if candidates:
            break
    entries = (
        Count("events", filter=Q(events__visibility__in=visibility))
        if visibility
        else Count("events")
    )
    chosen = (
        Dispute.objects.filter(pk__in=candidates)
        .annotate(entries=entries)
        .order_by("-entries", "pk")
        .first()
    )
    if chosen is None:
        raise LookupError(f"Merchant {merchant.slug} has no {what}.")
    return chosen, chosen.entries
