"""Check the timeline's hash chain (disputes.privacy.chain) of one case, several, or all.

Exits 1 and lists every entry where a chain does not hold: an entry changed, removed,
inserted or reordered outside the portal. A case's personal text removed under the retention
policy does not break its chain.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from disputes.identifiers import normalise_public_id
from disputes.models import Dispute, DisputeEvent
from disputes.privacy.chain import check


class Command(BaseCommand):
    help = "Check the hash chain of the timeline of the given cases (public ids), or of all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("cases", nargs="*", help="case ids, e.g. DP-7K2M-Q9XD-4HTA")

    def handle(self, *args: Any, **options: Any) -> None:
        events = DisputeEvent.objects.order_by("dispute_id", "id")
        if options["cases"]:
            wanted = {normalise_public_id(case) for case in options["cases"]}
            found = dict(
                Dispute.objects.filter(public_id__in=wanted).values_list("public_id", "pk")
            )
            missing = sorted(wanted - set(found))
            if missing:
                raise CommandError(f"No such case: {', '.join(missing)}")
            events = events.filter(dispute_id__in=found.values())
        rows = events.only(
            "dispute_id",
            "event_type",
            "actor_kind",
            "actor_id",
            "message",
            "visibility",
            "data",
            "created_at",
            "personal_digest",
            "previous_hash",
            "hash",
            "redacted_at",
        )
        counted = {"entries": 0, "cases": 0}

        def counting(iterator: Any) -> Any:
            case = None
            for event in iterator:
                counted["entries"] += 1
                if event.dispute_id != case:
                    case = event.dispute_id
                    counted["cases"] += 1
                yield event

        breaks = check(counting(rows.iterator(chunk_size=5000)))
        if breaks:
            ids = dict(
                Dispute.objects.filter(pk__in={b.dispute_id for b in breaks}).values_list(
                    "pk", "public_id"
                )
            )
            for found_break in breaks:
                self.stderr.write(
                    f"{ids[found_break.dispute_id]} entry {found_break.event_id}: "
                    f"{found_break.problem}"
                )
            raise CommandError(
                f"{len(breaks)} timeline entries in {len(ids)} cases do not hold "
                f"(checked {counted['entries']} entries of {counted['cases']} cases)."
            )
        self.stdout.write(
            f"Checked {counted['entries']} timeline entries of {counted['cases']} cases: "
            "every chain holds."
        )
