"""Run the portal's deadline sweep once and print a JSON line: cases, seconds, memory.

`make bench` runs it in a child process (bench/sweep.py) so the peak memory is the sweep's own."""

from __future__ import annotations

import gc
import json
import time
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bench.memory import peak_rss_mb, reset_peak, rss_mb
from disputes.services import dispute_escalate_overdue


class Command(BaseCommand):
    help = "Escalate the overdue merchant windows as of --now; print cases, seconds and memory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", type=datetime.fromisoformat, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        gc.collect()
        reset_peak()
        start_rss = rss_mb()
        started = time.perf_counter()
        cases = dispute_escalate_overdue(now=options["now"])
        seconds = time.perf_counter() - started
        result = {
            "cases": cases,
            "seconds": round(seconds, 3),
            "start_rss_mb": start_rss,
            "peak_rss_mb": peak_rss_mb(),
        }
        self.stdout.write(json.dumps(result))
