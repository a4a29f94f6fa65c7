"""`manage.py import_orders FILE`: back-fill orders from a CSV or JSON Lines file."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from disputes.models import Merchant
from disputes.order_import import (
    ErrorReport,
    ImportFileRefused,
    ImportFormat,
    SourceLine,
    format_of,
    import_orders,
    read_source,
)
from disputes.orders import FEED_FIELDS, MAX_BATCH

EPILOG = f"""\
The file:
  CSV: a header row, then one order per row. Columns: {", ".join(FEED_FIELDS)}, and
  optionally merchant (the merchant's slug). An empty cell is a field not given. shipments is
  a JSON list in one cell, e.g. [{{"carrier": "PostNL", "tracking_number": "3S1"}}].
  JSON Lines (.jsonl, .ndjson): one JSON object per line with the same keys.
  Each line's merchant is its merchant column/key, else --merchant.

Safe to re-run: orders are matched by (merchant, order number); the same file again leaves
every order unchanged. Two lines with the same order number of one merchant are refused when
they fall into one batch (duplicate_in_batch); in different batches the later line updates the
order: the last line wins.

Each batch is written in its own transaction: an import cut short is finished by running the
same file again.

Exit status: 0 every line imported; 1 some lines were refused (see the error report: line,
order_number, merchant, code, field, message); 2 the file cannot be read or the arguments are
wrong.
"""

_PROGRESS_EVERY = 1000  # lines between progress bar updates


class Command(BaseCommand):
    help = "Create or update orders from a CSV or JSON Lines file (streamed, in batches)."
    # The server's checks (URLs, settings) are not this command's business; they cost a third
    # of a second at every start (--skip-checks is then the default).
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        parser.epilog = EPILOG
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the CSV or JSON Lines file; - reads standard input")
        parser.add_argument("--merchant", help="slug of the merchant for lines that name none")
        parser.add_argument(
            "--format",
            choices=[f.value for f in ImportFormat],
            help="csv or jsonl (default: from the extension .csv, .jsonl, .ndjson)",
        )
        parser.add_argument(
            "--errors",
            help="where the error report goes (default: FILE.errors.csv beside the file)",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=MAX_BATCH,
            help=f"orders per write, 1 to {MAX_BATCH} (default {MAX_BATCH})",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["file"]
        batch_size: int = options["batch_size"]
        if not 1 <= batch_size <= MAX_BATCH:
            raise CommandError(f"--batch-size is 1 to {MAX_BATCH}.", returncode=2)
        file_format = _format(name, options["format"])
        merchant = _merchant(options["merchant"])
        report_path = _report_path(name, options["errors"])
        # What is loaded by now (Django, the app) stays out of the collector's scans: a long
        # import would otherwise walk it at every full collection (a sixth of its time).
        gc.freeze()
        with contextlib.ExitStack() as stack:
            stack.callback(gc.unfreeze)
            stream, size = _open(name, stack)
            try:
                report_file = stack.enter_context(
                    open(report_path, "w", encoding="utf-8", newline="")
                )
            except OSError as error:
                raise CommandError(
                    f"Cannot write the error report {report_path}: {error}", returncode=2
                ) from None
            bar = stack.enter_context(
                tqdm(
                    total=size,
                    unit="B" if size is not None else " lines",
                    unit_scale=True,
                    desc="orders",
                    file=sys.stderr,
                    disable=options["no_progress"] or not sys.stderr.isatty(),
                )
            )
            lines = read_source(stream, file_format=file_format)
            try:
                summary = import_orders(
                    lines if bar.disable else _with_progress(lines, stream, bar, size),
                    merchant=merchant,
                    on_error=ErrorReport(report_file),
                    batch_size=batch_size,
                )
            except ImportFileRefused as error:
                raise CommandError(f"{name}: {error.message}", returncode=2) from None
            except OSError as error:
                raise CommandError(f"Cannot read {name}: {error}", returncode=2) from None
        self.stdout.write(
            f"{summary.lines} lines: {summary.created} created, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.errors} errors."
        )
        self.stdout.write(f"Error report: {report_path}")
        if summary.errors:
            self.stderr.write(f"{summary.errors} lines were refused; see {report_path}.")
            raise SystemExit(1)


def _format(name: str, given: str | None) -> ImportFormat:
    if given:
        return ImportFormat(given)
    found = format_of(name)
    if found is None:
        raise CommandError(
            "Cannot tell the format from the file name: give --format csv or jsonl.", returncode=2
        )
    return found


def _merchant(slug: str | None) -> Merchant | None:
    if not slug:
        return None
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise CommandError(f"No merchant has the slug {slug!r}.", returncode=2)
    return merchant


def _report_path(name: str, given: str | None) -> Path:
    if given:
        return Path(given)
    if name == "-":
        raise CommandError("Reading standard input: give --errors PATH.", returncode=2)
    return Path(f"{name}.errors.csv")


def _open(name: str, stack: contextlib.ExitStack) -> tuple[IO[bytes], int | None]:
    """The input as a binary stream, and its size when known (for the progress bar)."""
    if name == "-":
        return sys.stdin.buffer, None
    try:
        stream = stack.enter_context(open(name, "rb"))  # noqa: SIM115
        return stream, os.fstat(stream.fileno()).st_size
    except OSError as error:
        raise CommandError(f"Cannot read {name}: {error.strerror}", returncode=2) from None


def _with_progress(
    lines: Iterable[SourceLine], stream: IO[bytes], bar: tqdm[Any], size: int | None
) -> Iterator[SourceLine]:
    """The records, moving the bar every so many: by the bytes read when the size is known,
    else by the records."""
    for count, line in enumerate(lines, start=1):
        if count % _PROGRESS_EVERY == 0:
            bar.update(stream.tell() - bar.n if size is not None else _PROGRESS_EVERY)
        yield line
    if size is not None:
        bar.update(size - bar.n)
