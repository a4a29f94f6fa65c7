"""`manage.py import_orders FILE`: CSV or JSON Lines, the order feed's checks, an error report
with one row per refused line, safe to re-run, and exit codes 0 / 1 / 2."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from disputes.choices import PaymentState
from disputes.models import Order
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db

PLACED = (timezone.now() - timedelta(days=3)).replace(microsecond=0).isoformat()
HEADER = "order_number,placed_at,amount,currency,customer_email,customer_language,is_invoice"


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def row(number: str, amount: str = "49.90", placed: str = PLACED, **extra: str) -> str:
    return f"{number},{placed},{amount},EUR,ann@mail.example,nl,{extra.get('invoice', 'true')}"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_orders", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def report_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as report:
        return list(csv.DictReader(report))


def test_a_csv_file_is_imported_then_unchanged_when_run_again(tmp_path):
    merchant = MerchantFactory(slug="trail")
    path = csv_file(tmp_path, row("T-1"), row("T-2", "10.00"), row("T-3", invoice="false"))

    assert "3 lines: 3 created, 0 updated, 0 unchanged, 0 errors." in run(
        str(path), "--merchant", "trail"
    )
    orders = {o.order_number: o for o in Order.objects.filter(merchant=merchant)}
    assert set(orders) == {"T-1", "T-2", "T-3"}
    assert orders["T-2"].amount == Decimal("10.00")
    assert orders["T-1"].payment_state == PaymentState.ACTIVE  # an invoice
    assert orders["T-3"].is_invoice is False
    assert report_rows(Path(f"{path}.errors.csv")) == []

    assert "3 lines: 0 created, 0 updated, 3 unchanged, 0 errors." in run(
        str(path), "--merchant", "trail"
    )
    assert Order.objects.count() == 3


def test_a_changed_line_updates_its_order(tmp_path):
    MerchantFactory(slug="trail")
    run(str(csv_file(tmp_path, row("T-1"))), "--merchant", "trail")
    header = f"{HEADER},line_summary,shipments"
    shipments = json.dumps([{"carrier": "PostNL", "tracking_number": "3S1"}]).replace('"', '""')
    changed = csv_file(tmp_path, f'{row("T-1")},2 shoes,"{shipments}"', header=header)

    assert "1 updated" in run(str(changed), "--merchant", "trail")
    order = Order.objects.get(order_number="T-1")
    assert order.line_summary == "2 shoes"
    assert order.shipments[0]["carrier"] == "PostNL"


def test_json_lines_name_their_merchant_per_line(tmp_path):
    north, south = MerchantFactory(slug="north"), MerchantFactory(slug="south")
    base = {
        "placed_at": PLACED,
        "amount": "12.50",
        "currency": "EUR",
        "customer_email": "bo@mail.example",
        "customer_language": "sv",
    }
    path = tmp_path / "orders.jsonl"
    lines = [
        {"merchant": "north", "order_number": "N-1", **base},
        {"merchant": "south", "order_number": "S-1", **base, "amount": 7.5},
        {"merchant": "north", "order_number": "N-2", **base},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")

    assert "3 created" in run(str(path))
    assert set(north.orders.values_list("order_number", flat=True)) == {"N-1", "N-2"}
    assert south.orders.get().amount == Decimal("7.50")


def test_refused_lines_go_to_the_report_and_the_rest_is_stored(tmp_path):
    MerchantFactory(slug="trail")
    future = (timezone.now() + timedelta(days=2)).isoformat()
    path = csv_file(
        tmp_path,
        row("OK-1"),
        row("BAD-1", amount="-5.00"),
        row("BAD-2", placed=future),
        row("DUP"),
        row("DUP"),
        '"=HYPERLINK(""x"")",oops',
        row("OK-2"),
    )
    report = tmp_path / "report.csv"

    with pytest.raises(SystemExit) as exit_:
        run(str(path), "--merchant", "trail", "--errors", str(report))
    assert exit_.value.code == 1
    assert set(Order.objects.values_list("order_number", flat=True)) == {"OK-1", "OK-2", "DUP"}
    refused = {(r["line"], r["order_number"], r["code"], r["field"]) for r in report_rows(report)}
    assert refused == {
        ("3", "BAD-1", "invalid", "amount"),
        ("4", "BAD-2", "in_the_future", "placed_at"),
        ("6", "DUP", "duplicate_in_batch", "order_number"),
        ("7", "", "malformed", ""),
    }
    by_line = {r["line"]: r for r in report_rows(report)}
    assert "2 columns" in by_line["7"]["message"]


def test_a_formula_in_a_refused_line_is_quoted_in_the_report(tmp_path):
    MerchantFactory(slug="trail")
    path = csv_file(tmp_path, row("=cmd|' /C calc'!A0", amount="x"))
    report = tmp_path / "report.csv"
    with pytest.raises(SystemExit):
        run(str(path), "--merchant", "trail", "--errors", str(report))
    assert report_rows(report)[0]["order_number"].startswith("'=")


def test_a_line_without_a_merchant_or_with_an_unknown_one_is_refused(tmp_path):
    path = csv_file(tmp_path, f"{row('A-1')},", f"{row('A-2')},ghost", header=f"{HEADER},merchant")
    report = tmp_path / "report.csv"
    with pytest.raises(SystemExit):
        run(str(path), "--errors", str(report))
    assert [(r["line"], r["code"]) for r in report_rows(report)] == [
        ("2", "required"),
        ("3", "unknown_merchant"),
    ]
    assert not Order.objects.exists()


def test_small_batches_let_the_last_of_two_lines_win(tmp_path):
    MerchantFactory(slug="trail")
    path = csv_file(tmp_path, row("R-1", "10.00"), row("R-1", "20.00"))
    assert "1 created, 1 updated" in run(str(path), "--merchant", "trail", "--batch-size", "1")
    assert Order.objects.get().amount == Decimal("20.00")


def test_bad_json_lines_are_refused_one_by_one(tmp_path):
    MerchantFactory(slug="trail")
    path = tmp_path / "orders.ndjson"
    good = {
        "order_number": "J-1",
        "placed_at": PLACED,
        "amount": "5.00",
        "currency": "EUR",
        "customer_email": "c@mail.example",
        "customer_language": "fi",
    }
    path.write_bytes(b"{not json\n[1, 2]\n\xff\xfe\n" + json.dumps(good).encode() + b"\n")
    report = tmp_path / "report.csv"
    with pytest.raises(SystemExit):
        run(str(path), "--merchant", "trail", "--errors", str(report))
    assert [r["line"] for r in report_rows(report)] == ["1", "2", "3"]
    assert Order.objects.get().order_number == "J-1"


@pytest.mark.parametrize(
    ("name", "content", "args", "says"),
    [
        ("orders.txt", HEADER, [], "--format"),
        ("orders.csv", "amount,currency\n1,EUR\n", ["--merchant", "trail"], "order_number"),
        ("orders.csv", HEADER, ["--merchant", "ghost"], "ghost"),
        ("orders.csv", HEADER, ["--batch-size", "5000"], "--batch-size"),
    ],
)
def test_a_file_or_arguments_that_cannot_be_used_exit_with_2(tmp_path, name, content, args, says):
    MerchantFactory(slug="trail")
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError) as error:
        run(str(path), *args)
    assert error.value.returncode == 2
    assert says in str(error.value)


def test_a_missing_file_exits_with_2(tmp_path):
    with pytest.raises(CommandError) as error:
        run(str(tmp_path / "none.csv"))
    assert error.value.returncode == 2


def test_the_example_file_in_the_readme_imports_cleanly(tmp_path):
    MerchantFactory(slug="demo-shop")
    example = Path(__file__).resolve().parents[2] / "examples" / "orders.csv"
    report = tmp_path / "report.csv"
    assert "5 lines: 5 created" in run(
        str(example), "--merchant", "demo-shop", "--errors", str(report)
    )
    assert report_rows(report) == []
