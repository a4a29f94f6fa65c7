"""Keep every merchant's figures of the months that have ended (disputes/monthly.py).

The dashboard counts a missing or stale month on first view; this does it ahead, e.g. after a
back-fill written around the portal's write path (`--again`) or once a month has ended
everywhere. Idempotent: it can run twice, late, or while merchants look at their dashboards.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from disputes import monthly
from disputes.models import Merchant


class Command(BaseCommand):
    help = "Count and keep the merchants' figures of the recent months that have ended."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", action="append", default=[], help="slug (repeatable)")
        parser.add_argument("--months", type=int, default=13, help="months back (default 13)")
        parser.add_argument(
            "--again", action="store_true", help="count every month again, kept or not"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        merchants = Merchant.objects.order_by("pk")
        if options["merchant"]:
            merchants = merchants.filter(slug__in=options["merchant"])
        done = 0
        for merchant in merchants.iterator():
            monthly.build(merchant, now, count=options["months"], again=options["again"])
            done += 1
        self.stdout.write(f"Month figures kept for {done} merchants.")
