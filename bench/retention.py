"""Figure 10: the retention job over a slice of the database, as the daily beat runs it.

The clock is set so that the `cases` oldest closed cases are due (13 months after they
closed, the default policy), with the orders without a case placed before them. The job runs
as in production: batches of `RETENTION_BATCH_SIZE`, each one transaction, committed. Queries
are counted per run; the second run at the same moment finds nothing due and writes nothing,
which is what makes the job safe to repeat or to run late.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from disputes.models import Dispute
from disputes.privacy.policies import months_after
from disputes.privacy.retention import apply_retention

from .results import Figure


class _Counter:
    def __init__(self) -> None:
        self.queries = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.queries += 1
        return execute(sql, params, many, context)


def retention_figures(*, cases: int = 50_000) -> list[Figure]:
    closed = (
        Dispute.objects.filter(closed_at__isnull=False, pseudonymised_at__isnull=True)
        .order_by("closed_at")
        .values_list("closed_at", flat=True)
    )
    last = closed[cases - 1 : cases].first() or closed.last()
    if last is None:
        return []
    now = months_after(last, 13) + timedelta(seconds=1)
    runs = []
    for _ in range(2):
        counter = _Counter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            report = apply_retention(now=now)
        runs.append((time.perf_counter() - started, counter.queries, report.as_dict()))
    (seconds, queries, done), (again_seconds, again_queries, again) = runs
    batch = settings.RETENTION_BATCH_SIZE
    batches = max(1, -(-done["cases"] // batch))
    rate = done["cases"] / seconds if seconds else 0.0
    return [
        Figure(
            name="retention job: cases pseudonymised per second",
            value=round(rate, 1),
            unit="cases/s",
            details={
                "removed": done,
                "seconds": round(seconds, 2),
                "queries": queries,
                "queries_per_batch_of_cases": round(queries / batches, 1),
                "batch_size": batch,
                "second_run": {
                    "seconds": round(again_seconds, 2),
                    "queries": again_queries,
                    **again,
                },
            },
        ),
        Figure(
            name="retention job: a second run at the same moment",
            value=round(again_seconds * 1000, 1),
            unit="ms",
            target="nothing more removed",
            met=not any(again.values()),
            details=again,
        ),
    ]
