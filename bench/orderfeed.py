"""The order intake figures' input: orders as a shop's feed sends them, made up from a number.

Django-free, so that the load generator's children (bench/loadgen.py) and the floors
(bench/floor_orders.py) use it without loading the portal. Every order is a pure function of its
position, its merchant and a reference time (`now`): the portal and its floor get the same orders,
and a file of a million lines is written a line at a time, never held in memory.

An order is about what a shop sends: placed 4 to 400 days before `now`, one shipment (delivered
for every other order), a pay-later invoice for two orders in three, and buyer protection for
half of them (active for those placed in the last 30 days, expired for the others).

`floor_row` is the row the portal stores for such an order, computed the cheapest way: the
floors COPY it into disputes_order (`ROW_COLUMNS`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "nl", "fi", "sv", "de")  # settings.LANGUAGES
TIERS = ("none", "basic", "none", "plus")
PROTECTION_DAYS = 30  # disputes.policies.PROTECTION_DAYS
BATCH_SIZE = 1000  # disputes.orders.MAX_BATCH
# The columns of the import file (disputes.orders.FEED_FIELDS that the feed here uses).
CSV_FIELDS = (
    "merchant",
    "order_number",
    "placed_at",
    "amount",
    "currency",
    "customer_email",
    "customer_language",
    "is_invoice",
    "protection_tier",
    "shipments",
    "line_summary",
)
# What the floors write: every NOT NULL column of disputes_order, filled as orders_upsert fills
# it for a new order (the nullable ones it leaves empty are left out).
ROW_COLUMNS = (
    "merchant_id",
    "order_number",
    "placed_at",
    "amount",
    "currency",
    "customer_email",
    "customer_language",
    "payment_state",
    "protection_tier",
    "protection_status",
    "protection_ends_at",
    "is_invoice",
    "shipments",
    "line_summary",
    "refunded_outside_amount",
    "moved_to_customer",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class FeedMerchant:
    slug: str
    currency: str


@dataclass(frozen=True)
class Batch:
    """`count` orders of one merchant, numbered from `first` (a position in the run)."""

    merchant: FeedMerchant
    first: int
    count: int

    def as_json(self) -> dict[str, Any]:
        return {
            "merchant": self.merchant.slug,
            "currency": self.merchant.currency,
            "first": self.first,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        return cls(FeedMerchant(data["merchant"], data["currency"]), data["first"], data["count"])


def order_number(tag: str, position: int) -> str:
    return f"{tag}-{position:07d}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def order_item(position: int, merchant: FeedMerchant, *, tag: str, now: datetime) -> dict[str, Any]:
    """One order as the feed sends it (the JSON of POST /api/v1/orders)."""
    placed = now.replace(microsecond=0) - timedelta(
        days=4 + position % 397, seconds=(position * 7919) % 86400
    )
    shipment: dict[str, Any] = {
        "carrier": ("PostNL", "DHL", "Posti", "PostNord")[position % 4],
        "tracking_number": f"3S{position * 2654435761 % 10**10:010d}",
        "shipped_at": _iso(placed + timedelta(days=1)),
        "delivered_at": _iso(placed + timedelta(days=3)) if position % 2 == 0 else None,
    }
    cents = 500 + (position * 104729) % 99500
    return {
        "order_number": order_number(tag, position),
        "placed_at": _iso(placed),
        "amount": f"{cents // 100}.{cents % 100:02d}",
        "currency": merchant.currency,
        "customer_email": f"customer{position}@{merchant.slug}.example",
        "customer_language": LANGUAGES[position % len(LANGUAGES)],
        "is_invoice": position % 3 != 0,
        "protection_tier": TIERS[position % len(TIERS)],
        "shipments": [shipment],
        "line_summary": f"{1 + position % 5} items",
    }


def batch_items(batch: Batch, *, tag: str, now: datetime) -> list[dict[str, Any]]:
    return [
        order_item(position, batch.merchant, tag=tag, now=now)
        for position in range(batch.first, batch.first + batch.count)
    ]


def batch_body(batch: Batch, *, tag: str, now: datetime) -> bytes:
    """The body of one POST /api/v1/orders/batch."""
    return json.dumps({"orders": batch_items(batch, tag=tag, now=now)}).encode()


def plan_batches(
    merchants: Sequence[FeedMerchant], orders: int, *, batch_size: int = BATCH_SIZE, start: int = 0
) -> list[Batch]:
    """`orders` orders in batches of `batch_size`, the merchants taking turns."""
    batches = []
    for index, first in enumerate(range(start, start + orders, batch_size)):
        count = min(batch_size, start + orders - first)
        batches.append(Batch(merchants[index % len(merchants)], first, count))
    return batches


# --- Files ------------------------------------------------------------------------------------


def file_items(
    merchants: Sequence[FeedMerchant], lines: int, *, tag: str, now: datetime
) -> Iterator[tuple[FeedMerchant, dict[str, Any]]]:
    """The orders of an import file: one per line, the merchants taking turns line by line."""
    for position in range(lines):
        merchant = merchants[position % len(merchants)]
        yield merchant, order_item(position, merchant, tag=tag, now=now)


def write_jsonl(
    path: Path, merchants: Sequence[FeedMerchant], lines: int, *, tag: str, now: datetime
) -> int:
    """A JSON Lines import file, written as it is generated; returns its size in bytes."""
    with path.open("w", encoding="utf-8") as out:
        for merchant, item in file_items(merchants, lines, tag=tag, now=now):
            out.write(json.dumps({"merchant": merchant.slug, **item}) + "\n")
    return path.stat().st_size


def write_csv(
    path: Path, merchants: Sequence[FeedMerchant], lines: int, *, tag: str, now: datetime
) -> int:
    """A CSV import file (header row; shipments as JSON in one cell); returns its size."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_FIELDS)
        for merchant, item in file_items(merchants, lines, tag=tag, now=now):
            writer.writerow(
                [
                    merchant.slug,
                    item["order_number"],
                    item["placed_at"],
                    item["amount"],
                    item["currency"],
                    item["customer_email"],
                    item["customer_language"],
                    "true" if item["is_invoice"] else "false",
                    item["protection_tier"],
                    json.dumps(item["shipments"]),
                    item["line_summary"],
                ]
            )
    return path.stat().st_size


# --- The floor's row --------------------------------------------------------------------------


def _stored_time(value: str | None) -> str | None:
    """A shipment time as the portal stores it: datetime.isoformat() in UTC."""
    if value is None:
        return None
    return value[:-1] + "+00:00" if value.endswith("Z") else value


def floor_row(item: dict[str, Any], *, merchant_id: int, now: datetime) -> tuple[Any, ...]:
    """The disputes_order row (ROW_COLUMNS) orders_upsert writes for this new order, without
    its checks: the values as the feed sends them (PostgreSQL parses the text), what the portal
    derives (payment state, protection) derived directly."""
    placed_at: str = item["placed_at"]
    is_invoice = item["is_invoice"]
    if not isinstance(is_invoice, bool):  # from a CSV cell
        is_invoice = str(is_invoice).strip().lower() not in ("false", "0", "no", "")
    shipments = item["shipments"]
    if isinstance(shipments, str):  # from a CSV cell
        shipments = json.loads(shipments)
    tier = item["protection_tier"]
    if tier == "none":
        status, ends_at = "none", None
    else:
        ends = datetime.fromisoformat(placed_at) + timedelta(days=PROTECTION_DAYS)
        status, ends_at = ("active" if ends > now else "expired"), ends
    stored_shipments = json.dumps(
        [
            {
                "carrier": s["carrier"],
                "tracking_number": s["tracking_number"],
                "shipped_at": _stored_time(s.get("shipped_at")),
                "delivered_at": _stored_time(s.get("delivered_at")),
            }
            for s in shipments
        ]
    )
    return (
        merchant_id,
        item["order_number"],
        placed_at,
        item["amount"],
        item["currency"],
        item["customer_email"],
        item["customer_language"],
        "active" if is_invoice else "paid",
        tier,
        status,
        ends_at,
        is_invoice,
        stored_shipments,
        item["line_summary"],
        "0",
        "0",
        now,
        now,
    )


def copy_sql() -> str:
    return f"COPY disputes_order ({', '.join(ROW_COLUMNS)}) FROM STDIN"


def now_utc() -> datetime:
    return datetime.now(UTC)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
