"""Make an API key for a merchant or a platform partner and print it (it is shown only once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from api.keys import api_key_create
from disputes.models import Merchant, PlatformPartner


class Command(BaseCommand):
    help = "Create an API key for a merchant (--merchant) or a platform partner (--partner)."

    def add_arguments(self, parser: CommandParser) -> None:
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--merchant", help="the merchant's slug")
        owner.add_argument("--partner", help="the platform partner's slug")
        parser.add_argument("--name", default="Created on the command line")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = partner = None
        if options["merchant"]:
            merchant = Merchant.objects.filter(slug=options["merchant"]).first()
            if merchant is None:
                raise CommandError(f"No merchant with slug {options['merchant']!r}.")
        else:
            partner = PlatformPartner.objects.filter(slug=options["partner"]).first()
            if partner is None:
                raise CommandError(f"No platform partner with slug {options['partner']!r}.")
        created = api_key_create(
            name=options["name"], merchant=merchant, partner=partner, now=timezone.now()
        )
        self.stderr.write("The key is shown only this once; store it now.")
        self.stdout.write(created.key)
