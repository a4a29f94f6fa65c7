"""The order intake figures on a few dozen orders: the COPY floor stores the rows the portal
stores, the batch API run creates then finds unchanged every order it sends through both
gunicorn servers, and the import runs (rate and memory) import every line of files they then
delete.

The servers and the import commands are other processes reading the test database, so the
data they need is committed (transactional tests)."""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from bench import floor_orders, loadgen
from bench.api_load import server_env
from bench.intake import (
    IMPORT_TARGET,
    MEMORY_TARGET,
    compare_rows,
    import_figure,
    import_memory_figure,
    max_order_id,
    order_batch_figures,
    run_child,
)
from bench.orderfeed import (
    Batch,
    FeedMerchant,
    batch_items,
    file_items,
    floor_row,
    now_utc,
    order_item,
    plan_batches,
)
from disputes.models import Order
from disputes.orders import OrderStatus, check_order, orders_upsert
from tests.billing.factories import ensure_default_schedule
from tests.factories import MerchantFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shops():
    ensure_default_schedule()  # a transactional test's flush removes the migration's rows
    return [MerchantFactory(slug="intake-a"), MerchantFactory(slug="intake-b", currency="SEK")]


def _intake_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("bench-intake-*"))


def test_batches_take_turns_and_the_last_one_holds_the_rest():
    a, b = FeedMerchant("a", "EUR"), FeedMerchant("b", "SEK")
    batches = plan_batches([a, b], 25, batch_size=10, start=5)
    assert [(x.merchant.slug, x.first, x.count) for x in batches] == [
        ("a", 5, 10),
        ("b", 15, 10),
        ("a", 25, 5),
    ]
    assert Batch.from_json(batches[1].as_json()) == batches[1]


def test_the_feed_is_every_kind_of_order_and_all_of_it_is_valid(shops):
    now = now_utc()
    merchant = shops[0]
    items = [
        order_item(position, FeedMerchant(merchant.slug, "EUR"), tag="T", now=now)
        for position in range(400)
    ]
    for item in items:
        check_order(item, now=now, merchant=merchant)  # raises on a refused field
    assert {item["protection_tier"] for item in items} == {"none", "basic", "plus"}
    assert {item["is_invoice"] for item in items} == {True, False}
    assert {item["shipments"][0]["delivered_at"] is None for item in items} == {True, False}
    placed = {item["placed_at"] for item in items}
    assert len(placed) == len(items)  # distinct orders, not one repeated
    assert len({item["order_number"] for item in items}) == len(items)


def test_the_floor_copies_the_rows_orders_upsert_writes(shops):
    now = now_utc()
    after = max_order_id()
    for merchant in shops:
        feed = FeedMerchant(merchant.slug, merchant.currency)
        # Positions placed in the last 30 days (protection active) and long before (expired).
        for batch in (Batch(feed, 0, 12), Batch(feed, 100, 12)):
            results = orders_upsert(
                merchant=merchant, items=batch_items(batch, tag="P", now=now), now=timezone.now()
            )
            assert {result.status for result in results} == {OrderStatus.CREATED}
            stamp = timezone.now()
            connection.ensure_connection()
            rows = [
                floor_row(item, merchant_id=merchant.pk, now=stamp)
                for item in batch_items(batch, tag="F", now=now)
            ]
            floor_orders.copy_rows(connection.connection, rows)
    statuses = set(Order.objects.filter(pk__gt=after).values_list("protection_status", flat=True))
    assert statuses == {"none", "active", "expired"}

    rows = compare_rows(tag="P", floor_tag="F", after_id=after)

    assert rows == {
        "portal_rows": 48,
        "floor_rows": 48,
        "rows_only_portal": 0,
        "rows_only_floor": 0,
        "same_rows": True,
    }


def test_a_different_row_is_caught(shops):
    now = now_utc()
    after = max_order_id()
    merchant = shops[0]
    batch = Batch(FeedMerchant(merchant.slug, merchant.currency), 0, 3)
    orders_upsert(merchant=merchant, items=batch_items(batch, tag="P", now=now), now=now)
    connection.ensure_connection()
    items = batch_items(batch, tag="F", now=now)
    floor_orders.copy_rows(
        connection.connection, [floor_row(i, merchant_id=merchant.pk, now=now) for i in items]
    )
    Order.objects.filter(order_number="F-0000001").update(placed_at=now - timedelta(days=1))

    compared = compare_rows(tag="P", floor_tag="F", after_id=after)

    assert compared["rows_only_portal"] == compared["rows_only_floor"] == 1
    assert compared["same_rows"] is False


def test_load_results_keep_their_statuses_through_json_and_merging():
    first = loadgen.LoadResult(clients=1, elapsed=1.0, markers=Counter(created=3))
    second = loadgen.LoadResult(clients=1, elapsed=2.0, markers=Counter(created=2, error=1))
    again = loadgen._result_from_json(loadgen._result_to_json(first))
    assert again.markers == Counter(created=3)
    assert first.then(second).markers == Counter(created=5, error=1)
    first.merge(second)
    assert first.markers == Counter(created=5, error=1)


def test_a_short_batch_run_creates_then_finds_unchanged_every_order(shops):
    slugs = [shop.slug for shop in shops]

    new, again = order_batch_figures(
        merchant_slugs=slugs, orders=40, batch_size=10, clients=2, warmup_batches=1
    )

    details = new.details
    assert new.name == "order batch API, new orders"
    assert (details["same_rows"], details["all_created"]) == (True, True)
    assert details["portal_rows"] == details["floor_rows"] == 40
    assert details["results"] == {"created": 40}
    assert details["floor_results"] == {"created": 40}
    assert (details["errors"], details["floor_errors"]) == (0, 0)
    assert details["batches"] == details["floor_batches"] == 4
    assert new.unit == "orders/s"
    assert new.value > 0
    assert new.floor
    assert new.ratio == pytest.approx(new.value / new.floor, rel=0.05)
    assert new.target == ">= 0.3"
    assert new.met is not None
    assert again.name == "order batch API, same batches again"
    assert again.details["all_unchanged"] is True
    assert again.details["results"]["unchanged"] == 40
    assert again.value > 0
    assert again.target is None
    # The warm-up and the first check's orders are extra, of their own numbers.
    assert Order.objects.filter(merchant__slug__in=slugs).count() == 2 * 40 + 2 * (10 + 3)


def test_the_import_figures_import_every_line_and_leave_no_file(shops):
    slugs = [shop.slug for shop in shops]
    before = _intake_dirs()

    rate = import_figure(merchant_slugs=slugs, lines=30)
    memory = import_memory_figure(merchant_slugs=slugs, lines=(20, 60))

    assert _intake_dirs() == before
    assert rate.details["same_rows"] is True
    assert rate.details["created"] == 30
    assert rate.details["portal_rows"] == rate.details["floor_rows"] == 30
    assert rate.details["portal"]["exit_status"] == rate.details["floor_run"]["exit_status"] == 0
    assert rate.value > 0
    assert rate.floor
    assert (rate.unit, rate.target) == ("orders/s", IMPORT_TARGET)
    assert rate.met is not None
    assert memory.details["all_imported"] is True
    assert [run["created"] for run in memory.details["runs"].values()] == [20, 60]
    assert memory.unit == "MB"
    assert memory.floor
    assert 20 < memory.floor < 1024
    assert 20 < memory.value < 1024
    assert memory.target == MEMORY_TARGET
    assert memory.met is (memory.details["flat"] and memory.details["all_imported"])
    assert Order.objects.filter(merchant__slug__in=slugs).count() == 2 * 30 + 20 + 60


def test_the_import_file_is_the_feed_line_by_line():
    a, b = FeedMerchant("a", "EUR"), FeedMerchant("b", "SEK")
    lines = list(file_items([a, b], 3, tag="T", now=now_utc()))
    assert [(merchant.slug, item["currency"]) for merchant, item in lines] == [
        ("a", "EUR"),
        ("b", "SEK"),
        ("a", "EUR"),
    ]


def test_a_childs_peak_memory_is_its_own_not_the_benchmarks():
    # A child's ru_maxrss would count this process's size at the spawn (the kernel keeps the
    # high-water mark of the address space exec replaces): 200 MB of ballast must not show.
    ballast = bytearray(200 * 1024 * 1024)
    for index in range(0, len(ballast), 4096):
        ballast[index] = 1
    run = run_child(["-m", "bench.orderfeed"], env=server_env())
    assert run.returncode == 0
    assert 5 < run.peak_rss_mb < 150
    del ballast
