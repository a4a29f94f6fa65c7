"""Every write of billing: fees fixed at escalation, monthly statements, their emails.

A statement is computed for a batch of merchants at a time, in one transaction that holds the
merchants' rows (FOR NO KEY UPDATE: inserts of cases and orders are not blocked), so two
workers never compute the same merchant's month at once; the one that comes second finds the
statements issued and leaves them alone. Each batch costs the same number of queries whatever
its size.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from disputes.choices import InstructionKind
from disputes.instructions import NewInstruction, instructions_write
from disputes.models import ContractTerms, Dispute, Merchant, MerchantMembership
from disputes.policies import round_money
from disputes.selectors import dispute_rate_counts
from notifications.services import EmailNotice, outbox_enqueue, recipient_key

from . import signals
from .models import (
    DEFAULT_FEE_PLAN,
    FeeKind,
    FeeLine,
    FeeSchedule,
    MerchantFeeTerms,
    Statement,
    StatementLine,
    StatementStatus,
)
from .policies import (
    DEFAULT_MINIMUM_ORDERS,
    ELEVATED_RATE_THRESHOLD,
    BilledCase,
    EscalationCharge,
    FeeTerms,
    LineKind,
    Period,
    PlannedLine,
    current_month,
    month_of,
    plan_correction,
    plan_month_lines,
    previous_month,
    standard_fee_at,
    statement_total,
    surcharge_applies,
    terms_in_force,
)

logger = logging.getLogger(__name__)

STATEMENT_BATCH_SIZE = 200
STATEMENT_EMAIL = "merchant_monthly_statement"


def fee_schedule(currencies: Iterable[str] | None = None) -> list[FeeTerms]:
    """The schedule rows (all versions) of the given currencies, or of all: one query."""
    rows = FeeSchedule.objects.all()
    if currencies is not None:
        rows = rows.filter(currency__in={currency.upper() for currency in currencies})
    return [row.as_terms() for row in rows]


def fee_charge_escalations(
    *, disputes: Sequence[Dispute], now: datetime
) -> dict[int, tuple[Decimal, int | None]]:
    """Fix the standard fee of each newly escalated case (once per case, enforced by the DB),
    from its fee plan's schedule in force at the escalation instant.

    Returns {dispute id: (fee, fee line id)}. A test merchant's case gets its fee stated but
    no fee line (test merchants are never billed: fee line id None). A case whose plan has no
    row for its currency is charged nothing (and logged).
    """
    if not disputes:
        return {}
    schedule = fee_schedule(dispute.currency for dispute in disputes)
    plans = _fee_plans(disputes)
    fees: dict[int, Decimal] = {}
    lines = []
    description = gettext("Dispute fee for case %(case)s")  # translated once per batch
    unpriced: list[str] = []
    for dispute in disputes:
        amount = standard_fee_at(
            schedule,
            currency=dispute.currency,
            at=dispute.escalated_at or now,
            plan=plans.get(dispute.terms_id, DEFAULT_FEE_PLAN),
        )
        if amount is None:
            unpriced.append(dispute.public_id)
            continue
        fees[dispute.pk] = amount
        if dispute.merchant.test_mode:
            continue
        lines.append(
            FeeLine(
                merchant_id=dispute.merchant_id,
                dispute=dispute,
                kind=FeeKind.STANDARD,
                amount=amount,
                currency=dispute.currency,
                description=description % {"case": dispute.public_id},
                incurred_at=now,
            )
        )
    FeeLine.objects.bulk_create(lines, ignore_conflicts=True)
    line_ids: dict[int, int] = {}
    if lines:
        line_ids = dict(
            FeeLine.objects.filter(
                dispute_id__in=[line.dispute_id for line in lines], kind=FeeKind.STANDARD
            ).values_list("dispute_id", "pk")
        )
    if unpriced:
        # The escalation stands (its deadline passed); the fee waits for a schedule row, and
        # `manage.py check` and the fee schedule's admin page name the currency meanwhile.
        logger.error(
            "No fee schedule for the currency of %d escalated case(s) (%s): no fee charged",
            len(unpriced),
            ", ".join(unpriced[:10]),
        )
    return {dispute_id: (fee, line_ids.get(dispute_id)) for dispute_id, fee in fees.items()}


def _fee_plans(disputes: Sequence[Dispute]) -> dict[int | None, str]:
    """The fee plan of each case's contract terms (one query; cases without terms: none)."""
    ids = {dispute.terms_id for dispute in disputes if dispute.terms_id is not None}
    if not ids:
        return {}
    return dict(ContractTerms.objects.filter(pk__in=ids).values_list("pk", "fee_plan"))


# --- Monthly statements --------------------------------------------------------------------------


@dataclass
class StatementRun:
    period: Period
    batches: int = 0
    merchants: int = 0
    issued: int = 0
    drafted: int = 0
    already_issued: int = 0


def statements_issue_month(
    *,
    now: datetime | None = None,
    period: Period | None = None,
    issue: bool = True,
    batch_size: int = STATEMENT_BATCH_SIZE,
) -> StatementRun:
    """Compute (and issue) every merchant's statements of a month that has ended, by default
    the month before `now`. Safe to run at any time, late, twice or from two workers at once."""
    now = now or timezone.now()
    period = period or previous_month(now)
    if period.end > now:
        raise ValueError("A month is billed once it has ended.")
    run = StatementRun(period=period)
    after = 0
    while True:
        merchant_ids = list(
            # Test merchants are never billed.
            Merchant.objects.filter(pk__gt=after, test_mode=False)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not merchant_ids:
            return run
        statements_compute_batch(
            merchant_ids=merchant_ids, period=period, now=now, issue=issue, run=run
        )
        after = merchant_ids[-1]


def months_with_unbilled_fees(*, now: datetime) -> list[Period]:
    """Every ended month (UTC) holding a fee line that no issued statement bills yet, oldest
    first: the months a missed or failed run left behind."""
    first_days = (
        FeeLine.objects.filter(incurred_at__lt=current_month(now).start)
        .exclude(statement_lines__statement__status=StatementStatus.ISSUED)
        .annotate(month=TruncMonth("incurred_at", tzinfo=UTC))
        .order_by("month")
        .values_list("month", flat=True)
        .distinct()
    )
    return [month_of(first_day.astimezone(UTC).date()) for first_day in first_days]


def statements_issue_due(
    *, now: datetime | None = None, batch_size: int = STATEMENT_BATCH_SIZE
) -> list[StatementRun]:
    """Issue every ended month that is not billed yet, oldest first, and the month before now.

    The beat runs this daily: whatever ran or did not run on the 1st (a beat that was down, a
    fresh schedule file), the next run catches every month up, and a month already issued is
    left as it is, so every ended month is billed exactly once.
    """
    now = now or timezone.now()
    months = {period.start: period for period in months_with_unbilled_fees(now=now)}
    months.setdefault(previous_month(now).start, previous_month(now))
    return [
        statements_issue_month(now=now, period=months[start], batch_size=batch_size)
        for start in sorted(months)
    ]


def statement_recompute_draft(*, statement: Statement, now: datetime | None = None) -> Statement:
    """The admin's "recompute draft": the merchant's month computed again from today's data.
    An issued statement is returned unchanged."""
    if not statement.is_issued:
        statements_compute_batch(
            merchant_ids=[statement.merchant_id],
            period=statement.period,
            now=now or timezone.now(),
            issue=False,
        )
    return Statement.objects.get(pk=statement.pk)


def statement_issue_draft(*, statement: Statement, now: datetime | None = None) -> Statement:
    """Issue a reviewed draft (recomputed first, so it bills the latest data)."""
    if not statement.is_issued:
        statements_compute_batch(
            merchant_ids=[statement.merchant_id],
            period=statement.period,
            now=now or timezone.now(),
            issue=True,
        )
    return Statement.objects.get(pk=statement.pk)


@dataclass
class _MerchantMonth:
    merchant: Merchant
    disputes_opened: int
    orders_placed: int


def statements_compute_batch(
    *,
    merchant_ids: Sequence[int],
    period: Period,
    now: datetime,
    issue: bool,
    run: StatementRun | None = None,
) -> list[Statement]:
    """Compute the month's statements of these merchants, issued or as drafts. Statements
    already issued are left as they are; drafts are computed again. Fixed number of queries."""
    run = run or StatementRun(period=period)
    with transaction.atomic():
        merchants = list(
            Merchant.objects.select_for_update(no_key=True)
            .filter(pk__in=merchant_ids)
            .order_by("pk")
        )
        ids = [merchant.pk for merchant in merchants]
        existing = {
            (statement.merchant_id, statement.currency): statement
            for statement in Statement.objects.filter(
                merchant_id__in=ids, period_start=period.first_day
            )
        }
        months = _merchant_months(merchants, period)
        schedule = fee_schedule()
        contract_fees = {
            (terms.merchant_id, terms.currency): terms.elevated_fee
            for terms in MerchantFeeTerms.objects.filter(merchant_id__in=ids)
        }
        charges = _charges_of_month(ids, period)
        plans = _plans_on(ids, period.first_day)
        corrections = _corrections_due(ids, period, schedule, plans)

        planned: dict[tuple[int, str], list[PlannedLine]] = defaultdict(list)
        snapshots: dict[tuple[int, str], tuple[FeeTerms, Decimal | None]] = {}
        currencies_of: dict[int, set[str]] = defaultdict(set)
        for merchant_id, currency in [*charges, *corrections]:
            currencies_of[merchant_id].add(currency)
        for merchant_id, currency in existing:
            currencies_of[merchant_id].add(currency)
        for merchant_id, currencies in currencies_of.items():
            month = months[merchant_id]
            for currency in sorted(currencies):
                key = (merchant_id, currency)
                statement = existing.get(key)
                if statement is not None and statement.is_issued:
                    run.already_issued += 1
                    continue
                plan = plans.get(merchant_id, DEFAULT_FEE_PLAN)
                priced = terms_in_force(schedule, currency=currency, at=period.start, plan=plan)
                terms = _terms_for_month(schedule, currency, period, plan)
                surcharge = None
                # No schedule row for the currency: no elevated fee, never another's amount.
                if priced is not None and surcharge_applies(
                    disputes_opened=month.disputes_opened,
                    orders_placed=month.orders_placed,
                    terms=terms,
                ):
                    surcharge = contract_fees.get(key, terms.elevated_fee)
                planned[key] = plan_month_lines(
                    charges=charges.get(key, []),
                    currency=currency,
                    surcharge=surcharge,
                    waive_when_merchant_wins=terms.waive_when_merchant_wins,
                ) + corrections.get(key, [])
                snapshots[key] = (terms, surcharge)

        status = StatementStatus.ISSUED if issue else StatementStatus.DRAFT
        to_create: list[Statement] = []
        to_update: list[Statement] = []
        for key, lines in planned.items():
            merchant_id, currency = key
            terms, surcharge = snapshots[key]
            month = months[merchant_id]
            statement = existing.get(key) or Statement(
                merchant_id=merchant_id, currency=currency, period_start=period.first_day
            )
            statement.merchant = month.merchant
            statement.status = status
            statement.disputes_opened = month.disputes_opened
            statement.orders_placed = month.orders_placed
            statement.rate_threshold = terms.rate_threshold
            statement.minimum_orders = terms.minimum_orders
            statement.elevated_fee = None if surcharge is None else round_money(surcharge, currency)
            statement.total = statement_total(lines, currency)
            statement.computed_at = now
            statement.issued_at = now if issue else None
            (to_update if statement.pk else to_create).append(statement)

        StatementLine.objects.filter(statement__in=[s.pk for s in to_update]).delete()
        Statement.objects.bulk_create(to_create)
        if to_update:
            Statement.objects.bulk_update(
                to_update,
                [
                    "status",
                    "disputes_opened",
                    "orders_placed",
                    "rate_threshold",
                    "minimum_orders",
                    "elevated_fee",
                    "total",
                    "computed_at",
                    "issued_at",
                ],
            )
        statements = [*to_create, *to_update]
        written = StatementLine.objects.bulk_create(
            [
                StatementLine(
                    statement=statement,
                    kind=line.kind,
                    amount=line.amount,
                    dispute_id=line.dispute_id,
                    fee_line_id=line.fee_line_id,
                    waived_amount=line.waived_amount,
                    waiver=line.waiver,
                    corrects_id=line.corrects_line_id,
                    correction_seq=line.correction_seq,
                )
                for statement in statements
                for line in planned[(statement.merchant_id, statement.currency)]
            ]
        )
        if issue:
            _write_fee_instructions(written, charges, now=now)
            _queue_statement_emails(statements, now=now)
            signals.statements_issued.send(sender=Statement, statements=statements, now=now)
        run.batches += 1
        run.merchants += len(merchants)
        run.issued += len(statements) if issue else 0
        run.drafted += 0 if issue else len(statements)
    return statements


def fee_instruction_for(
    line: StatementLine, standard_fee: Decimal | None
) -> tuple[InstructionKind, Decimal] | None:
    """The fee instruction a case's statement line stands for, if any: an elevated fee or a
    debit is charged, a waiver waives the standard fee charged at escalation, a credit is
    credited, an adjustment is charged or credited by its sign."""
    if line.dispute_id is None:
        return None
    if line.kind in (LineKind.SURCHARGE, LineKind.DEBIT) and line.amount > 0:
        return InstructionKind.FEE_CHARGED, line.amount
    if line.kind == LineKind.WAIVED and standard_fee is not None:
        return InstructionKind.FEE_WAIVED, standard_fee
    if line.kind == LineKind.CREDIT and line.amount < 0:
        return InstructionKind.FEE_CREDITED, -line.amount
    if line.kind == LineKind.ADJUSTMENT and line.amount != 0:
        kind = InstructionKind.FEE_CHARGED if line.amount > 0 else InstructionKind.FEE_CREDITED
        return kind, abs(line.amount)
    return None


def _write_fee_instructions(
    lines: Sequence[StatementLine],
    charges: dict[tuple[int, str], list[EscalationCharge]],
    *,
    now: datetime,
) -> None:
    """What an issued statement changes in the fees already instructed at escalation: the
    elevated fee and debits are charged, waived standard fees waived, credits credited."""
    standard: dict[int | None, Decimal] = {
        charge.fee_line_id: charge.amount
        for month_charges in charges.values()
        for charge in month_charges
        if charge.is_standard
    }
    effects: list[tuple[StatementLine, InstructionKind, Decimal]] = []
    for line in lines:
        effect = fee_instruction_for(line, standard.get(line.fee_line_id))
        if effect is not None:
            effects.append((line, *effect))
    if not effects:
        return
    cases = Dispute.objects.select_related("order", "merchant").in_bulk(
        {line.dispute_id for line, _kind, _amount in effects}
    )
    instructions_write(
        [
            NewInstruction(
                kind=kind,
                order=cases[line.dispute_id].order,
                merchant=cases[line.dispute_id].merchant,
                amount=amount,
                dispute=cases[line.dispute_id],
                statement_line_id=line.pk,
            )
            for line, kind, amount in effects
        ],
        now=now,
    )


def _plans_on(merchant_ids: Sequence[int], day: date) -> dict[int, str]:
    """Each merchant's fee plan under its contract terms in force on `day` (one query)."""
    plans: dict[int, str] = {}
    for merchant_id, plan in (
        ContractTerms.objects.filter(merchant_id__in=merchant_ids, valid_from__lte=day)
        .order_by("merchant_id", "valid_from")
        .values_list("merchant_id", "fee_plan")
    ):
        plans[merchant_id] = plan  # the latest version wins
    return plans


def _terms_for_month(
    schedule: Sequence[FeeTerms], currency: str, period: Period, plan: str = DEFAULT_FEE_PLAN
) -> FeeTerms:
    """The month's surcharge and waiver terms: the plan's schedule in force on its first day.
    A currency without a schedule gets the default threshold and no fee at all (no amount is
    known for it; `manage.py check` reports it)."""
    terms = terms_in_force(schedule, currency=currency, at=period.start, plan=plan)
    if terms is not None:
        return terms
    return FeeTerms(
        currency=currency,
        valid_from=period.first_day,
        standard_fee=Decimal(0),
        elevated_fee=Decimal(0),
        rate_threshold=ELEVATED_RATE_THRESHOLD,
        minimum_orders=DEFAULT_MINIMUM_ORDERS,
    )


def _merchant_months(merchants: Sequence[Merchant], period: Period) -> dict[int, _MerchantMonth]:
    counts = dispute_rate_counts(
        start=period.start, end=period.end, merchant_ids=[merchant.pk for merchant in merchants]
    )
    return {
        merchant.pk: _MerchantMonth(
            merchant, counts[merchant.pk].claims, counts[merchant.pk].orders
        )
        for merchant in merchants
    }


def _charges_of_month(
    merchant_ids: Sequence[int], period: Period
) -> dict[tuple[int, str], list[EscalationCharge]]:
    charges: dict[tuple[int, str], list[EscalationCharge]] = defaultdict(list)
    rows = (
        FeeLine.objects.filter(
            merchant_id__in=merchant_ids, incurred_at__gte=period.start, incurred_at__lt=period.end
        )
        .order_by("incurred_at", "id")
        .values_list(
            "pk",
            "merchant_id",
            "currency",
            "dispute_id",
            "kind",
            "amount",
            "dispute__outcome",
            "dispute__fraud_proven",
        )
    )
    for pk, merchant_id, currency, dispute_id, kind, amount, outcome, fraud in rows:
        charges[(merchant_id, currency)].append(
            EscalationCharge(
                fee_line_id=pk,
                dispute_id=dispute_id,
                amount=amount,
                is_standard=kind == FeeKind.STANDARD,
                outcome=outcome or "",
                fraud_proven=bool(fraud),
            )
        )
    return charges


_ORIGINAL_KINDS = (LineKind.STANDARD, LineKind.SURCHARGE, LineKind.WAIVED)


def _corrections_due(
    merchant_ids: Sequence[int],
    period: Period,
    schedule: Sequence[FeeTerms],
    plans: dict[int, str],
) -> dict[tuple[int, str], list[PlannedLine]]:
    """Credits and debits for cases billed on earlier, issued statements whose waiver changed
    since. Only cases changed after their statement was issued are read: one query."""
    earlier_issued = Q(
        statement__merchant_id__in=merchant_ids,
        statement__status=StatementStatus.ISSUED,
        statement__period_start__lt=period.first_day,
    )
    changed_since_billed = StatementLine.objects.filter(
        earlier_issued,
        kind__in=[LineKind.STANDARD, LineKind.WAIVED],
        dispute__updated_at__gt=F("statement__issued_at"),
    ).values("dispute_id")
    rows = (
        StatementLine.objects.filter(earlier_issued, dispute_id__in=changed_since_billed)
        .order_by("id")
        .values_list(
            "pk",
            "kind",
            "amount",
            "waived_amount",
            "dispute_id",
            "statement__merchant_id",
            "statement__currency",
            "statement__period_start",
            "dispute__outcome",
            "dispute__fraud_proven",
        )
    )
    cases: dict[int, _Billed] = {}
    for pk, kind, amount, waived, dispute_id, merchant_id, currency, month, outcome, fraud in rows:
        case = cases.setdefault(
            dispute_id, _Billed(merchant_id, currency, outcome or "", bool(fraud), month)
        )
        case.net += amount
        if kind in _ORIGINAL_KINDS:
            case.due += amount + waived
        if kind in (LineKind.STANDARD, LineKind.WAIVED):
            case.original_line_id = pk
            case.month = month
        elif kind in (LineKind.CREDIT, LineKind.DEBIT):
            case.corrections += 1
    planned: dict[tuple[int, str], list[PlannedLine]] = defaultdict(list)
    for dispute_id, case in cases.items():
        if case.original_line_id is None:
            continue
        # Waived or not is judged by the terms of the month the case was billed in.
        terms = _terms_for_month(
            schedule, case.currency, month_of(case.month), plans.get(case.merchant_id, "standard")
        )
        line = plan_correction(
            BilledCase(
                dispute_id=dispute_id,
                original_line_id=case.original_line_id,
                original_due=case.due,
                net_charged=case.net,
                corrections_so_far=case.corrections,
                outcome=case.outcome,
                fraud_proven=case.fraud_proven,
                waive_when_merchant_wins=terms.waive_when_merchant_wins,
            ),
            currency=case.currency,
        )
        if line is not None:
            planned[(case.merchant_id, case.currency)].append(line)
    return planned


@dataclass
class _Billed:
    merchant_id: int
    currency: str
    outcome: str
    fraud_proven: bool
    month: date
    original_line_id: int | None = None
    due: Decimal = Decimal(0)
    net: Decimal = Decimal(0)
    corrections: int = 0


def _queue_statement_emails(statements: Sequence[Statement], *, now: datetime) -> None:
    """One email per issued statement and merchant user who wants it: one query, one insert."""
    if not statements:
        return
    recipients: dict[int, list[str]] = defaultdict(list)
    for merchant_id, email in (
        MerchantMembership.objects.filter(
            merchant_id__in={statement.merchant_id for statement in statements},
            notify_monthly_statement=True,
            user__is_active=True,
        )
        .exclude(user__email="")
        .order_by("pk")
        .values_list("merchant_id", "user__email")
    ):
        recipients[merchant_id].append(email)
    notices: list[EmailNotice] = []
    for statement in statements:
        merchant = statement.merchant
        period = statement.period
        context = {
            "merchant_name": merchant.name,
            "currency": statement.currency,
            "total_amount": str(statement.total),
            "period_start": period.first_day.isoformat(),
            "period_end": period.last_day.isoformat(),
            "statement_url": settings.SITE_URL
            + reverse("portal:fees-statement", args=[statement.pk]),
        }
        notices.extend(
            EmailNotice(
                kind=STATEMENT_EMAIL,
                recipient=recipient,
                dedupe_key=f"{STATEMENT_EMAIL}:{statement.pk}:{recipient_key(recipient)}",
                language=merchant.language,
                time_zone=merchant.time_zone,
                context=context,
            )
            for recipient in recipients.get(statement.merchant_id, [])
        )
    outbox_enqueue(notices=notices, now=now)
