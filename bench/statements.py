"""Figure 5: last month's fee statements for every merchant, as the monthly job issues them.

`billing.services.statements_issue_month` runs as the beat job runs it: batches of merchants,
each batch one transaction, committed. Queries are counted per batch (between the start and
the end of each `statements_compute_batch`), and the run is made twice: the second run finds
every statement issued and writes nothing, which is what makes the job safe to repeat.

Issuing writes the statements and their lines and queues, in the same transaction, one email
per merchant user who wants it and a `fee.statement_issued` webhook per subscribed endpoint;
nothing is rendered while issuing. The emails are rendered by the worker that sends them, the
PDF when a merchant downloads it: both are timed here too, apart from the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from unittest import mock

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import override

from billing import services, signals
from billing.documents import statement_pdf, statement_rows
from billing.models import Statement, StatementLine, StatementStatus
from billing.policies import Period, previous_month
from notifications.emails import render_email
from notifications.models import OutboxMessage

from .opening import delivery_requests_in_memory
from .results import Figure, median_ms

# Not work of the batch: a savepoint stands for the BEGIN/COMMIT a batch has when it is the
# outermost transaction (in production), which the query count does not see either.
_SAVEPOINT_SQL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
EMAIL_SAMPLES = 20
STATEMENT_WEBHOOK = "fee.statement_issued"


@dataclass
class Batch:
    merchants: int
    statements: int
    queries: int
    seconds: float
    outbox_seconds: float


@dataclass
class RunRecord:
    seconds: float = 0.0
    queries: int = 0
    batches: list[Batch] = field(default_factory=list)
    result: services.StatementRun | None = None


class _Recorder:
    """Counts the connection's queries and cuts them into batches."""

    def __init__(self) -> None:
        self.queries = 0
        self.outbox_seconds = 0.0
        self.batches: list[Batch] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not sql.lstrip().upper().startswith(_SAVEPOINT_SQL):
            self.queries += 1
        return execute(sql, params, many, context)

    def batch(self, compute: Callable[..., list[Statement]]) -> Callable[..., list[Statement]]:
        def measured(**kwargs: Any) -> list[Statement]:
            queries, outbox, started = self.queries, self.outbox_seconds, time.perf_counter()
            statements = compute(**kwargs)
            self.batches.append(
                Batch(
                    merchants=len(kwargs["merchant_ids"]),
                    statements=len(statements),
                    queries=self.queries - queries,
                    seconds=time.perf_counter() - started,
                    outbox_seconds=self.outbox_seconds - outbox,
                )
            )
            return statements

        return measured

    def timed(self, queue: Callable[..., Any]) -> Callable[..., None]:
        def measured(*args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            queue(*args, **kwargs)
            self.outbox_seconds += time.perf_counter() - started

        return measured


@contextmanager
def _recorded() -> Iterator[_Recorder]:
    recorder = _Recorder()
    with (
        connection.execute_wrapper(recorder),
        mock.patch.object(
            services, "statements_compute_batch", recorder.batch(services.statements_compute_batch)
        ),
        mock.patch.object(
            services,
            "_queue_statement_emails",
            recorder.timed(services._queue_statement_emails),
        ),
        # The webhooks are queued by the API's receiver of this signal.
        mock.patch.object(
            signals.statements_issued,
            "send",
            recorder.timed(signals.statements_issued.send),
        ),
    ):
        yield recorder


def issue_month_recorded(*, now: datetime, batch_size: int) -> RunRecord:
    """`statements_issue_month` for the month before `now`, timed, queries counted per batch."""
    with _recorded() as recorder:
        started = time.perf_counter()
        result = services.statements_issue_month(now=now, batch_size=batch_size)
        seconds = time.perf_counter() - started
    return RunRecord(
        seconds=seconds, queries=recorder.queries, batches=recorder.batches, result=result
    )


def statement_figures(
    *, now: datetime | None = None, batch_size: int = services.STATEMENT_BATCH_SIZE
) -> list[Figure]:
    """Total time of the month's run, queries per batch (fixed?), and the repeated run."""
    now = now or timezone.now()
    period = previous_month(now)
    issued_before = _issued(period).count()
    outbox_before = _statement_outbox().count()
    with delivery_requests_in_memory() as published:
        first = issue_month_recorded(now=now, batch_size=batch_size)
        queued = _statement_outbox().count() - outbox_before
        second = issue_month_recorded(now=now, batch_size=batch_size)
        queued_again = _statement_outbox().count() - outbox_before - queued
    assert first.result is not None  # noqa: S101 - set by issue_month_recorded
    assert second.result is not None  # noqa: S101
    lines = StatementLine.objects.filter(
        statement__period_start=period.first_day, statement__status=StatementStatus.ISSUED
    ).count()
    # Fixed: every batch that wrote statements cost the same, the last, shorter one included.
    counted = [batch.queries for batch in first.batches if batch.statements] or [
        batch.queries
        for batch in first.batches  # all issued already: the repeat's path
    ]
    fixed = len(set(counted)) <= 1
    per_batch_seconds = [batch.seconds for batch in first.batches]
    common = {"period": period.first_day.isoformat(), "batch_size": batch_size}
    return [
        Figure(
            name="monthly statements, all merchants",
            value=round(first.seconds, 2),
            unit="s",
            details={
                **common,
                "merchants": first.result.merchants,
                "batches": first.result.batches,
                "statements_issued": first.result.issued,
                "statement_lines": lines,
                "issued_before_the_run": issued_before,
                "batch_median_ms": median_ms(per_batch_seconds) if per_batch_seconds else None,
                "batch_max_ms": round(max(per_batch_seconds, default=0) * 1000, 2),
                "outbox_rows_queued": queued,
                "outbox_queueing_seconds": round(
                    sum(batch.outbox_seconds for batch in first.batches), 3
                ),
                "delivery_requests_published": published[0],
                "issuing_renders": "nothing: emails are rendered by the worker, PDFs on download",
                **_rendering_costs(period),
            },
        ),
        Figure(
            name="monthly statements, queries per batch",
            value=max(counted, default=0),
            unit="queries/batch",
            target="fixed",
            met=fixed,
            details={
                **common,
                "full_batches": sum(batch.merchants == batch_size for batch in first.batches),
                "min": min(counted, default=0),
                "max": max(counted, default=0),
                "per_batch": [batch.queries for batch in first.batches],
                "merchants_per_batch": [batch.merchants for batch in first.batches],
                "statements_per_batch": [batch.statements for batch in first.batches],
                "queries_outside_batches": first.queries
                - sum(batch.queries for batch in first.batches),
                "repeat_run_per_batch": [batch.queries for batch in second.batches],
            },
        ),
        Figure(
            name="monthly statements, run again",
            value=round(second.seconds, 2),
            unit="s",
            details={
                **common,
                "what_it_does": "finds every statement issued: writes and queues nothing",
                "statements_issued": second.result.issued,
                "already_issued": second.result.already_issued,
                "outbox_rows_queued": queued_again,
                "queries": second.queries,
                "batches": second.result.batches,
            },
        ),
    ]


def _issued(period: Period) -> QuerySet[Statement]:
    return Statement.objects.filter(period_start=period.first_day, status=StatementStatus.ISSUED)


def _statement_outbox() -> QuerySet[OutboxMessage]:
    """Statement emails and webhooks, of every month: the runs add to them."""
    return OutboxMessage.objects.filter(kind__in=[services.STATEMENT_EMAIL, STATEMENT_WEBHOOK])


def _rendering_costs(period: Period) -> dict[str, Any]:
    """What issuing leaves for later: rendering the queued emails (the worker) and a PDF (a
    merchant's download), timed on this month's largest statement and a sample of emails."""
    emails = list(
        OutboxMessage.objects.filter(kind=services.STATEMENT_EMAIL).order_by("-pk")[:EMAIL_SAMPLES]
    )
    email_seconds = []
    for message in emails:
        started = time.perf_counter()
        render_email(
            message.kind, message.context, language=message.language, time_zone=message.time_zone
        )
        email_seconds.append(time.perf_counter() - started)
    largest = (
        _issued(period)
        .select_related("merchant")
        .order_by("-disputes_opened", "pk")
        .prefetch_related("lines__dispute", "lines__corrects__statement")
        .first()
    )
    costs: dict[str, Any] = {
        "email_render_median_ms": median_ms(email_seconds) if email_seconds else None
    }
    if largest is not None:
        started = time.perf_counter()
        with override(largest.merchant.language):
            pdf = statement_pdf(largest, statement_rows(largest))
        costs["largest_statement_lines"] = len(largest.lines.all())
        costs["largest_statement_pdf_seconds"] = round(time.perf_counter() - started, 3)
        costs["largest_statement_pdf_bytes"] = len(pdf)
    return costs
