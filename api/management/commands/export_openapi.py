"""Write the served API schema to its committed snapshot, docs/openapi.json (`make openapi`).

The same bytes on every run, machine and database: keys sorted, two-space indents, English,
no dependence on the data. `--check` writes nothing and exits 1, listing what differs, when the
snapshot is not the served schema (tests/api/test_schema.py checks the same).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

SNAPSHOT = Path(settings.BASE_DIR) / "docs" / "openapi.json"


def served_schema() -> dict[str, Any]:
    """The schema /api/v1/openapi.json serves, as plain JSON data."""
    from api.v1 import api

    with translation.override("en"):
        schema = api.get_openapi_schema()
        return json.loads(json.dumps(schema))  # keys as JSON has them (200 -> "200")


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Command(BaseCommand):
    help = "Write the served OpenAPI schema to docs/openapi.json (or --check it)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
        parser.add_argument("--output", type=Path, default=SNAPSHOT, help="default: %(default)s")

    def handle(self, *args: Any, check: bool, output: Path, **options: Any) -> None:
        from api.v1.openapi import schema_changes

        text = render(served_schema())
        if check:
            old = json.loads(output.read_text()) if output.exists() else {}
            if output.exists() and output.read_text() == text:
                self.stdout.write(f"{output} is the served schema.")
                return
            changes = schema_changes(old, json.loads(text)) or ["(formatting only)"]
            raise CommandError(
                f"{output} is not the served schema:\n"
                + "\n".join(f"  {line}" for line in changes)
                + "\nRun `make openapi` (python manage.py export_openapi) and commit it."
            )
        output.write_text(text)
        self.stdout.write(f"Wrote {output}.")
