"""Figure 1: the deadline sweep, against a floor of hand-written set-based SQL.

The portal's sweep (`dispute_escalate_overdue`) escalates every merchant window that has closed,
with every side effect: the state change, a timeline event, the fee line and its payment
instruction for the provider, the emails to the merchant's team and the customer, and the
webhooks, in batches of SWEEP_BATCH_SIZE, each one
transaction. The floor does the same writes as a handful of set-based statements in one
transaction, which is then rolled back (after its deferred foreign-key checks, as a commit would
run them), so that the portal's sweep finds the same cases after it.

The portal's sweep runs in child processes (`manage.py bench_sweep`) so each reports its own peak
memory: a first run takes the oldest tenth of the overdue cases, a second run the rest. Memory that
is flat in the number of cases shows as the same peak for 10% and 90% of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from disputes.choices import State
from disputes.models import Dispute

from .environment import database_url
from .results import Figure, check

TARGET = "<= 3"
_MANAGE = Path(__file__).resolve().parent.parent / "manage.py"

# The rows a sweep writes, counted per table (and per outbox channel).
_WRITE_COUNTS = """
    SELECT
      (SELECT count(*) FROM disputes_dispute WHERE state = 'escalated'),
      (SELECT count(*) FROM disputes_disputeevent WHERE event_type = 'escalated'),
      (SELECT count(*) FROM billing_feeline),
      (SELECT count(*) FROM notifications_outboxmessage WHERE channel = 'email'),
      (SELECT count(*) FROM notifications_outboxmessage WHERE channel = 'webhook'),
      (SELECT count(*) FROM disputes_paymentinstruction WHERE kind = 'fee_charged')
"""
_WRITE_NAMES = (
    "escalated cases",
    "escalation events",
    "fee lines",
    "emails",
    "webhooks",
    "fee instructions",
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
    # 5. The webhooks, for each enabled endpoint subscribed to dispute.escalated. The escalated
    # cases come first (MATERIALIZED): joined the other way round, the planner walks every case
    # of every shop that has an endpoint.
    f"""
    WITH subscribed AS MATERIALIZED (
        SELECT c.id, c.event_id, c.fee, w.id AS endpoint_id, w.url
        FROM floor_case c
        JOIN disputes_dispute d ON d.id = c.id
        JOIN api_webhookendpoint w ON w.merchant_id = d.merchant_id
        WHERE w.enabled AND w.events @> '["dispute.escalated"]'::jsonb
    )
    INSERT INTO notifications_outboxmessage
        (dedupe_key, channel, kind, recipient, language, time_zone, dispute_id, context, status,
         attempts, next_attempt_at, last_error, created_at)
    SELECT left('webhook:' || c.endpoint_id || ':dispute.escalated:event:' || c.event_id, 255),
           'webhook', 'dispute.escalated', c.url, 'en', 'UTC', d.id,
           jsonb_build_object(
             'endpoint_id', c.endpoint_id,
             'webhook_id', 'msg_' || replace(gen_random_uuid()::text, '-', ''),
             'payload', jsonb_build_object(
               'type', 'dispute.escalated', 'timestamp', {_ISO.format("%(now)s")},
               'data', jsonb_build_object(
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
                   'created_at', {_ISO.format("%(now)s")})))),
           'pending', 0, %(now)s, '', %(now)s
    FROM subscribed c
    JOIN disputes_dispute d ON d.id = c.id
    JOIN disputes_order o ON o.id = d.order_id
    ON CONFLICT DO NOTHING
    """,
]


def sweep_floor(now: datetime) -> tuple[float, dict[str, int]]:
    """Run the floor's writes, count them, roll them back. Returns (seconds, rows written)."""
    params: dict[str, Any] = {
        "now": now,
        "site_url": settings.SITE_URL,
        "secret": settings.SECRET_KEY[:16],
    }
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


# --- The portal's sweep, in a child process ------------------------------------------------------


def run_portal_sweep(now: datetime) -> dict[str, Any]:
    """`manage.py bench_sweep --now ...` in a child process: its own peak memory, its own time."""
    completed = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [sys.executable, str(_MANAGE), "bench_sweep", "--now", now.isoformat()],
        check=True,
        capture_output=True,
        text=True,
        # The child opens the database this process uses (in the tests: the test database).
        env={**os.environ, "DATABASE_URL": database_url(connection.settings_dict)},
    )
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


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
    floor_seconds, floor_writes = sweep_floor(now)

    before = write_counts()
    first = run_portal_sweep(split_point(now))
    second = run_portal_sweep(now)
    portal_writes = _delta(write_counts(), before)
    portal_cases = first["cases"] + second["cases"]
    portal_seconds = first["seconds"] + second["seconds"]

    portal_rate = portal_cases / portal_seconds if portal_seconds else 0.0
    floor_rate = cases / floor_seconds if floor_seconds else 0.0
    ratio = floor_rate / portal_rate if portal_rate else float("inf")
    growth_mb = [round(run["peak_rss_mb"] - run["start_rss_mb"], 1) for run in (first, second)]
    return [
        Figure(
            name="deadline sweep",
            value=round(portal_rate),
            unit="cases/s",
            floor=round(floor_rate),
            ratio=round(ratio, 2),
            target=TARGET,
            met=check(ratio, TARGET),
            details={
                "cases": portal_cases,
                "overdue_before": cases,
                "portal_seconds": round(portal_seconds, 2),
                "floor_seconds": round(floor_seconds, 2),
                "batch_size": settings.SWEEP_BATCH_SIZE,
                "portal_writes": portal_writes,
                "floor_writes": floor_writes,
                "same_writes": portal_writes == floor_writes,
                "runs": [first, second],
            },
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
