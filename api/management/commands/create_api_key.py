"""Make an API key for the operator, a platform partner or a merchant, and print it (it is shown
only once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from api.keys import api_key_create
from api.scopes import ALL_SCOPES
from disputes.models import Merchant, PlatformPartner


class Command(BaseCommand):
    help = (
        "Create an API key for the operator (--operator), a platform partner (--partner) or a "
        "merchant (--merchant), with all the scopes its kind may have or those given (--scope)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument(
            "--operator", action="store_true", help="acts for every merchant (the provider)"
        )
        owner.add_argument("--partner", help="the platform partner's slug")
        owner.add_argument("--merchant", help="the merchant's slug")
        parser.add_argument("--name", default="Created on the command line")
        parser.add_argument(
            "--scope",
            action="append",
            choices=sorted(ALL_SCOPES),
            help="a scope to give (repeat for more); all its kind may have when left out",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = partner = None
        if options["merchant"]:
            merchant = Merchant.objects.filter(slug=options["merchant"]).first()
            if merchant is None:
                raise CommandError(f"No merchant with slug {options['merchant']!r}.")
        elif options["partner"]:
            partner = PlatformPartner.objects.filter(slug=options["partner"]).first()
            if partner is None:
                raise CommandError(f"No platform partner with slug {options['partner']!r}.")
        try:
            created = api_key_create(
                name=options["name"],
                merchant=merchant,
                partner=partner,
                operator=options["operator"],
                scopes=options["scope"],
                now=timezone.now(),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        scopes = " ".join(created.api_key.scopes)
        self.stderr.write(f"The key is shown only this once; store it now. Scopes: {scopes}")
        self.stdout.write(created.key)
