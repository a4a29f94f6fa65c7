"""Figure 1: the deadline sweep, against a floor of hand-written set-based SQL.

The portal's sweep (`dispute_escalate_overdue`) escalates every merchant window that has closed,
with every side effect: the state change, a timeline event, the fee line and its payment
instruction for the provider, the emails to the merchant's team and the customer, the event
kept for the events feed and the webhooks, in batches of SWEEP_BATCH_SIZE, each one
transaction. (The floor's timeline events carry no hash chain: the portal computes it in Python,
about 10 µs an event.) The floor does the same writes as a handful of set-based statements in one
transaction, which is then rolled back (after its deferred foreign-key checks, as a commit would
run them), so that the portal's sweep finds the same cases after it.

A second floor runs the same statements a batch at a time (the sweep's batch size, the oldest
deadlines first), committing each batch as the sweep does; what it wrote is then undone (in one
transaction in which no trigger fires, the timeline's and the payment instructions' append-only
ones included: session_replication_role = replica) and the tables vacuumed, so that the portal's
sweep finds the same cases in the same state. The two ratios say what batching costs and what
the portal's own work costs.

The portal's sweep runs in child processes (`manage.py bench_sweep`) so each reports its own peak
memory: a first run takes the oldest tenth of the overdue cases, a second run the rest. Memory that
is flat in the number of cases shows as the same peak for 10% and 90% of them.

While the second run sweeps, a merchant answers cases of the batch being swept (one of the oldest
SWEEP_BATCH_SIZE overdue cases left), ten a second, through `POST /api/v1/disputes/{id}/respond`
in this process. The sweep holds those rows until its batch commits; the answer waits for them
and is then refused (the deadline has passed: the sweep got there first, or the merchant's window
had closed anyway), writing nothing. Its latency is what batching exists for: p99 within 1 s.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from api.keys import api_key_create, api_key_revoke
from disputes.choices import State
from disputes.models import Dispute

from .environment import database_url
from .results import Figure, check, median_ms, p99_ms

TARGET = "<= 3"
BATCHED_TARGET = "<= 1.3"
ANSWER_TARGET = "<= 1000"  # ms, the p99 of a merchant's answer while the sweep runs
ANSWER_INTERVAL = 0.1  # seconds from one answer's start to the next one's
_MANAGE = Path(__file__).resolve().parent.parent / "manage.py"

# The rows a sweep writes, counted per table (and per outbox channel).
_WRITE_COUNTS = """
    SELECT
      (SELECT count(*) FROM disputes_dispute WHERE state = 'escalated'),
      (SELECT count(*) FROM disputes_disputeevent WHERE event_type = 'escalated'),
      (SELECT count(*) FROM billing_feeline),
      (SELECT count(*) FROM notifications_outboxmessage WHERE channel = 'email'),
      (SELECT count(*) FROM notifications_outboxmessage WHERE channel = 'webhook'),
      (SELECT count(*) FROM disputes_paymentinstruction WHERE kind = 'fee_charged'),
      (SELECT count(*) FROM api_event WHERE event_type = 'dispute.escalated')
"""
_WRITE_NAMES = (
    "escalated cases",
    "escalation events",
    "fee lines",
    "emails",
    "webhooks",
    "fee instructions",
    "events kept for the feed",
)


def write_counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_COUNTS)
        row = cursor.fetchone()
    return dict(zip(_WRITE_NAMES, (int(v) for v in row), strict=True))


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def overdue_count(now: datetime) -> int:
    return Dispute.objects.filter(state=State.AWAITING_MERCHANT, due_at__lte=now).count()


# --- The floor -----------------------------------------------------------------------------------

_ISO = """to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || 'Z'"""
_MONEY = "CASE WHEN {0} IS NULL THEN NULL ELSE jsonb_build_object('value', to_char({0}, 'FM999999999990.00'), 'currency', d.currency) END"  # noqa: E501

_FLOOR_SETUP = """
    CREATE TEMP TABLE floor_case (
        id bigint PRIMARY KEY, event_id bigint, fee numeric, fee_line_id bigint
    )
    ON COMMIT DROP
"""

_FLOOR_STATEMENTS = [
    # 1. Claim and escalate every overdue case; keep what the other writes need.
    """
    WITH due AS (
        SELECT id FROM disputes_dispute
        WHERE state = 'awaiting_merchant' AND due_at <= %(now)s
        FOR UPDATE SKIP LOCKED
    ), escalated AS (
        UPDATE disputes_dispute d
        SET state = 'escalated', next_actor = 'support', escalated_at = %(now)s,
            due_at = NULL, reminder_due_at = NULL, updated_at = %(now)s
        FROM due WHERE d.id = due.id
        RETURNING d.id, d.currency
    )
    INSERT INTO floor_case (id, fee)
    SELECT e.id,
        (SELECT s.standard_fee FROM billing_feeschedule s
         WHERE s.currency = e.currency AND s.valid_from <= (%(now)s AT TIME ZONE 'UTC')::date
         ORDER BY s.valid_from DESC LIMIT 1)
    FROM escalated e
    """,
    # 2. The timeline event, with the fee it charged.
    """
    WITH events AS (
        INSERT INTO disputes_disputeevent
            (dispute_id, event_type, actor_kind, actor_id, message, visibility, data, created_at)
        SELECT id, 'escalated', 'system', 'system', '', 'both',
               jsonb_build_object('cause', 'merchant_deadline', 'fee', fee::text), %(now)s
        FROM floor_case
        RETURNING id, dispute_id
    )
    UPDATE floor_case c SET event_id = e.id FROM events e WHERE e.dispute_id = c.id
    """,
    # 3. The fee line.
    """
    WITH lines AS (
        INSERT INTO billing_feeline
            (merchant_id, dispute_id, kind, amount, currency, description, incurred_at)
        SELECT d.merchant_id, d.id, 'standard', c.fee, d.currency,
               'Dispute fee for case ' || d.public_id, %(now)s
        FROM floor_case c JOIN disputes_dispute d ON d.id = c.id
        ON CONFLICT DO NOTHING
        RETURNING id, dispute_id
    )
    UPDATE floor_case c SET fee_line_id = l.id FROM lines l WHERE l.dispute_id = c.id
    """,
    # 3b. The provider's payment instruction for each fee charged, numbered on from the one
    # counter (locked, as the portal locks it), and the counter moved on.
    """
    INSERT INTO disputes_instructionsequence (id, last, orders_before) VALUES (1, 0, 0)
    ON CONFLICT DO NOTHING
    """,
    """
    WITH counter AS (
        SELECT id, last FROM disputes_instructionsequence WHERE id = 1 FOR UPDATE
    ), numbered AS (
        INSERT INTO disputes_paymentinstruction
            (sequence, public_id, kind, merchant_id, order_id, dispute_id, event_id, fee_line_id,
             statement_line_id, amount, currency, livemode, created_at)
        SELECT counter.last + row_number() OVER (ORDER BY c.id),
               'pi_' || md5(random()::text || c.id::text), 'fee_charged', d.merchant_id,
               d.order_id, d.id, c.event_id, c.fee_line_id, NULL, c.fee, o.currency,
               NOT m.test_mode, %(now)s
        FROM floor_case c
        JOIN disputes_dispute d ON d.id = c.id
        JOIN disputes_order o ON o.id = d.order_id
        JOIN disputes_merchant m ON m.id = d.merchant_id
        CROSS JOIN counter
        WHERE c.fee_line_id IS NOT NULL
        RETURNING sequence
    )
    UPDATE disputes_instructionsequence s
    SET last = (SELECT coalesce(max(sequence), s.last) FROM numbered)
    WHERE s.id = 1
    """,
    # 4. The emails: the merchant's team (who want them) and the customer.
    f"""
    WITH cases AS (
        SELECT c.id, c.event_id, c.fee, d.merchant_id, d.customer_language, d.public_id,
               m.language AS merchant_language, m.time_zone, o.customer_email,
               jsonb_build_object(
                 'case_id', d.public_id, 'merchant_name', m.name,
                 'order_number', o.order_number,
                 'order_placed_at', {_ISO.format("o.placed_at")},
                 'currency', d.currency,
                 'order_amount', d.order_amount::text, 'disputed_amount', d.disputed_amount::text,
                 'program', d.program, 'reason', d.reason, 'state', d.state, 'due_at', NULL,
                 'refund_offer', d.refund_offer, 'refund_offer_amount', d.refund_offer_amount::text,
                 'settled_amount', d.settled_amount::text, 'outcome', d.outcome,
                 'decision_reason', d.decision_reason, 'message', '',
                 'event', jsonb_build_object('cause', 'merchant_deadline', 'fee', c.fee::text)
               ) AS context
        FROM floor_case c
        JOIN disputes_dispute d ON d.id = c.id
        JOIN disputes_merchant m ON m.id = d.merchant_id
        JOIN disputes_order o ON o.id = d.order_id
    )
    INSERT INTO notifications_outboxmessage
        (dedupe_key, channel, kind, recipient, language, time_zone, dispute_id, context, status,
         attempts, next_attempt_at, last_error, created_at)
    SELECT 'merchant_escalated:' || c.event_id || ':'
             || left(encode(sha256(convert_to(lower(u.email), 'UTF8')), 'hex'), 24),
           'email', 'merchant_escalated', u.email, c.merchant_language, c.time_zone, c.id,
           c.context || jsonb_build_object(
             'case_url', %(site_url)s || '/portal/cases/' || c.public_id || '/'),
           'pending', 0, %(now)s, '', %(now)s
    FROM cases c
    JOIN disputes_merchantmembership mm ON mm.merchant_id = c.merchant_id
    JOIN auth_user u ON u.id = mm.user_id
    WHERE u.is_active AND u.email <> '' AND mm.notify_escalation
    UNION ALL
    SELECT 'customer_escalated:' || c.event_id || ':'
             || left(encode(sha256(convert_to(lower(c.customer_email), 'UTF8')), 'hex'), 24),
           'email', 'customer_escalated', c.customer_email, c.customer_language, c.time_zone,
           c.id,
           c.context || jsonb_build_object(
             'case_url', %(site_url)s || '/case/' || encode(sha256(convert_to(
                 c.id || ':' || %(secret)s, 'UTF8')), 'base64')),
           'pending', 0, %(now)s, '', %(now)s
    FROM cases c
    ON CONFLICT DO NOTHING
    """,
    # 5. The events feed: every escalation kept as an event (api_event), whether or not an
    # endpoint subscribes; then the webhooks, for each enabled endpoint subscribed to
    # dispute.escalated, carrying the event's id and body. The escalated cases come first
    # (MATERIALIZED): joined the other way round, the planner walks every case of every shop
    # that has an endpoint.
    f"""
    WITH stored AS MATERIALIZED (
        INSERT INTO api_event (public_id, merchant_id, event_type, dispute_id, payload, created_at)
        SELECT 'evt_' || md5(d.merchant_id || ':dispute.escalated:event:' || c.event_id),
               d.merchant_id, 'dispute.escalated', d.id,
               jsonb_build_object(
                 'dispute', jsonb_build_object(
                   'id', d.public_id, 'program', d.program, 'reason', d.reason,
                   'state', d.state, 'outcome', nullif(d.outcome, ''),
                   'next_actor', nullif(d.next_actor, ''), 'due_at', NULL,
                   'order', jsonb_build_object(
                     'number', o.order_number, 'placed_at', {_ISO.format("o.placed_at")},
                     'amount', jsonb_build_object(
                       'value', to_char(o.amount, 'FM999999999990.00'), 'currency', o.currency),
                     'customer_email', o.customer_email),
                   'order_amount', {_MONEY.format("d.order_amount")},
                   'disputed_amount', {_MONEY.format("d.disputed_amount")},
                   'refund_offer', nullif(d.refund_offer, ''),
                   'refund_offer_amount', {_MONEY.format("d.refund_offer_amount")},
                   'settled_amount', {_MONEY.format("d.settled_amount")},
                   'customer_message', d.customer_message, 'decision_reason', d.decision_reason,
                   'opened_at', {_ISO.format("d.opened_at")},
                   'escalated_at', {_ISO.format("d.escalated_at")},
                   'closed_at', NULL, 'updated_at', {_ISO.format("d.updated_at")}),
                 'event', jsonb_build_object(
                   'id', c.event_id, 'type', 'escalated', 'actor', 'system', 'message', '',
                   'for_support', false,
                   'data', jsonb_build_object('cause', 'merchant_deadline', 'fee', c.fee::text),
                   'created_at', {_ISO.format("%(now)s")})),
               %(now)s
        FROM floor_case c
        JOIN disputes_dispute d ON d.id = c.id
        JOIN disputes_order o ON o.id = d.order_id
        ON CONFLICT DO NOTHING
        RETURNING id, public_id, merchant_id, dispute_id, payload
    ), subscribed AS MATERIALIZED (
        SELECT e.*, c.event_id, w.id AS endpoint_id, w.url
        FROM stored e
        JOIN floor_case c ON c.id = e.dispute_id
        JOIN api_webhookendpoint w ON w.merchant_id = e.merchant_id
        WHERE w.enabled AND w.events @> '["dispute.escalated"]'::jsonb
    )
    INSERT INTO notifications_outboxmessage
        (dedupe_key, channel, kind, recipient, language, time_zone, dispute_id, context, status,
         attempts, next_attempt_at, last_error, created_at)
    SELECT left('webhook:' || s.endpoint_id || ':dispute.escalated:event:' || s.event_id, 255),
           'webhook', 'dispute.escalated', s.url, 'en', 'UTC', s.dispute_id,
           jsonb_build_object(
             'endpoint_id', s.endpoint_id,
             'webhook_id', s.public_id,
             'payload', jsonb_build_object(
               'id', s.public_id, 'type', 'dispute.escalated',
               'timestamp', {_ISO.format("%(now)s")}, 'data', s.payload)),
           'pending', 0, %(now)s, '', %(now)s
    FROM subscribed s
    ON CONFLICT DO NOTHING
    """,
]


def _floor_params(now: datetime) -> dict[str, Any]:
    """The values the floor's statements bind (the site's address and the customer link key, as
    the portal's emails use them)."""
    return {"now": now, "site_url": settings.SITE_URL, "secret": settings.SECRET_KEY[:16]}


def sweep_floor(now: datetime) -> tuple[float, dict[str, int]]:
    """Run the floor's writes, count them, roll them back. Returns (seconds, rows written)."""
    params = _floor_params(now)
    before = write_counts()
    with transaction.atomic():
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(_FLOOR_SETUP)
            for statement in _FLOOR_STATEMENTS:
                cursor.execute(statement, params)
            # The deferred foreign-key checks a commit would run: the rollback below skips them.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        seconds = time.perf_counter() - started
        written = _delta(write_counts(), before)
        transaction.set_rollback(True)
    return seconds, written


# The claim of the batched floor: the sweep's batch, oldest deadline first, as the sweep takes it.
_CLAIM_ALL = "FOR UPDATE SKIP LOCKED"
_CLAIM_BATCH = "ORDER BY due_at, id LIMIT %(batch)s FOR UPDATE SKIP LOCKED"

# What a floor run changes, to be put back: the overdue cases' transition fields, and the rows it
# added (every table's new rows have higher ids than any before).
_UNDO_FIELDS = ("state", "next_actor", "escalated_at", "due_at", "reminder_due_at", "updated_at")
_ADDED = (  # children first
    "notifications_outboxmessage",
    "api_event",
    "disputes_paymentinstruction",  # append-only (a trigger)
    "billing_feeline",
    "disputes_disputeevent",  # append-only (a trigger)
)


def sweep_floor_batched(
    now: datetime, batch_size: int
) -> tuple[float, dict[str, int], list[float]]:
    """The floor's writes a batch at a time, each batch committed; then undone. Returns
    (seconds, rows written, each batch's seconds)."""
    params = {**_floor_params(now), "batch": batch_size}
    claim = _FLOOR_STATEMENTS[0].replace(_CLAIM_ALL, _CLAIM_BATCH)
    assert claim != _FLOOR_STATEMENTS[0]  # noqa: S101 - the claim is where it was
    before = write_counts()
    undo = _undo_point(now)
    batches: list[float] = []
    started = time.perf_counter()
    while True:
        batch_started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_FLOOR_SETUP)
            cursor.execute(claim, params)
            claimed = cursor.rowcount
            if claimed:
                for statement in _FLOOR_STATEMENTS[1:]:
                    cursor.execute(statement, params)
        if claimed:
            batches.append(time.perf_counter() - batch_started)
        if claimed < batch_size:
            break
    seconds = time.perf_counter() - started
    written = _delta(write_counts(), before)
    _undo(undo)
    return seconds, written, batches


def _undo_point(now: datetime) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS floor_undo")
        cursor.execute(
            f"CREATE TEMP TABLE floor_undo AS SELECT id, {', '.join(_UNDO_FIELDS)}"
            " FROM disputes_dispute WHERE state = 'awaiting_merchant' AND due_at <= %s",
            [now],
        )
        ids = {}
        for table in _ADDED:
            cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
            ids[table] = cursor.fetchone()[0]
        cursor.execute("SELECT last FROM disputes_instructionsequence WHERE id = 1")
        row = cursor.fetchone()
    return {"ids": ids, "sequence": row[0] if row else None}


def _undo(point: dict[str, Any]) -> None:
    """Put the cases back and remove what the floor added, in one transaction; then vacuum, so
    the portal's sweep meets tables as clean as the floor did."""
    assignments = ", ".join(f"{name} = u.{name}" for name in _UNDO_FIELDS)
    with transaction.atomic(), connection.cursor() as cursor:
        # Replica mode for this transaction only: no trigger fires, the append-only ones
        # included (and no foreign-key check: the rows go children first).
        cursor.execute("SET LOCAL session_replication_role = replica")
        for table in _ADDED:
            cursor.execute(f"DELETE FROM {table} WHERE id > %s", [point["ids"][table]])
        cursor.execute(
            f"UPDATE disputes_dispute d SET {assignments} FROM floor_undo u WHERE d.id = u.id"
        )
        if point["sequence"] is None:
            cursor.execute("DELETE FROM disputes_instructionsequence WHERE id = 1")
        else:
            cursor.execute(
                "UPDATE disputes_instructionsequence SET last = %s WHERE id = 1",
                [point["sequence"]],
            )
        cursor.execute("DROP TABLE floor_undo")
    vacuum()


def vacuum() -> None:
    """VACUUM ANALYZE the tables a sweep writes (outside a transaction, as VACUUM must be)."""
    with connection.cursor() as cursor:
        for table in (
            "disputes_dispute",
            *_ADDED,
            "disputes_instructionsequence",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- The portal's sweep, in a child process ------------------------------------------------------


def run_portal_sweep(now: datetime, *, answers: list[Answer] | None = None) -> dict[str, Any]:
    """`manage.py bench_sweep --now ...` in a child process: its own peak memory, its own time.
    With `answers`, a merchant answers cases of the batch being swept until the sweep ends."""
    # Its output goes to files: a pipe nobody reads while the answers run would fill and stop it.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [sys.executable, str(_MANAGE), "bench_sweep", "--now", now.isoformat()],
            stdout=out,
            stderr=err,
            text=True,
            # The child opens the database this process uses (in the tests: the test database).
            env={
                **os.environ,
                "DATABASE_URL": database_url(connection.settings_dict),
                "SWEEP_BATCH_SIZE": str(settings.SWEEP_BATCH_SIZE),
            },
        )
        if answers is not None:
            answers += answer_while(child, now)
        child.wait()
        out.seek(0)
        err.seek(0)
        if child.returncode:
            raise RuntimeError(f"bench_sweep exited with {child.returncode}: {err.read()[-2000:]}")
        return dict(json.loads(out.read().strip().splitlines()[-1]))


# --- A merchant answering while the sweep runs ---------------------------------------------------

_IN_THE_BATCH = """
    SELECT d.public_id, m.slug
    FROM disputes_dispute d JOIN disputes_merchant m ON m.id = d.merchant_id
    WHERE d.state = 'awaiting_merchant' AND d.due_at <= %s
    ORDER BY d.due_at, d.id LIMIT 1 OFFSET %s
"""


class Answer(NamedTuple):
    seconds: float
    status: int  # HTTP


def answer_while(child: subprocess.Popen[str], now: datetime) -> list[Answer]:
    """Answers to cases of the batch being swept, one after another, until `child` exits."""
    operator = api_key_create(name="bench sweep answers", operator=True, now=timezone.now())
    client = Client(HTTP_AUTHORIZATION=f"Bearer {operator.key}")
    body = {"refund": "none", "message": "We shipped it; tracking attached."}
    answers: list[Answer] = []
    picker = random.Random(7)  # noqa: S311 - which case of the batch, not a secret
    with override_settings(ALLOWED_HOSTS=["testserver"], API_RATE_LIMIT=10**9):
        batch = settings.SWEEP_BATCH_SIZE
        while child.poll() is None:
            with connection.cursor() as cursor:
                # Not in the last two batches: a case the answer holds is skipped by the sweep's
                # batch, and the last batch would then end the sweep without it.
                cursor.execute(_IN_THE_BATCH, [now, 2 * batch])
                if cursor.fetchone() is None:
                    break
                cursor.execute(_IN_THE_BATCH, [now, picker.randrange(batch)])
                row = cursor.fetchone()
            started = time.perf_counter()
            response = client.post(
                f"/api/v1/disputes/{row[0]}/respond",
                body,
                content_type="application/json",
                headers={"X-Merchant": row[1]},
                secure=True,
            )
            seconds = time.perf_counter() - started
            answers.append(Answer(seconds, response.status_code))
            # A merchant's pace, not a busy loop: this process would take the sweep's CPU.
            with suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.0, ANSWER_INTERVAL - seconds))
    api_key_revoke(api_key=operator.api_key, now=timezone.now())
    return answers


def split_point(now: datetime, share: float = 0.1) -> datetime:
    """The deadline before which `share` of today's overdue cases fall."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_disc(%s) WITHIN GROUP (ORDER BY due_at) FROM disputes_dispute"
            " WHERE state = 'awaiting_merchant' AND due_at <= %s",
            [share, now],
        )
        value = cursor.fetchone()[0]
    return value or now


def sweep_figures() -> list[Figure]:
    now = timezone.now()
    cases = overdue_count(now)
    batch_size = settings.SWEEP_BATCH_SIZE
    floor_seconds, floor_writes = sweep_floor(now)
    vacuum()  # the rolled-back rows are dead ones: the next run meets clean tables
    batched_seconds, batched_writes, floor_batches = sweep_floor_batched(now, batch_size)
    tenth = max(1, len(floor_batches) // 10)

    before = write_counts()
    answers: list[Answer] = []
    first = run_portal_sweep(split_point(now))
    second = run_portal_sweep(now, answers=answers)
    portal_writes = _delta(write_counts(), before)
    portal_cases = first["cases"] + second["cases"]
    portal_seconds = first["seconds"] + second["seconds"]

    portal_rate = portal_cases / portal_seconds if portal_seconds else 0.0
    floor_rate = cases / floor_seconds if floor_seconds else 0.0
    batched_rate = cases / batched_seconds if batched_seconds else 0.0
    ratio = floor_rate / portal_rate if portal_rate else float("inf")
    batched_ratio = batched_rate / portal_rate if portal_rate else float("inf")
    growth_mb = [round(run["peak_rss_mb"] - run["start_rss_mb"], 1) for run in (first, second)]
    same_writes = portal_writes == floor_writes == batched_writes
    details = {
        "cases": portal_cases,
        "overdue_before": cases,
        "portal_seconds": round(portal_seconds, 2),
        "floor_seconds": round(floor_seconds, 2),
        "batched_floor_seconds": round(batched_seconds, 2),
        "batched_floor_batches": len(floor_batches),
        "batch_size": batch_size,
        "portal_writes": portal_writes,
        "floor_writes": floor_writes,
        "batched_floor_writes": batched_writes,
        "same_writes": same_writes,
        "runs": [first, second],
    }
    latencies = [answer.seconds for answer in answers]
    statuses: dict[str, int] = {}
    for answer in answers:
        statuses[str(answer.status)] = statuses.get(str(answer.status), 0) + 1
    answer_p99 = p99_ms(latencies) if latencies else None
    answer_details = {
        "answers": len(answers),
        "median_ms": median_ms(latencies) if latencies else None,
        "p99_ms": answer_p99,
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "statuses": statuses,
        "batch_size": batch_size,
        "path": "POST /api/v1/disputes/{id}/respond, a case of the batch being swept",
    }
    return [
        Figure(
            name="deadline sweep",
            value=round(portal_rate),
            unit="cases/s",
            floor=round(floor_rate),
            ratio=round(ratio, 2),
            target=TARGET,
            met=same_writes and check(ratio, TARGET),
            details=details,
        ),
        Figure(
            name="deadline sweep against the batched floor",
            value=round(portal_rate),
            unit="cases/s",
            floor=round(batched_rate),
            ratio=round(batched_ratio, 2),
            target=BATCHED_TARGET,
            met=same_writes and check(batched_ratio, BATCHED_TARGET),
            details={
                "batch_size": batch_size,
                "batches": len(floor_batches),
                # Whether a batch costs more the further the sweep has come (dead index entries
                # of the cases escalated before it): the first and the last tenth of them.
                "first_tenth_batch_ms": round(sum(floor_batches[:tenth]) / tenth * 1000, 1),
                "last_tenth_batch_ms": round(sum(floor_batches[-tenth:]) / tenth * 1000, 1),
            },
        ),
        Figure(
            name="merchant answer median during the sweep",
            value=answer_details["median_ms"] or 0.0,
            unit="ms",
            details=answer_details,
        ),
        Figure(
            name="merchant answer p99 during the sweep",
            value=answer_p99 or 0.0,
            unit="ms",
            target=ANSWER_TARGET,
            # No answer at all (too few cases for two batches) is no figure, not a pass.
            met=check(answer_p99, ANSWER_TARGET) if answer_p99 is not None else None,
            details=answer_details,
        ),
        Figure(
            name="deadline sweep peak memory",
            value=max(first["peak_rss_mb"], second["peak_rss_mb"]),
            unit="MB",
            details={
                "growth_mb_per_run": growth_mb,
                "cases_per_run": [first["cases"], second["cases"]],
                "flat": abs(growth_mb[1] - growth_mb[0]) <= max(16.0, 0.25 * growth_mb[0]),
            },
        ),
    ]
