"""Replay every order's payment instructions and compare them with the portal's records."""

from __future__ import annotations

from itertools import chain
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.ledger import verify_fee_instructions
from disputes.ledger import verify_ledger
from disputes.models import Merchant


class Command(BaseCommand):
    help = (
        "Replay every order's payment instructions and check them against the order's payment "
        "state, what its cases moved to the customer and the fees billed. Prints each "
        "difference; exits 1 when there is any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit",
            type=int,
            default=100,
            help="Print at most this many differences (all are counted). Default 100.",
        )

        parser.add_argument("--merchant", help="Check only this merchant's orders (its slug).")

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int = options["limit"]
        merchant = None
        if options["merchant"]:
            merchant = Merchant.objects.filter(slug=options["merchant"]).first()
            if merchant is None:
                raise CommandError(f"No merchant with the slug {options['merchant']!r}.")
        found = 0
        differences = chain(
            verify_ledger(merchant=merchant), verify_fee_instructions(merchant=merchant)
        )
        for difference in differences:
            found += 1
            if found <= limit:
                self.stdout.write(str(difference))
        if found:
            raise CommandError(f"{found} difference(s) between the instructions and the records.")
        self.stdout.write(self.style.SUCCESS("The instructions agree with the records."))
