"""The benchmark's data generator and deadline sweep, at a few hundred cases: the code that
`make bench` runs at a million cannot rot unnoticed."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F

from bench.data import LARGE_SLUG, THOUSAND_SLUG, BenchSize, plan_merchants
from bench.sweep import (
    overdue_count,
    sweep_figures,
    sweep_floor,
    sweep_floor_batched,
    write_counts,
)
from disputes.choices import Program, State
from disputes.models import Dispute, DisputeEvent, Merchant, MerchantMembership, Order

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the benchmark needs PostgreSQL"),
]

SIZE = {"merchants": 40, "orders": 4000, "disputes": 2000}


def _generate(**overrides: int) -> None:
    size = {**SIZE, **overrides}
    call_command("bench_data", *[f"--{k}={v}" for k, v in size.items()], "--no-progress")


def test_the_plan_gives_the_large_and_the_thousand_case_merchant_their_share() -> None:
    plans = plan_merchants(BenchSize(merchants=1000, orders=2_000_000, disputes=1_000_000))

    by_slug = {plan.slug: plan for plan in plans}
    assert by_slug[LARGE_SLUG].disputes == 100_000
    assert by_slug[THOUSAND_SLUG].disputes == 1_000
    assert sum(plan.disputes for plan in plans) == 1_000_000
    assert sum(plan.orders for plan in plans) == 2_000_000
    others = sorted((p.disputes for p in plans[2:]), reverse=True)
    assert others[0] < 100_000  # a long tail under the large merchant
    assert others[-1] >= 1
    assert others[0] > 20 * others[len(others) // 2]  # skewed, not uniform


def test_bench_data_fills_every_state_of_both_programs() -> None:
    _generate()

    assert Order.objects.count() == SIZE["orders"]
    assert Dispute.objects.count() == SIZE["disputes"]
    assert Dispute.objects.filter(merchant__slug=LARGE_SLUG).count() == SIZE["disputes"] // 10
    states = set(Dispute.objects.values_list("state", flat=True))
    assert states == set(State.values)
    assert set(Dispute.objects.values_list("program", flat=True)) == set(Program.values)
    # Every case is about its own order, placed before the case was opened.
    assert not Dispute.objects.filter(order__placed_at__gt=F("opened_at")).exists()
    assert Dispute.objects.values("order").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    # A timeline for every case, an owner for every merchant.
    assert DisputeEvent.objects.values("dispute").distinct().count() == SIZE["disputes"]
    assert MerchantMembership.objects.count() == Merchant.objects.count() == SIZE["merchants"]


def test_ten_percent_of_cases_wait_past_the_merchant_deadline() -> None:
    from django.utils import timezone

    _generate()

    assert overdue_count(timezone.now()) == pytest.approx(SIZE["disputes"] * 0.10, rel=0.2)


def test_bench_data_refuses_a_database_that_has_it_already() -> None:
    _generate(merchants=3, orders=40, disputes=20)

    with pytest.raises(CommandError, match="already"):
        _generate(merchants=3, orders=40, disputes=20)


def test_the_floor_writes_what_the_sweep_writes_and_leaves_nothing_behind() -> None:
    from django.utils import timezone

    _generate()
    before = write_counts()

    seconds, written = sweep_floor(timezone.now())

    assert write_counts() == before  # rolled back
    assert seconds > 0
    assert written["escalated cases"] == written["escalation events"] == written["fee lines"] > 0
    assert written["emails"] == 2 * written["escalated cases"]  # the owner and the customer
    assert written["fee instructions"] == written["fee lines"]  # one for the provider each


def test_the_batched_floor_writes_the_same_a_batch_at_a_time_and_undoes_it() -> None:
    from django.utils import timezone

    _generate()
    now = timezone.now()
    overdue = overdue_count(now)
    cases = list(Dispute.objects.order_by("pk").values_list("pk", "state", "due_at", "updated_at"))
    before = write_counts()
    _seconds, one_transaction = sweep_floor(now)

    seconds, written, batches = sweep_floor_batched(now, batch_size=15)

    assert written == one_transaction
    assert len(batches) == -(-overdue // 15)
    assert all(batch > 0 for batch in batches)
    assert seconds > 0
    # Undone: the cases as they were, no row left behind, the append-only triggers still on.
    assert write_counts() == before
    assert overdue_count(now) == overdue
    assert (
        list(Dispute.objects.order_by("pk").values_list("pk", "state", "due_at", "updated_at"))
        == cases
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'disputes_%%_append_only'"
            " AND tgenabled = 'O'"
        )
        assert cursor.fetchone()[0] == 2


def test_the_sweep_figure_escalates_every_overdue_case_with_the_floors_writes(settings) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    settings.SWEEP_BATCH_SIZE = 10  # batches enough for a merchant to answer during the sweep
    _generate()
    overdue = overdue_count(timezone.now())

    rate, batched, answer_median, answer_p99, memory = sweep_figures()

    assert overdue_count(timezone.now()) == 0
    assert rate.details["cases"] == overdue > 0
    assert rate.details["portal_writes"] == rate.details["floor_writes"]
    assert rate.details["portal_writes"]["fee instructions"] > 0
    assert rate.details["same_writes"]
    assert rate.value > 0
    assert rate.floor
    assert rate.ratio
    assert rate.met is not None
    assert [run["cases"] for run in rate.details["runs"]] == memory.details["cases_per_run"]
    assert rate.details["batched_floor_writes"] == rate.details["floor_writes"]
    assert batched.floor
    assert batched.ratio
    assert batched.met is not None
    assert batched.details["batches"] == -(-overdue // 10)
    # The merchant's answers came while the sweep ran, each refused (the deadline had passed)
    # after waiting at most for the batch: nothing they did changed the sweep's writes.
    answers = answer_p99.details
    assert answers["answers"] > 0
    assert set(answers["statuses"]) == {"409"}
    assert answer_p99.met is not None
    assert 0 < answer_median.value <= answer_p99.value
    assert 0 < memory.value < 1024
