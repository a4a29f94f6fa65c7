"""Benchmark data: merchants, orders and cases in every state, generated inside PostgreSQL.

Python decides the shape (how many orders and cases each merchant has, from a seeded random
generator); PostgreSQL generates the rows with set-based INSERT ... SELECT over generate_series,
a chunk of merchants per statement, with `setseed` so the same seed gives the same data. No row
travels through Python: a million cases take a minute or two rather than an hour.

The shape, at full size (--merchants 1000 --orders 2000000 --disputes 1000000):
- `bench-large` holds 10% of all cases (100 000), `bench-1k` holds 0.1% (1 000), the rest follow a
  long-tailed (Pareto) spread: a few big shops, many small ones;
- each merchant has about two orders per case; an order without a case is one a customer could
  still open a case about (some placed in the last days);
- cases cover both programs and every state; `--overdue` (10%) of all cases wait for a merchant
  whose 21- or 5-day window has closed: the deadline sweep's work;
- timelines, fee lines for escalated cases, one owner per merchant, and webhook endpoints for the
  large merchant and every tenth other one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from api.models import WebhookEndpoint
from disputes import monthly
from disputes.choices import MemberRole
from disputes.models import Merchant, MerchantMembership

LARGE_SLUG = "bench-large"
THOUSAND_SLUG = "bench-1k"
PASSWORD = "bench-password-1"  # noqa: S105 - a throwaway login for benchmark data only
WEBHOOK_EVENTS = [
    "dispute.opened",
    "dispute.escalated",
    "dispute.decided",
    "dispute.resolved",
    "dispute.customer_replied",
]
_COUNTRIES = [("NL", "Europe/Amsterdam"), ("FI", "Europe/Helsinki"), ("SE", "Europe/Stockholm"),
              ("DE", "Europe/Berlin")]  # fmt: skip
_LANGUAGES = {"NL": "nl", "FI": "fi", "SE": "sv", "DE": "de"}
_CHUNK_ORDERS = 100_000  # rows per INSERT statement, roughly: one tick of the progress bar


def owner_email(slug: str) -> str:
    return f"owner@{slug}.example"


@dataclass(frozen=True)
class BenchSize:
    merchants: int
    orders: int
    disputes: int
    overdue: float = 0.10
    seed: int = 42

    def __post_init__(self) -> None:
        if self.merchants < 3:
            raise ValueError("At least 3 merchants: the large one, the 1 000-case one and another.")
        if self.orders < self.disputes:
            raise ValueError("Every case is about an order: --orders must be >= --disputes.")
        if not 0 <= self.overdue <= 0.2:
            raise ValueError("--overdue is a share of all cases, at most 0.2.")


@dataclass(frozen=True)
class MerchantPlan:
    slug: str
    orders: int
    disputes: int


def plan_merchants(size: BenchSize) -> list[MerchantPlan]:
    """Cases and orders per merchant: two fixed sizes to compare, a long tail for the rest."""
    rng = random.Random(size.seed)  # noqa: S311 - benchmark data, not secrets
    large = size.disputes // 10
    thousand = max(1, size.disputes // 1000)
    rest = size.disputes - large - thousand
    others = size.merchants - 2
    weights = [rng.paretovariate(1.2) for _ in range(others)]
    scale = rest / sum(weights)
    # At least one case each, never more than the large merchant.
    counts = [min(max(1, int(w * scale)), max(1, large - 1)) for w in weights]
    shortfall = rest - sum(counts)
    for index in sorted(range(others), key=lambda i: -weights[i]):
        if shortfall == 0:
            break
        step = max(-counts[index] + 1, min(shortfall, max(1, large - 1) - counts[index]))
        counts[index] += step
        shortfall -= step
    # Too few merchants to hold the rest under the large one's size: the large one takes it.
    disputes = [large + shortfall, thousand, *counts]
    ratio = size.orders / size.disputes if size.disputes else 0
    orders = [max(d, round(d * ratio)) for d in disputes]
    orders[0] += size.orders - sum(orders)  # the rounding remainder goes to the large merchant
    slugs = [LARGE_SLUG, THOUSAND_SLUG] + [f"bench-{i:04d}" for i in range(1, others + 1)]
    return [MerchantPlan(s, o, d) for s, o, d in zip(slugs, orders, disputes, strict=True)]


Progress = Callable[[int], None]


def generate(
    size: BenchSize,
    *,
    progress: Progress | None = None,
    stage: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Fill the database; `progress(n)` is called as chunks of n orders (and their cases) land,
    `stage(name)` when the work after the rows begins.
    Returns the row counts written per table."""
    if connection.vendor != "postgresql":
        raise RuntimeError("The benchmark data generator needs PostgreSQL.")
    tick = progress or (lambda n: None)
    say = stage or (lambda name: None)
    now = timezone.now()
    plans = plan_merchants(size)
    with transaction.atomic():
        merchants = _create_merchants(plans, now=now)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")  # keeps setseed's order
            cursor.execute("SELECT setseed(%s)", [(size.seed % 1000) / 1000])
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            fast_checks = _check_foreign_keys_at_the_end(cursor)
            order_base = _next_id(cursor, "disputes_order")
            _create_plan_table(cursor, plans, merchants, order_base)
            # Building an index once over all rows is several times cheaper than keeping it
            # up to date row by row; all of this is one transaction, so a failure leaves no trace.
            rebuild = _drop_secondary_indexes(cursor)
            for first, last, orders in _chunks(plans):
                _insert_orders(cursor, first, last, now=now, overdue=size.overdue)
                _insert_cases(cursor, first, last, now=now)
                tick(orders)
            say("indexes")
            for statement in rebuild:
                cursor.execute(statement)
            if fast_checks:
                _check_foreign_keys(cursor)
            _restart_sequence(cursor, "disputes_order")
            counts = _counts(cursor)
            cursor.execute("DROP TABLE bench_plan")
    say("statistics")
    # Fresh statistics and visibility map: index-only scans and good plans from the first query.
    with connection.cursor() as cursor:
        for table in (*_BULK_TABLES, "disputes_merchant"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    # The rows above bypass the write path: the dashboards' kept month figures are counted
    # (again) here, as `manage.py build_month_figures --again` would.
    say("month figures")
    for merchant in merchants:
        monthly.build(merchant, timezone.now(), again=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE disputes_merchantmonth")
    return counts


def _create_merchants(plans: Sequence[MerchantPlan], *, now: datetime) -> list[Merchant]:
    rng = random.Random(len(plans))  # noqa: S311
    countries = [rng.choice(_COUNTRIES) for _ in plans]
    merchants = Merchant.objects.bulk_create(
        [
            Merchant(
                name=plan.slug.replace("bench-", "Bench shop ").title(),
                slug=plan.slug,
                country=country,
                time_zone=tz,
                currency="SEK" if country == "SE" else "EUR",
                language=_LANGUAGES[country],
            )
            for plan, (country, tz) in zip(plans, countries, strict=True)
        ]
    )
    password = make_password(PASSWORD)  # one hash for all: hashing 1 000 times costs minutes
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [
            user_model(username=owner_email(m.slug), email=owner_email(m.slug), password=password)
            for m in merchants
        ]
    )
    MerchantMembership.objects.bulk_create(
        [
            MerchantMembership(user=user, merchant=merchant, role=MemberRole.OWNER)
            for user, merchant in zip(users, merchants, strict=True)
        ]
    )
    WebhookEndpoint.objects.bulk_create(
        [
            WebhookEndpoint(
                merchant=merchant,
                url=f"https://hooks.{merchant.slug}.example/disputes",
                events=WEBHOOK_EVENTS,
                secret=f"whsec_bench{index:06d}",
                created_at=now,
            )
            for index, merchant in enumerate(merchants)
            if index == 0 or index % 10 == 5
        ]
    )
    return merchants


_BULK_TABLES = ("disputes_order", "disputes_dispute", "disputes_disputeevent", "billing_feeline")


def _drop_secondary_indexes(cursor: CursorWrapper) -> list[str]:
    """Drop the non-unique indexes of the tables filled here; return the statements that build
    them again. Unique indexes stay: they check the generated ids as rows arrive."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary
        """,
        [list(_BULK_TABLES)],
    )
    indexes = cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _name, definition in indexes]


def _check_foreign_keys_at_the_end(cursor: CursorWrapper) -> bool:
    """Row-by-row foreign key triggers cost a third of the run; as a superuser (the local
    benchmark database) switch them off for this transaction and check every reference once,
    set-based, at the end (_check_foreign_keys). Otherwise keep the triggers."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        return False
    cursor.execute("SET LOCAL session_replication_role = replica")
    return True


# (table, column, referenced table) for every reference the generator writes.
_REFERENCES = [
    ("disputes_order", "merchant_id", "disputes_merchant"),
    ("disputes_dispute", "order_id", "disputes_order"),
    ("disputes_dispute", "merchant_id", "disputes_merchant"),
    ("disputes_disputeevent", "dispute_id", "disputes_dispute"),
    ("billing_feeline", "dispute_id", "disputes_dispute"),
    ("billing_feeline", "merchant_id", "disputes_merchant"),
]


def _check_foreign_keys(cursor: CursorWrapper) -> None:
    for table, column, referenced in _REFERENCES:
        cursor.execute(
            f"SELECT count(*) FROM {table} t WHERE t.{column} IS NOT NULL"  # noqa: S608 - fixed
            f" AND NOT EXISTS (SELECT 1 FROM {referenced} r WHERE r.id = t.{column})"
        )
        dangling = cursor.fetchone()[0]
        if dangling:
            raise RuntimeError(f"{dangling} rows of {table}.{column} point nowhere.")
    cursor.execute("SET LOCAL session_replication_role = origin")


def _next_id(cursor: CursorWrapper, table: str) -> int:
    cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")  # noqa: S608 - fixed names
    return int(cursor.fetchone()[0])


def _restart_sequence(cursor: CursorWrapper, table: str) -> None:
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
        f"(SELECT coalesce(max(id), 1) FROM {table}))"
    )


def _create_plan_table(
    cursor: CursorWrapper,
    plans: Sequence[MerchantPlan],
    merchants: Sequence[Merchant],
    order_base: int,
) -> None:
    """bench_plan: one row per merchant with the range of order ids it owns."""
    cursor.execute(
        "CREATE TEMP TABLE bench_plan (position int PRIMARY KEY, merchant_id bigint,"
        " currency text, first_order bigint, orders int, disputes int) ON COMMIT DROP"
    )
    rows = []
    first = order_base
    for position, (plan, merchant) in enumerate(zip(plans, merchants, strict=True)):
        rows.append((position, merchant.pk, merchant.currency, first, plan.orders, plan.disputes))
        first += plan.orders
    with cursor.copy(
        "COPY bench_plan (position, merchant_id, currency, first_order, orders, disputes)"
        " FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _chunks(plans: Sequence[MerchantPlan]) -> Iterator[tuple[int, int, int]]:
    """Consecutive merchant positions holding about _CHUNK_ORDERS orders each."""
    start, orders = 0, 0
    for position, plan in enumerate(plans):
        orders += plan.orders
        if orders >= _CHUNK_ORDERS or position == len(plans) - 1:
            yield start, position, orders
            start, orders = position + 1, 0


# The state of each case comes from one uniform draw `r`; the buckets below give every state of
# both programs. [0, overdue) is the sweep's work: a merchant window that has closed.
_CASE_STATE = """
    CASE
      WHEN r < %(overdue)s THEN 'overdue'
      WHEN r < %(overdue)s + 0.12 THEN 'awaiting_merchant'
      WHEN r < %(overdue)s + 0.20 THEN 'awaiting_customer'
      WHEN r < %(overdue)s + 0.26 THEN 'escalated'
      WHEN r < %(overdue)s + 0.28 THEN 'info_requested'
      WHEN r < %(overdue)s + 0.29 THEN 'awaiting_return'
      WHEN r < %(overdue)s + 0.30 THEN 'opened'
      WHEN r < %(overdue)s + 0.55 THEN 'resolved'
      WHEN r < %(overdue)s + 0.78 THEN 'decided'
      ELSE 'withdrawn'
    END
"""


def _insert_orders(
    cursor: CursorWrapper, first: int, last: int, *, now: datetime, overdue: float
) -> None:
    """Orders of merchants first..last; the first `disputes` orders of each get a case, whose
    state and opening time are drawn here (into bench_case) so the order is placed before it."""
    cursor.execute(
        f"""
        CREATE TEMP TABLE IF NOT EXISTS bench_case (
            order_id bigint PRIMARY KEY, kind text, protected boolean, opened_at timestamptz,
            r2 float8, r3 float8
        ) ON COMMIT DROP;
        TRUNCATE bench_case;
        INSERT INTO bench_case (order_id, kind, protected, opened_at, r2, r3)
        SELECT order_id, kind, protected,
               CASE kind
                 WHEN 'overdue' THEN %(now)s - (window_days + interval '1 hour'
                                                + r2 * interval '10 days')
                 WHEN 'awaiting_merchant' THEN %(now)s - r2 * interval '4 days'
                 WHEN 'opened' THEN %(now)s - r2 * interval '1 hour'
                 WHEN 'awaiting_customer' THEN %(now)s - (window_days + r2 * interval '10 days')
                 WHEN 'escalated' THEN %(now)s - (window_days + r2 * interval '60 days')
                 WHEN 'info_requested' THEN %(now)s - (window_days + r2 * interval '30 days')
                 WHEN 'awaiting_return' THEN %(now)s - (window_days + r2 * interval '20 days')
                 ELSE %(now)s - (interval '31 days' + r2 * interval '330 days')
               END,
               r2, r3
        FROM (
            SELECT p.first_order + g AS order_id, {_CASE_STATE} AS kind, r2, r3,
                   protected,
                   CASE WHEN protected THEN interval '5 days' ELSE interval '21 days' END
                       AS window_days
            FROM (
                SELECT p.first_order, g, random() AS r, random() AS r2, random() AS r3,
                       random() < 0.4 AS protected
                FROM bench_plan p, generate_series(0, p.disputes - 1) g
                WHERE p.position BETWEEN %(first)s AND %(last)s
            ) p
        ) drawn;
        """,  # noqa: S608 - only fixed SQL is interpolated
        {"first": first, "last": last, "now": now, "overdue": overdue},
    )
    cursor.execute(
        """
        INSERT INTO disputes_order (
            id, merchant_id, order_number, placed_at, amount, currency, customer_email,
            customer_language, payment_state, protection_tier, protection_status,
            protection_ends_at, is_invoice, shipments, line_summary, refunded_outside_amount,
            moved_to_customer, created_at, updated_at)
        SELECT id, merchant_id, 'B' || lpad((id - first_order + 1)::text, 7, '0'), placed_at,
               amount, currency, 'customer' || id || '@bench.example', language,
               CASE WHEN kind IS NULL AND r_state < 0.7 THEN 'paid'
                    WHEN kind IS NULL THEN 'active'
                    WHEN kind IN ('resolved', 'decided', 'withdrawn') THEN 'paid'
                    ELSE 'paused' END,
               tier,
               CASE WHEN tier = 'none' THEN 'none'
                    WHEN placed_at + interval '30 days' > %(now)s THEN 'active'
                    ELSE 'expired' END,
               CASE WHEN tier = 'none' THEN NULL ELSE placed_at + interval '30 days' END,
               true, '[]'::jsonb, '', 0,
               -- What the order's case moved to the customer: its moved_amount (_insert_cases).
               CASE WHEN kind = 'resolved' THEN round(amount * 0.5, 2)
                    WHEN kind = 'decided' AND r3 < 1.0 / 3 THEN 0
                    WHEN kind = 'decided' AND r3 < 2.0 / 3 THEN amount
                    WHEN kind = 'decided' THEN round(amount * 0.5, 2)
                    ELSE 0 END,
               placed_at, placed_at
        FROM (
            SELECT p.first_order + g AS id, p.first_order, p.merchant_id, p.currency, c.kind,
                   c.r3,
                   coalesce(c.opened_at - (interval '1 day' + c.r3 * interval '8 days'),
                            %(now)s - random() * interval '400 days') AS placed_at,
                   round((5 + random() * random() * 995)::numeric, 2) AS amount,
                   (ARRAY['en', 'nl', 'fi', 'sv', 'de'])[1 + floor(random() * 5)::int] AS language,
                   CASE WHEN coalesce(c.protected, random() < 0.4)
                        THEN (ARRAY['plus', 'basic'])[1 + floor(random() * 2)::int]
                        ELSE 'none' END AS tier,
                   random() AS r_state
            FROM bench_plan p
            CROSS JOIN generate_series(0, p.orders - 1) g
            LEFT JOIN bench_case c ON c.order_id = p.first_order + g
            WHERE p.position BETWEEN %(first)s AND %(last)s
        ) drawn
        """,
        {"first": first, "last": last, "now": now},
    )


def _insert_cases(cursor: CursorWrapper, first: int, last: int, *, now: datetime) -> None:
    """The cases drawn in bench_case, their timelines and fee lines."""
    cursor.execute(
        """
        CREATE TEMP TABLE IF NOT EXISTS bench_new_case (id bigint) ON COMMIT DROP;
        TRUNCATE bench_new_case;
        WITH inserted AS (
        INSERT INTO disputes_dispute (
            public_id, order_id, merchant_id, program, reason, customer_message,
            customer_language, state, outcome, next_actor, due_at, reminder_due_at,
            information_requested_from, currency, order_amount, disputed_amount, refund_offer,
            refund_offer_amount, settled_amount, opened_at, escalated_at, closed_at,
            decision_reason, updated_at, customer_link_version, fraud_proven, moved_amount,
            decision_code, override_reason, evidence_provided)
        SELECT
            'DP-' || substr(h, 1, 4) || '-' || substr(h, 5, 4) || '-' || substr(h, 9, 4),
            order_id, merchant_id, program, reason,
            'The parcel never arrived and the shop does not answer my emails.',
            language, state,
            CASE state WHEN 'resolved' THEN 'agreement' WHEN 'withdrawn' THEN 'withdrawn'
                 WHEN 'decided'
                     THEN (ARRAY['merchant', 'customer', 'split'])[1 + floor(r3 * 3)::int]
                 ELSE '' END,
            CASE WHEN state IN ('awaiting_merchant') THEN 'merchant'
                 WHEN state IN ('awaiting_customer', 'awaiting_return') THEN 'customer'
                 WHEN state = 'info_requested' THEN 'merchant'
                 WHEN state = 'escalated' THEN 'support' ELSE '' END,
            CASE WHEN state = 'awaiting_merchant' THEN window_end
                 WHEN state IN ('awaiting_customer', 'info_requested', 'awaiting_return')
                     THEN %(now)s + interval '3 days' + r2 * interval '4 days'
                 END,
            CASE WHEN state = 'awaiting_merchant' AND window_end - interval '1 day' > %(now)s
                 THEN window_end - interval '1 day' END,
            CASE WHEN state = 'info_requested' THEN 'merchant' ELSE '' END,
            currency, amount, amount,
            CASE WHEN state IN ('awaiting_customer', 'resolved') THEN 'partial'
                 WHEN state = 'awaiting_return' THEN 'after_return' ELSE '' END,
            CASE WHEN state IN ('awaiting_customer', 'resolved', 'awaiting_return')
                 THEN round(amount * 0.5, 2) END,
            CASE WHEN state = 'resolved' THEN round(amount * 0.5, 2)
                 WHEN state = 'decided' AND r3 < 1.0 / 3 THEN 0
                 WHEN state = 'decided' AND r3 < 2.0 / 3 THEN amount
                 WHEN state = 'decided' THEN round(amount * 0.5, 2)
                 WHEN state = 'withdrawn' THEN 0 END,
            opened_at,
            CASE WHEN state IN ('escalated', 'info_requested', 'awaiting_return', 'decided')
                 THEN opened_at + window_days END,
            CASE WHEN state IN ('resolved', 'withdrawn', 'decided')
                 THEN least(opened_at + window_days + r2 * interval '20 days', %(now)s) END,
            CASE WHEN state = 'decided' THEN 'Decided on the evidence of both sides.' ELSE '' END,
            %(now)s, 1, false,
            -- The settled amount when the outcome moves money (agreement, customer, split).
            CASE WHEN state = 'resolved' THEN round(amount * 0.5, 2)
                 WHEN state = 'decided' AND r3 < 1.0 / 3 THEN 0
                 WHEN state = 'decided' AND r3 < 2.0 / 3 THEN amount
                 WHEN state = 'decided' THEN round(amount * 0.5, 2)
                 ELSE 0 END,
            CASE WHEN state = 'decided' THEN 'other' ELSE '' END, '',
            -- Half the answered cases carry the carrier and tracking number the feed gave.
            CASE WHEN state NOT IN ('awaiting_merchant', 'escalated') AND r2 < 0.5
                 THEN '["merchant:carrier", "merchant:tracking_number"]'::jsonb
                 ELSE '[]'::jsonb END
        FROM (
            SELECT c.order_id, o.merchant_id, o.currency, o.amount, o.customer_language AS language,
                   c.opened_at, c.r2, c.r3,
                   CASE WHEN c.kind = 'overdue' THEN 'awaiting_merchant' ELSE c.kind END AS state,
                   CASE WHEN o.protection_tier = 'none' THEN 'payment_dispute'
                        ELSE 'buyer_protection' END AS program,
                   CASE WHEN o.protection_tier = 'none'
                        THEN (ARRAY['not_received', 'returned_not_refunded', 'wrong_amount',
                                    'faulty', 'other'])[1 + floor(c.r3 * 5)::int]
                        ELSE (ARRAY['not_received', 'no_refund_after_return',
                                    'no_refund_after_cancellation'])[1 + floor(c.r3 * 3)::int]
                   END AS reason,
                   CASE WHEN o.protection_tier = 'none' THEN interval '21 days'
                        ELSE interval '5 days' END AS window_days,
                   c.opened_at + CASE WHEN o.protection_tier = 'none' THEN interval '21 days'
                        ELSE interval '5 days' END AS window_end,
                   upper(substr(md5(c.order_id::text || random()::text), 1, 12)) AS h
            FROM bench_case c JOIN disputes_order o ON o.id = c.order_id
        ) drawn
        RETURNING id
        )
        INSERT INTO bench_new_case SELECT id FROM inserted
        """,
        {"now": now},
    )
    # md5's hex is a subset of the public-id alphabet, so the ids stay well-formed and unique
    # enough (48 bits); a clash would fail the unique constraint and the run.
    cursor.execute(
        """
        INSERT INTO disputes_disputeevent (
            dispute_id, event_type, actor_kind, actor_id, message, visibility, data, created_at)
        SELECT d.id, e.event_type, e.actor_kind, '', e.message, e.visibility, e.data, e.at
        FROM bench_new_case n
        JOIN disputes_dispute d ON d.id = n.id
        CROSS JOIN LATERAL (VALUES
            ('opened', 'customer', d.customer_message, 'both', '{}'::jsonb, d.opened_at, true),
            ('merchant_window_started', 'system', '', 'both',
             jsonb_build_object('party', 'merchant'), d.opened_at, d.state <> 'opened'),
            ('offer_made', 'merchant', 'We can refund half of the amount.', 'both', '{}'::jsonb,
             d.opened_at + interval '2 days',
             d.state IN ('awaiting_customer', 'resolved')),
            ('escalated', 'system', '', 'both',
             jsonb_build_object('cause', 'merchant_deadline',
                                'fee', CASE d.currency WHEN 'SEK' THEN '85.00' ELSE '7.50' END),
             d.escalated_at,
             d.escalated_at IS NOT NULL),
            ('info_requested', 'staff', 'Please send the tracking code.', 'both',
             jsonb_build_object('party', 'merchant'), d.escalated_at + interval '1 day',
             d.state = 'info_requested'),
            ('decided', 'staff', d.decision_reason, 'both', '{}'::jsonb, d.closed_at,
             d.state = 'decided'),
            ('resolved', 'customer', '', 'both', '{}'::jsonb, d.closed_at, d.state = 'resolved'),
            ('withdrawn', 'customer', '', 'both', '{}'::jsonb, d.closed_at, d.state = 'withdrawn')
        ) AS e(event_type, actor_kind, message, visibility, data, at, applies)
        WHERE e.applies
        """
    )
    cursor.execute(
        """
        INSERT INTO billing_feeline (
            merchant_id, dispute_id, kind, amount, currency, description, incurred_at)
        SELECT d.merchant_id, d.id, 'standard', CASE d.currency WHEN 'SEK' THEN 85.00 ELSE 7.50 END,
               d.currency,
               'Dispute fee for case ' || d.public_id, d.escalated_at
        FROM bench_new_case n JOIN disputes_dispute d ON d.id = n.id
        WHERE d.escalated_at IS NOT NULL
        """
    )


def _counts(cursor: CursorWrapper) -> dict[str, int]:
    counts = {}
    for table in _BULK_TABLES:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        counts[table] = int(cursor.fetchone()[0])
    return counts
