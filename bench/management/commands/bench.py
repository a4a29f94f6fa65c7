"""Measure the portal on benchmark data (`make bench`): print a table, write bench/results.json.

Run it on a database filled by `manage.py bench_data`. The sweep and the case openings change the
data, so the read-only figures run first (the customer's pages, "customer", among them), the
support desk's ("desk") right after the sweep, whose 100 000 escalations bring the support queue
to about 180 000 cases, and the order intake figures ("orders": the batch API,
"import": import_orders, its rate and its memory) add about 1.9 million orders; the retention job
("retention") pseudonymises the 50 000 oldest closed cases last; run `make bench` again for a
fresh database. `--only orders --only import` runs just those."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench.data import LARGE_SLUG, THOUSAND_SLUG
from bench.results import RESULTS_PATH, Figure, table, write_results
from disputes.models import Dispute, Merchant, Order

_STEPS = (
    "pages",
    "api",
    "customer",
    "sweep",
    "desk",
    "opening",
    "statements",
    "orders",
    "import",
    "retention",
)
INTAKE_MERCHANTS = 8  # the merchants whose orders the intake figures send, in turn


class Command(BaseCommand):
    help = "Run the benchmark's figures on bench_data and write bench/results.json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only", choices=_STEPS, action="append", help="run only these figures (repeatable)"
        )
        parser.add_argument(
            "--repeats", type=int, default=50, help="requests per page figure (pages, desk)"
        )
        parser.add_argument(
            "--load-seconds",
            type=float,
            default=15.0,
            help="duration of each load run (the API list's, the customer pages')",
        )
        parser.add_argument("--submissions", type=int, default=200, help="case openings per kind")
        parser.add_argument(
            "--intake-orders", type=int, default=200_000, help="orders sent to the batch API"
        )
        parser.add_argument(
            "--import-lines", type=int, default=200_000, help="lines of the import rate's file"
        )
        parser.add_argument(
            "--memory-lines",
            type=int,
            nargs=2,
            default=[100_000, 1_000_000],
            metavar=("SMALL", "LARGE"),
            help="lines of the two files of the import memory figure",
        )
        parser.add_argument("--output", type=Path, default=RESULTS_PATH)

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("The benchmark runs on PostgreSQL: set DATABASE_URL.")
        if not Merchant.objects.filter(slug=LARGE_SLUG).exists():
            raise CommandError("No benchmark data here: run `manage.py bench_data` first.")
        steps = options["only"] or list(_STEPS)
        meta = self._meta()
        self.stdout.write(
            f"Benchmark on {meta['data']['disputes']:,} cases, {meta['data']['orders']:,} orders,"
            f" {meta['data']['merchants']:,} merchants ({meta['cpus']} CPUs)"
        )
        figures: list[Figure] = []
        timings: dict[str, float] = {}
        for step in steps:
            self.stdout.write(f"- {step} ...")
            started = time.perf_counter()
            figures += self._runner(step, options)()
            timings[step] = round(time.perf_counter() - started, 1)
            self.stdout.write(f"  done in {timings[step]} s")
        meta["step_seconds"] = timings
        write_results(figures, meta=meta, path=options["output"])
        self.stdout.write("")
        self.stdout.write(table(figures))
        self.stdout.write(f"\nWritten to {options['output']}")
        missed = [f.name for f in figures if f.met is False]
        if missed:
            self.stdout.write(f"Targets missed: {', '.join(missed)}")

    def _runner(self, step: str, options: dict[str, Any]) -> Callable[[], list[Figure]]:
        # Imported here: each module pulls in what only its figure needs (gunicorn, reportlab).
        if step == "pages":
            from bench.pages import case_and_dashboard_figures, queue_page_figures

            return lambda: [
                *queue_page_figures(
                    large_slug=LARGE_SLUG, small_slug=THOUSAND_SLUG, repeats=options["repeats"]
                ),
                *case_and_dashboard_figures(slug=LARGE_SLUG, repeats=options["repeats"]),
            ]
        if step == "api":
            from bench.api_load import api_list_figures

            return lambda: api_list_figures(
                merchant_slug=LARGE_SLUG, duration=options["load_seconds"]
            )
        if step == "sweep":
            from bench.sweep import sweep_figures

            return sweep_figures
        if step == "desk":
            from bench.desk import desk_figures

            return lambda: desk_figures(
                large_slug=LARGE_SLUG, small_slug=THOUSAND_SLUG, repeats=options["repeats"]
            )
        if step == "customer":
            from bench.customer_pages import customer_page_figures

            return lambda: customer_page_figures(slug=LARGE_SLUG, duration=options["load_seconds"])
        if step == "opening":
            from bench.opening import case_opening_figures

            return lambda: case_opening_figures(submissions=options["submissions"])
        if step == "orders":
            from bench.intake import order_batch_figures

            return lambda: order_batch_figures(
                merchant_slugs=_intake_merchants(), orders=options["intake_orders"]
            )
        if step == "import":
            from bench.intake import import_figure, import_memory_figure

            return lambda: [
                import_figure(merchant_slugs=_intake_merchants(), lines=options["import_lines"]),
                import_memory_figure(
                    merchant_slugs=_intake_merchants(), lines=options["memory_lines"]
                ),
            ]
        if step == "retention":
            from bench.retention import retention_figures

            return retention_figures
        from bench.statements import statement_figures

        return statement_figures

    def _meta(self) -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            server = cursor.fetchone()[0]
        return {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _git_commit(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": server,
            "data": {
                "merchants": Merchant.objects.count(),
                "orders": Order.objects.count(),
                "disputes": Dispute.objects.count(),
            },
        }


def _intake_merchants() -> list[str]:
    """Long-tail merchants of the bench data (neither the large one nor the 1 000-case one)."""
    slugs = (
        Merchant.objects.exclude(slug__in=[LARGE_SLUG, THOUSAND_SLUG])
        .filter(slug__startswith="bench-")
        .order_by("slug")
        .values_list("slug", flat=True)[:INTAKE_MERCHANTS]
    )
    return list(slugs)


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
