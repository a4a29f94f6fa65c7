"""Apply the retention policy now (the beat job `disputes.apply_retention` does it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from disputes.privacy.policies import all_policies
from disputes.privacy.retention import apply_retention


class Command(BaseCommand):
    help = "Delete the documents and pseudonymise the personal data the retention policy says."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--show-policy", action="store_true", help="print the policy only")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["show_policy"]:
            for rule in all_policies():
                self.stdout.write(
                    f"{rule.kind}: {rule.months} months after {rule.starts}; then {rule.action}"
                )
            return
        report = apply_retention()
        self.stdout.write(
            ", ".join(
                f"{name.replace('_', ' ')}: {count}" for name, count in report.as_dict().items()
            )
        )
