"""The benchmark's page figures on a small factory dataset: they time real pages, and the work
queue makes the same queries for a merchant of 5 cases and one of 60, first page or deep."""

from __future__ import annotations

import pytest

from bench.pages import case_and_dashboard_figures, queue_page_figures
from disputes import services
from tests.factories import MembershipFactory, MerchantFactory, customer_actor, open_dispute

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _merchant_with(slug: str, cases: int, closed: int) -> None:
    merchant = MerchantFactory(slug=slug)
    MembershipFactory(merchant=merchant)  # the owner the benchmark logs in as
    disputes = [open_dispute(merchant=merchant) for _ in range(cases)]
    for dispute in disputes[:closed]:
        services.dispute_withdraw(dispute=dispute, actor=customer_actor(dispute))
    for dispute in disputes[closed : closed + 2]:
        services.dispute_add_message(
            dispute=dispute, actor=customer_actor(dispute), message="Any news?"
        )


def test_queue_figures_time_both_merchants_with_the_same_queries():
    _merchant_with("bench-big", cases=60, closed=40)
    _merchant_with("bench-small", cases=5, closed=2)
    figures = {
        f.name: f
        for f in queue_page_figures(large_slug="bench-big", small_slug="bench-small", repeats=3)
    }
    first = figures["queue first page median, large / small merchant"]
    assert first.value > 0
    assert first.floor
    assert first.floor > 0
    assert first.ratio == pytest.approx(first.value / first.floor, rel=0.01)
    assert first.target == "<= 1.2"
    assert first.met is not None
    assert first.details["cases"]["large"]["cases"] == 60
    assert first.details["cases"]["large"]["closed"] == 40
    deep = figures["queue deep page median, large / small merchant"]
    assert deep.value > 0
    assert deep.details["tab"] == "closed"
    for name in ("queue first page p99, large merchant", "queue deep page p99, large merchant"):
        assert figures[name].value >= 0
    queries = figures["queue page queries"]
    assert queries.details["equal"] is True
    assert len(set(queries.details["queries"].values())) == 1
    assert queries.value == queries.floor
    assert queries.met is True
    assert 3 <= queries.value <= 12


def test_case_page_and_dashboard_figures():
    _merchant_with("bench-big", cases=8, closed=2)
    figures = {f.name: f for f in case_and_dashboard_figures(slug="bench-big", repeats=3)}
    case = figures["case page median, large merchant"]
    assert case.value > 0
    assert case.details["state"] == "awaiting_merchant"
    assert case.details["timeline_entries"] == 2  # the case with a message, the longest one
    assert figures["case page p99, large merchant"].value >= case.value
    dashboard = figures["dashboard median, large merchant"]
    assert dashboard.value > 0
    assert dashboard.target == "<= 30"
    assert dashboard.met == (dashboard.value <= 30)
    assert figures["dashboard median, large merchant"].details["merchant_cases"] == 8
    assert 3 <= figures["case page queries"].value <= 12
    # A fixed number: the widgets, last month's rate and the evidence figures, each one query.
    assert 3 <= figures["dashboard queries"].value <= 17
