"""The dashboard's figures of ended months are kept (disputes/monthly.py): they must read the
same as a fresh count after every change that reaches them, and cost a fixed few queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from disputes import monthly
from disputes.choices import MemberRole, Reason
from disputes.models import MerchantMonth
from disputes.orders import OrderStatus, orders_upsert
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory, open_dispute

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 14, 12, 0, tzinfo=UTC)
SEPTEMBER = datetime(2026, 9, 3, 12, 0, tzinfo=UTC)
# Bars oldest first: December 2025 ... November 2026.
NOV, OCT, SEP = 11, 10, 9


@pytest.fixture
def merchant():
    return MerchantFactory(slug="kept-shop")


@pytest.fixture
def portal(client, merchant):
    client.force_login(MembershipFactory(merchant=merchant, role=MemberRole.OWNER).user)
    return client


def feed(merchant, number, placed_at):
    """One order through the order feed's write path (the API's and the import's)."""
    item = {
        "order_number": number,
        "placed_at": placed_at.isoformat(),
        "amount": "40.00",
        "currency": merchant.currency,
        "customer_email": "ann@mail.example",
        "customer_language": "en",
        "is_invoice": True,
        "protection_tier": "none",
        "shipments": [],
    }
    (result,) = orders_upsert(merchant=merchant, items=[item], now=NOW)
    assert result.status in (OrderStatus.CREATED, OrderStatus.UPDATED), result
    return result


def dashboard(portal):
    response = portal.get(reverse("portal:dashboard"))
    assert response.status_code == 200
    return response


def totals(response):
    return [bar["total"] for bar in response.context["chart"]["bars"]]


def last_month_rate(response):
    rate = response.context["month"].previous_rate
    return None if rate is None else round(float(rate * 100), 2)


def content(response):
    return response.content.decode().split("<main", 1)[1]  # after the nav's CSRF token


@time_machine.travel(NOW, tick=False)
def test_an_order_fed_late_into_last_month_changes_its_final_rate(portal, merchant):
    open_dispute(order=OrderFactory(merchant=merchant, placed_at=OCTOBER), now=OCTOBER)
    feed(merchant, "L-1", OCTOBER)
    assert last_month_rate(dashboard(portal)) == 50  # 1 claim, 2 orders: now kept
    feed(merchant, "L-2", OCTOBER + timedelta(days=3))  # a late feed, a back-fill
    page = dashboard(portal)
    assert last_month_rate(page) == pytest.approx(33.33)
    assert "Last month's final rate: 33.33 %." in page.content.decode()


@time_machine.travel(NOW, tick=False)
def test_an_order_moved_out_of_last_month_changes_both_months(portal, merchant):
    open_dispute(order=OrderFactory(merchant=merchant, placed_at=OCTOBER), now=OCTOBER)
    feed(merchant, "M-1", OCTOBER)
    first = dashboard(portal)
    assert (last_month_rate(first), first.context["month"].orders_placed) == (50, 0)
    feed(merchant, "M-1", NOW - timedelta(days=1))  # its date corrected into this month
    second = dashboard(portal)
    assert (last_month_rate(second), second.context["month"].orders_placed) == (100, 1)


@time_machine.travel(NOW, tick=False)
def test_a_case_opened_with_an_earlier_date_changes_the_chart_of_that_month(portal, merchant):
    open_dispute(merchant=merchant, now=SEPTEMBER)
    assert totals(dashboard(portal))[SEP] == 1
    open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=SEPTEMBER)
    page = dashboard(portal)
    assert totals(page)[SEP] == 2
    september = page.context["chart"]["bars"][SEP]
    assert sorted(s["count"] for s in september["segments"]) == [1, 1]  # one of each reason


@time_machine.travel(NOW, tick=False)
def test_kept_figures_read_as_a_fresh_count_and_the_job_is_idempotent(portal, merchant):
    for moment in (SEPTEMBER, OCTOBER, OCTOBER, NOW - timedelta(days=1)):
        open_dispute(merchant=merchant, now=moment)
    OrderFactory(merchant=merchant, placed_at=OCTOBER)  # bypasses the write path: built after
    MerchantMonth.objects.all().delete()
    counted = content(dashboard(portal))  # counted on first view, then kept
    assert MerchantMonth.objects.filter(merchant=merchant, fresh=True).count() == 11
    assert content(dashboard(portal)) == counted  # read from what is kept
    call_command("build_month_figures", "--merchant", merchant.slug, stdout=None)
    call_command("build_month_figures", "--merchant", merchant.slug, stdout=None)
    call_command("build_month_figures", "--again", stdout=None)
    assert content(dashboard(portal)) == counted
    assert totals(dashboard(portal))[OCT] == 2
    assert last_month_rate(dashboard(portal)) == pytest.approx(66.67)  # 2 claims, 3 orders


@time_machine.travel(NOW, tick=False)
def test_the_job_counts_again_after_rows_written_around_the_write_path(portal, merchant):
    open_dispute(merchant=merchant, now=OCTOBER)
    assert totals(dashboard(portal))[OCT] == 1
    OrderFactory(merchant=merchant, placed_at=OCTOBER)  # like the bench data's SQL
    call_command("build_month_figures", "--again", stdout=None)
    assert last_month_rate(dashboard(portal)) == 50


def test_a_change_committed_while_a_month_is_counted_leaves_it_stale(portal, merchant, monkeypatch):
    """A build reads the months' generations, counts, then stores only if no writer marked
    the month in between: the writer's change shows on the next view."""
    with time_machine.travel(NOW, tick=False):
        open_dispute(order=OrderFactory(merchant=merchant, placed_at=OCTOBER), now=OCTOBER)
        counting = monthly._count

        def count_then_a_late_order_lands(*args, **kwargs):
            figures = counting(*args, **kwargs)
            monkeypatch.setattr(monthly, "_count", counting)
            feed(merchant, "R-1", OCTOBER)  # committed after the count, before the store
            return figures

        monkeypatch.setattr(monthly, "_count", count_then_a_late_order_lands)
        assert last_month_rate(dashboard(portal)) == 100  # what the count saw
        assert last_month_rate(dashboard(portal)) == 50  # counted again, not the stale 100


def test_the_month_just_ended_is_counted_live_until_it_has_ended_everywhere(portal, merchant):
    december_first = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    with time_machine.travel(december_first, tick=False):
        dashboard(portal)
        assert not MerchantMonth.objects.filter(month="2026-11-01").exists()
        # A case dated in November lands after the month ended in UTC and in Amsterdam.
        open_dispute(merchant=merchant, now=datetime(2026, 11, 30, 20, 0, tzinfo=UTC))
        assert totals(dashboard(portal))[-2] == 1
    with time_machine.travel(december_first + timedelta(days=1), tick=False):
        assert totals(dashboard(portal))[-2] == 1  # still there once November is kept
        assert MerchantMonth.objects.get(month="2026-11-01").fresh


@time_machine.travel(NOW, tick=False)
def test_a_new_time_zone_counts_the_months_again(portal, merchant):
    # 23:30 on 31 October in UTC is November in Amsterdam.
    open_dispute(merchant=merchant, now=datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    amsterdam = dashboard(portal)
    assert (totals(amsterdam)[OCT], totals(amsterdam)[NOV]) == (0, 1)
    merchant.time_zone = "Atlantic/Reykjavik"  # UTC all year
    merchant.save(update_fields=["time_zone"])
    assert totals(dashboard(portal))[OCT] == 1


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_costs_a_fixed_few_queries_once_months_are_kept(
    portal, merchant, django_assert_max_num_queries
):
    for days in range(0, 330, 11):
        open_dispute(merchant=merchant, now=NOW - timedelta(days=days))
    dashboard(portal)  # the first view counts and keeps the ended months
    with django_assert_max_num_queries(15):
        dashboard(portal)
