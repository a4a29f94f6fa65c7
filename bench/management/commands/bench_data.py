"""Fill PostgreSQL with benchmark data: `manage.py bench_data --merchants 1000 --orders 2000000
--disputes 1000000` (see bench/data.py for the shape)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from tqdm import tqdm

from bench.data import LARGE_SLUG, BenchSize, generate
from disputes.models import Merchant


class Command(BaseCommand):
    help = "Generate seeded-random benchmark data (PostgreSQL only, into an empty database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchants", type=int, default=1000)
        parser.add_argument("--orders", type=int, default=2_000_000)
        parser.add_argument("--disputes", type=int, default=1_000_000)
        parser.add_argument(
            "--overdue", type=float, default=0.10, help="share of cases past a merchant deadline"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError(
                "bench_data needs PostgreSQL: set DATABASE_URL to a postgres:// URL."
            )
        if Merchant.objects.filter(slug=LARGE_SLUG).exists():
            raise CommandError(
                "This database holds benchmark data already; use a fresh one (make bench does)."
            )
        try:
            size = BenchSize(
                merchants=options["merchants"],
                orders=options["orders"],
                disputes=options["disputes"],
                overdue=options["overdue"],
                seed=options["seed"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        started = time.perf_counter()
        with tqdm(
            total=size.orders,
            unit=" orders",
            unit_scale=True,
            desc="bench data",
            disable=options["no_progress"],
            file=self.stderr._out,
        ) as bar:
            counts = generate(size, progress=bar.update, stage=bar.set_postfix_str)
        elapsed = time.perf_counter() - started
        summary = ", ".join(f"{table}: {count:,}" for table, count in counts.items())
        self.stdout.write(f"Generated in {elapsed:.1f} s: {summary}")
