"""Orders from a file (a back-fill): CSV or JSON Lines, read a line at a time and written through
`orders_upsert` in batches of at most MAX_BATCH per merchant. Used by `manage.py import_orders`
and the admin upload.

Memory stays flat in the file's size: lines are read lazily, at most a few batches wait to be
written, and of the results only the counts (and the first few errors, for a page) are kept;
every refused line goes to the error report as it is found.

The file's fields are those of the order feed (`disputes.orders.check_order`) plus `merchant`,
the merchant's slug. In CSV, an empty cell is a field not given, and `shipments` is a JSON list
in one cell (`[{"carrier": "PostNL", "tracking_number": "3S1"}]`). Safe to re-run: the same file
again is all `unchanged`. A line repeating an order number of the same merchant is refused when
both fall into one batch (`duplicate_in_batch`); in a later batch it updates: the last one wins.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import IO, Any, NamedTuple

from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext

from .errors import DomainError
from .models import Merchant
from .orders import MAX_BATCH, OrderRefused, OrderStatus, orders_upsert

MERCHANT_FIELD = "merchant"
REPORT_HEADER = ("line", "order_number", "merchant", "code", "field", "message")
# Lines waiting for their merchant's batch to fill, over all merchants: past this, every
# merchant's batch is written, so a file naming many merchants does not pile up lines.
MAX_PENDING = 10 * MAX_BATCH
# The admin upload's error reports, in the private storage; deleted after REPORTS_KEPT.
REPORTS_DIR = "imports"
REPORTS_KEPT = timedelta(days=30)


class ImportFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


_EXTENSIONS = {
    ".csv": ImportFormat.CSV,
    ".jsonl": ImportFormat.JSONL,
    ".ndjson": ImportFormat.JSONL,
}


class ImportFileRefused(DomainError):
    """The file as a whole cannot be read (no header, an unknown format)."""

    code = "file_refused"


def format_of(name: str) -> ImportFormat | None:
    """The format a file name's extension says, or None."""
    lowered = name.lower()
    for extension, found in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return found
    return None


class SourceLine(NamedTuple):
    """One record of the file: its first line's number, the merchant it names, and the raw
    order (or why the record cannot be read at all)."""

    number: int
    merchant: str
    raw: dict[str, Any]
    error: OrderRefused | None = None


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    order_number: str
    merchant: str
    code: str
    field: str
    message: str

    def as_row(self) -> list[str]:
        return [
            str(self.line),
            *(_csv_safe(value) for value in (self.order_number, self.merchant)),
            self.code,
            self.field,
            _csv_safe(self.message),
        ]


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    first_errors: list[LineError] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.created + self.updated + self.unchanged + self.errors


def _csv_safe(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _malformed(number: int, message: str) -> SourceLine:
    return SourceLine(number, "", {}, OrderRefused(message, field=None, code="malformed"))


# --- Reading ----------------------------------------------------------------------------------


def read_source(stream: IO[bytes], *, file_format: ImportFormat) -> Iterator[SourceLine]:
    """The file's records, lazily, from a binary stream (a file, standard input, an upload)."""
    if file_format == ImportFormat.CSV:
        return read_csv(stream)
    return read_jsonl(stream)


def read_jsonl(stream: Iterable[bytes]) -> Iterator[SourceLine]:
    """One JSON object per line; blank lines are skipped."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            # Bytes in: json detects UTF-8 (with or without BOM); amounts stay exact decimals.
            raw = json.loads(line, parse_float=Decimal)
        except ValueError:  # bad JSON, or not UTF-8
            yield _malformed(number, gettext("This line is not valid JSON."))
            continue
        if not isinstance(raw, dict):
            yield _malformed(number, gettext("This line is not a JSON object."))
            continue
        merchant = raw.pop(MERCHANT_FIELD, None)
        if merchant is not None and not isinstance(merchant, str):
            yield _malformed(number, gettext("The merchant is given by its slug, as text."))
            continue
        yield SourceLine(number, (merchant or "").strip(), raw)


# Bytes that are not UTF-8 are decoded to lone surrogates (surrogateescape): a record that
# holds one is refused, the rest of the file is read on.
_UNDECODED = re.compile("[\udc80-\udcff]")


def read_csv(stream: IO[bytes]) -> Iterator[SourceLine]:
    """A header row naming the columns, then one order per row; empty cells are not given."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        yield from _csv_records(csv.reader(text, strict=True))
    finally:
        text.detach()  # the caller closes its stream


def _csv_records(reader: Any) -> Iterator[SourceLine]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error:
        raise ImportFileRefused(gettext("The CSV file's header row cannot be read.")) from None
    if "order_number" not in header:
        raise ImportFileRefused(
            gettext("The CSV file's header row names no order_number column."), field="file"
        )
    columns = len(header)
    has_merchant = MERCHANT_FIELD in header
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:  # an unclosed quote, a NUL byte: this record only
            yield _malformed(last + 1, gettext("This line is not valid CSV."))
            last = reader.line_num
            continue
        number, last = last + 1, reader.line_num
        if not row:
            continue  # a blank line
        joined = "".join(row)
        if not joined.isascii() and _UNDECODED.search(joined):
            yield _malformed(number, gettext("This line is not UTF-8 text."))
            continue
        if len(row) != columns:
            yield _malformed(
                number,
                gettext("This line has %(found)s columns; the header has %(expected)s.")
                % {"found": len(row), "expected": columns},
            )
            continue
        raw = {name: value for name, value in zip(header, row, strict=True) if value}
        merchant = raw.pop(MERCHANT_FIELD, "").strip() if has_merchant else ""
        shipments = raw.get("shipments")
        if shipments is not None:
            try:
                raw["shipments"] = json.loads(shipments)
            except ValueError:
                yield SourceLine(
                    number,
                    merchant,
                    raw,
                    OrderRefused(
                        gettext("The shipments are a JSON list of objects."), field="shipments"
                    ),
                )
                continue
        yield SourceLine(number, merchant, raw)


# --- Writing ----------------------------------------------------------------------------------


class ErrorReport:
    """The error report as CSV on a text stream: one row per refused line."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream)
        self._writer.writerow(REPORT_HEADER)

    def __call__(self, error: LineError) -> None:
        self._writer.writerow(error.as_row())


class _Merchants:
    """The merchants the file names, looked up once each (and the default for lines naming
    none)."""

    def __init__(self, default: Merchant | None) -> None:
        self._default = default
        self._by_slug: dict[str, Merchant | None] = {}

    def find(self, slug: str) -> Merchant | OrderRefused:
        if not slug:
            if self._default is not None:
                return self._default
            return OrderRefused(
                gettext("Name the merchant by its slug in the line, or for the whole file."),
                field=MERCHANT_FIELD,
                code="required",
            )
        if slug not in self._by_slug:
            self._by_slug[slug] = Merchant.objects.filter(slug=slug).first()
        found = self._by_slug[slug]
        if found is None:
            return OrderRefused(
                gettext("No merchant has the slug %(slug)s.") % {"slug": slug},
                field=MERCHANT_FIELD,
                code="unknown_merchant",
            )
        return found


class _Importer:
    def __init__(
        self,
        *,
        merchant: Merchant | None,
        batch_size: int,
        on_error: Callable[[LineError], None],
        keep_errors: int,
    ) -> None:
        self.summary = ImportSummary()
        self._merchants = _Merchants(merchant)
        self._batch_size = batch_size
        self._on_error = on_error
        self._keep_errors = keep_errors
        self._pending: dict[int, tuple[Merchant, list[SourceLine]]] = {}
        self._pending_lines = 0

    def take(self, line: SourceLine) -> None:
        found = line.error or self._merchants.find(line.merchant)
        if isinstance(found, OrderRefused):
            self._refused(line, found, slug=line.merchant)
            return
        _merchant, batch = self._pending.setdefault(found.pk, (found, []))
        batch.append(line)
        self._pending_lines += 1
        if len(batch) >= self._batch_size:
            self._write(found.pk)
        elif self._pending_lines >= MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        for merchant_id in list(self._pending):
            self._write(merchant_id)

    def _write(self, merchant_id: int) -> None:
        merchant, lines = self._pending.pop(merchant_id)
        self._pending_lines -= len(lines)
        results = orders_upsert(
            merchant=merchant,
            items=[line.raw for line in lines],
            now=timezone.now(),
            with_orders=False,
        )
        summary = self.summary
        for line, result in zip(lines, results, strict=True):
            status = result.status
            if status == OrderStatus.CREATED:
                summary.created += 1
            elif status == OrderStatus.UNCHANGED:
                summary.unchanged += 1
            elif status == OrderStatus.UPDATED:
                summary.updated += 1
            else:
                assert result.error is not None  # noqa: S101 - every error result has one
                self._refused(line, result.error, slug=merchant.slug)

    def _refused(self, line: SourceLine, error: OrderRefused, *, slug: str) -> None:
        self.summary.errors += 1
        row = LineError(
            line=line.number,
            order_number=_number_of(line.raw),
            merchant=slug,
            code=error.code,
            field=error.field or "",
            message=error.message,
        )
        if len(self.summary.first_errors) < self._keep_errors:
            self.summary.first_errors.append(row)
        self._on_error(row)


def _number_of(raw: dict[str, Any]) -> str:
    number = raw.get("order_number")
    return "" if number is None else str(number)[:64]


def import_orders(
    source: Iterable[SourceLine],
    *,
    merchant: Merchant | None,
    on_error: Callable[[LineError], None],
    batch_size: int = MAX_BATCH,
    keep_errors: int = 0,
) -> ImportSummary:
    """Write the source's orders, batch by batch, each batch in its own transaction (a run cut
    short is finished by running it again). `merchant` serves the lines that name none;
    `on_error` gets each refused line as it is found, `keep_errors` of them stay in the
    summary."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size is 1 to {MAX_BATCH}")
    importer = _Importer(
        merchant=merchant,
        batch_size=batch_size,
        on_error=on_error,
        keep_errors=keep_errors,
    )
    for line in source:
        importer.take(line)
    importer.flush()
    return importer.summary


def import_reports_delete_stale(*, now: datetime) -> int:
    """Delete the admin upload's error reports older than REPORTS_KEPT; how many went."""
    if not default_storage.exists(REPORTS_DIR):
        return 0
    _dirs, names = default_storage.listdir(REPORTS_DIR)
    deleted = 0
    for name in names:
        stored = f"{REPORTS_DIR}/{name}"
        if default_storage.get_modified_time(stored) < now - REPORTS_KEPT:
            default_storage.delete(stored)
            deleted += 1
    return deleted
