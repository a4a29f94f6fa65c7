"""The support desk and customer page figures on a few factory cases: the desk's queue makes
the same queries for a queue of 3 cases and one of 25, first page or deep, the case desk the same
for a long and a short timeline; a short load run answers both customer pages with 200s only.

The customer pages are served by gunicorn in other processes reading the test database, so
their cases are committed (a transactional test)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from bench.customer_pages import customer_page_figures
from bench.desk import STAFF_USERNAME, deepest_page, desk_figures, staff_client
from disputes import services
from disputes.admin.desk import DisputeAdmin
from disputes.choices import Reason, State
from tests.factories import MerchantFactory, customer_actor, open_dispute

pytestmark = pytest.mark.postgres


def _escalated(slug: str, cases: int, *, message: bool = False) -> None:
    merchant = MerchantFactory(slug=slug)
    disputes = [open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED) for _ in range(cases)]
    assert {dispute.state for dispute in disputes} == {State.ESCALATED}
    if message:
        services.dispute_add_message(
            dispute=disputes[0], actor=customer_actor(disputes[0]), message="Any news?"
        )


@pytest.mark.django_db
def test_desk_figures_time_the_queue_and_the_case_desk_with_constant_queries(
    support_groups, monkeypatch
):
    monkeypatch.setattr(DisputeAdmin, "list_per_page", 10)  # 25 cases: three pages
    _escalated("desk-big", cases=25, message=True)
    _escalated("desk-small", cases=3)

    figures = {
        f.name: f for f in desk_figures(large_slug="desk-big", small_slug="desk-small", repeats=3)
    }

    first = figures["desk queue first page median, whole queue / small queue"]
    assert first.value > 0
    assert first.floor
    assert first.ratio == pytest.approx(first.value / first.floor, rel=0.01)
    assert first.target == "<= 1.2"
    assert first.met is not None
    assert first.details["queue"] == {
        "queue": 28,
        "escalated": 28,
        "small_queue": 3,
        "large_merchant_queue": 25,
    }
    assert figures["desk queue first page p99, whole queue"].value >= 0
    deep = figures["desk queue deep page median, whole queue"]
    assert deep.value > 0
    assert deep.details["page"] == 3
    queries = figures["desk queue queries"]
    assert queries.details["equal"] is True
    assert queries.met is True
    assert queries.details["queries"]["first"] == queries.details["queries"]["deep"]
    assert queries.details["queries"]["small"] == queries.details["queries"]["large merchant"]
    assert 3 <= queries.value <= 12
    case = figures["case desk median, large merchant"]
    assert case.value > 0
    assert case.details["state"] == State.ESCALATED
    assert (
        case.details["timeline_entries"] > case.details["small_merchant_case"]["timeline_entries"]
    )  # the case with a message, the longest one, against a shorter one
    assert figures["case desk p99, large merchant"].value >= 0
    case_queries = figures["case desk queries"]
    assert case_queries.met is True
    assert case_queries.value == case_queries.floor
    assert 5 <= case_queries.value <= 30


def test_deepest_page_follows_the_capped_paginator():
    per_page = DisputeAdmin.list_per_page
    assert deepest_page(0) == 1
    assert deepest_page(per_page) == 1
    assert deepest_page(per_page + 1) == 2
    assert deepest_page(10**6) == deepest_page(10_001)


@pytest.mark.django_db
def test_the_bench_staff_member_opens_the_desk_with_the_second_factor_required(support_groups):
    _escalated("desk-otp", cases=1)
    client = staff_client()
    with override_settings(SUPPORT_DESK_REQUIRE_OTP=True, ALLOWED_HOSTS=["testserver"]):
        response = client.get(reverse("admin:disputes_dispute_changelist"), secure=True)
    assert response.status_code == 200
    staff_client()  # made again: the same user and device
    assert User.objects.filter(username=STAFF_USERNAME).count() == 1
    assert TOTPDevice.objects.filter(user__username=STAFF_USERNAME).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_short_run_loads_both_customer_pages_without_errors():
    merchant = MerchantFactory(slug="customer-load")
    disputes = [open_dispute(merchant=merchant) for _ in range(3)]
    services.dispute_add_message(
        dispute=disputes[1], actor=customer_actor(disputes[1]), message="Any news?"
    )

    figures = {
        f.name: f
        for f in customer_page_figures(slug="customer-load", clients=(2,), duration=1.0, warmup=0.2)
    }

    assert set(figures) == {
        f"customer {page} {kind}@2 clients"
        for page in ("case page", "find-order page")
        for kind in ("", "median ", "p99 ")
    }
    for page in ("case page", "find-order page"):
        rate = figures[f"customer {page} @2 clients"]
        assert rate.unit == "requests/s"
        assert rate.value > 0
        details = rate.details
        assert details["errors"] == 0
        assert details["requests"] > 0
        assert details["statuses"] == {"200": details["requests"]}
        assert 1 <= details["queries"] <= 15
        median = figures[f"customer {page} median @2 clients"]
        p99 = figures[f"customer {page} p99 @2 clients"]
        assert 0 < median.value <= p99.value
        assert median.value == details["median_ms"]
    case = figures["customer case page @2 clients"].details
    assert case["case"] == disputes[1].public_id  # the longest timeline the customer sees
    assert case["timeline_entries"] >= 2
    assert figures["customer find-order page @2 clients"].details["shops_listed"] == 1


# --- What the figures led to change in the desk's case list --------------------------------------


def _changelist(client: Client, query: str = "") -> Any:
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        return client.get(reverse("admin:disputes_dispute_changelist") + query, secure=True)


@pytest.mark.django_db
def test_all_cases_newest_first_and_the_support_queue_oldest_escalation_first(support_groups):
    merchant = MerchantFactory(slug="desk-order")
    escalated = [open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED) for _ in range(2)]
    waiting = open_dispute(merchant=merchant)  # with the merchant: not in the support queue
    client = staff_client()

    support = _changelist(client).context["cl"].result_list
    everything = _changelist(client, "?queue=all").context["cl"].result_list

    assert [case.pk for case in support] == [case.pk for case in escalated]
    assert [case.pk for case in everything] == [waiting.pk, *reversed([c.pk for c in escalated])]


@pytest.mark.django_db
def test_the_merchant_filter_lists_only_the_chosen_merchant(support_groups):
    chosen = MerchantFactory(slug="desk-chosen", name="Chosen Shop")
    other = MerchantFactory(slug="desk-other", name="Other Shop")
    mine = open_dispute(merchant=chosen, reason=Reason.UNAUTHORIZED)
    open_dispute(merchant=other, reason=Reason.UNAUTHORIZED)
    client = staff_client()

    unfiltered = _changelist(client)
    filtered = _changelist(client, f"?merchant__id__exact={chosen.pk}")

    assert unfiltered.status_code == filtered.status_code == 200
    assert len(unfiltered.context["cl"].result_list) == 2
    assert b"Other Shop" not in filtered.content  # no list of every merchant in the side bar
    assert b"Chosen Shop" in filtered.content
    assert [case.pk for case in filtered.context["cl"].result_list] == [mine.pk]
    for wrong in ("x", "\u0663", "9" * 30):  # not ASCII digits, or beyond a bigint
        refused = _changelist(client, f"?merchant__id__exact={wrong}")
        assert refused.status_code == 302
        assert refused["Location"].endswith("?e=1")  # Django's answer to a wrong filter
    unknown = _changelist(client, "?merchant__id__exact=987654321")
    assert unknown.status_code == 200
    assert list(unknown.context["cl"].result_list) == []


@pytest.mark.django_db
def test_the_capped_count_does_not_sort_the_queue(support_groups):
    open_dispute(merchant=MerchantFactory(slug="desk-count"), reason=Reason.UNAUTHORIZED)
    client = staff_client()
    with CaptureQueriesContext(connection) as captured:
        assert _changelist(client).status_code == 200
    counts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT")]
    assert counts
    assert all("ORDER BY" not in sql and "LIMIT 10001" in sql for sql in counts)
