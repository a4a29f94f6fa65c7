"""Compute a month's fee statements by hand: as drafts to review, or issued."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import services
from billing.policies import month_of


class Command(BaseCommand):
    help = "Compute every merchant's fee statements of a month (UTC) that has ended."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM; the month before today when left out")
        parser.add_argument(
            "--draft", action="store_true", help="compute drafts, issue nothing, send nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        period = None
        if options["month"]:
            try:
                year, month = (int(part) for part in options["month"].split("-"))
                period = month_of(date(year, month, 1))
            except ValueError as error:
                raise CommandError("--month must look like 2026-03") from error
        try:
            run = services.statements_issue_month(period=period, issue=not options["draft"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{run.period.first_day:%Y-%m}: {run.merchants} merchants in {run.batches} batches, "
            f"{run.issued} issued, {run.drafted} drafts, {run.already_issued} already issued"
        )
