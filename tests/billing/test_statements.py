"""Monthly statements on the database: lines, surcharge, waivers, corrections, emails, and the
job run twice, late and from two workers at once (PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import services, tasks
from billing.models import (
    FeeLine,
    FeeSchedule,
    MerchantFeeTerms,
    Statement,
    StatementIssued,
    StatementLine,
    StatementStatus,
)
from billing.policies import month_of
from disputes import services as disputes
from disputes.choices import Outcome, Reason
from notifications.emails import render_email
from notifications.models import OutboxMessage
from tests.billing.factories import MARCH, ensure_default_schedule, place_orders
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    decision_marks,
    open_dispute,
    staff_actor,
)

IN_MARCH = datetime(2026, 3, 10, 9, tzinfo=UTC)
ON_TIME = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
APRIL = month_of(ON_TIME.date())
MAY_FIRST = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def escalate(merchant, *, at=IN_MARCH):
    """A case that goes straight to support: its standard fee is fixed at `at`."""
    with time_machine.travel(at, tick=False):
        return open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=at)


def decide(dispute, *, at, outcome=Outcome.CUSTOMER, fraud_proven=False):
    with time_machine.travel(at, tick=False):
        return disputes.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=staff_actor(),
            outcome=outcome,
            reason="Decided on the evidence.",
            fraud_proven=fraud_proven,
            now=at,
        )


def issue(now=ON_TIME, **kwargs):
    with time_machine.travel(now, tick=False):
        return services.statements_issue_month(now=now, **kwargs)


def lines_of(statement):
    return [
        (line.kind, line.amount, line.dispute_id)
        for line in StatementLine.objects.filter(statement=statement).order_by("id")
    ]


# --- Fees fixed at escalation --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_standard_fee_comes_from_the_schedule_in_force_at_the_escalation():
    FeeSchedule.objects.create(
        currency="EUR",
        valid_from=datetime(2026, 3, 15).date(),
        standard_fee=Decimal("9.00"),
        elevated_fee=Decimal("30.00"),
    )
    merchant = MerchantFactory()
    before = escalate(merchant, at=datetime(2026, 3, 14, 23, 59, tzinfo=UTC))
    after = escalate(merchant, at=datetime(2026, 3, 15, 0, 0, tzinfo=UTC))
    assert FeeLine.objects.get(dispute=before).amount == Decimal("7.50")
    assert FeeLine.objects.get(dispute=after).amount == Decimal("9.00")


@pytest.mark.django_db
def test_fees_of_a_batch_read_the_schedule_once():
    merchant = MerchantFactory()
    cases = [open_dispute(merchant=merchant, now=IN_MARCH) for _ in range(4)]
    for case in cases:
        case.escalated_at = IN_MARCH
    with CaptureQueriesContext(connection) as queries:
        fees = services.fee_charge_escalations(disputes=cases, now=IN_MARCH)
    schedule_reads = [q for q in queries.captured_queries if "billing_feeschedule" in q["sql"]]
    assert len(schedule_reads) == 1
    assert {fee for fee, _line in fees.values()} == {Decimal("7.50")}
    assert FeeLine.objects.count() == 4


@pytest.mark.django_db
def test_a_currency_without_a_schedule_row_is_charged_no_fee_not_the_euro_number():
    """Escalated through the real service: the fee is never guessed from another currency."""
    merchant = MerchantFactory(currency="USD")
    with time_machine.travel(IN_MARCH, tick=False):
        dispute = open_dispute(
            merchant=merchant, reason=Reason.UNAUTHORIZED, now=IN_MARCH, currency="USD"
        )
    dispute.refresh_from_db()

    assert dispute.state == "escalated"
    assert not FeeLine.objects.filter(dispute=dispute).exists()
    assert "fee" not in dispute.events.get(event_type="escalated").data


# --- A month's statement -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_statement_bills_each_case_escalated_in_the_month_once():
    merchant = MerchantFactory()
    first, second = escalate(merchant), escalate(merchant)
    escalate(merchant, at=datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # April's
    escalate(merchant, at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC))  # February's
    run = issue()
    statement = Statement.objects.get(merchant=merchant)
    assert (run.issued, statement.status, statement.period_start) == (
        1,
        StatementStatus.ISSUED,
        MARCH.first_day,
    )
    assert lines_of(statement) == [
        ("standard", Decimal("7.50"), first.pk),
        ("standard", Decimal("7.50"), second.pk),
    ]
    assert statement.total == Decimal("15.00")
    # Each case opened an order in March: 2 cases for 2 orders, far below 100 orders.
    assert (statement.disputes_opened, statement.orders_placed) == (2, 2)


@pytest.mark.django_db
def test_a_month_above_the_threshold_adds_the_elevated_fee_to_each_escalated_case():
    merchant = MerchantFactory()
    place_orders(merchant, 98, at=IN_MARCH)
    cases = [escalate(merchant), escalate(merchant)]  # 2 cases / 100 orders = 2 %
    issue()
    statement = Statement.objects.get(merchant=merchant)
    assert lines_of(statement) == [
        ("standard", Decimal("7.50"), cases[0].pk),
        ("surcharge", Decimal("30.00"), cases[0].pk),
        ("standard", Decimal("7.50"), cases[1].pk),
        ("surcharge", Decimal("30.00"), cases[1].pk),
    ]
    assert statement.total == Decimal("75.00")
    assert (statement.elevated_fee, statement.rate) == (Decimal("30.00"), Decimal("0.02"))


@pytest.mark.django_db
def test_the_merchants_contract_sets_its_elevated_fee():
    merchant = MerchantFactory()
    MerchantFeeTerms.objects.create(merchant=merchant, currency="EUR", elevated_fee=Decimal("12.5"))
    place_orders(merchant, 98, at=IN_MARCH)
    escalate(merchant)
    escalate(merchant)
    issue()
    statement = Statement.objects.get(merchant=merchant)
    assert statement.total == Decimal("40.00")
    assert {line.amount for line in statement.lines.filter(kind="surcharge")} == {Decimal("12.50")}


@pytest.mark.django_db
def test_exactly_the_threshold_or_too_few_orders_means_no_surcharge():
    at_threshold, small_shop = MerchantFactory(), MerchantFactory()
    place_orders(at_threshold, 197, at=IN_MARCH)
    for _ in range(3):
        escalate(at_threshold)  # 3 / 200 = 1.5 %: not above
    place_orders(small_shop, 97, at=IN_MARCH)
    for _ in range(2):
        escalate(small_shop)  # 2 / 99: above, but fewer than 100 orders
    issue()
    assert not StatementLine.objects.filter(kind="surcharge").exists()


@pytest.mark.django_db
def test_a_case_proven_fraud_in_the_month_is_a_waived_line_with_its_reason():
    merchant = MerchantFactory()
    dispute = escalate(merchant)
    decide(dispute, at=IN_MARCH + timedelta(days=2), fraud_proven=True)
    issue()
    [line] = Statement.objects.get(merchant=merchant).lines.all()
    assert (line.kind, line.amount, line.waived_amount, line.waiver) == (
        "waived",
        Decimal("0.00"),
        Decimal("7.50"),
        "fraud_proven",
    )


@pytest.mark.django_db
def test_a_case_won_by_the_merchant_is_waived_when_the_schedule_says_so():
    FeeSchedule.objects.filter(currency="EUR").update(waive_when_merchant_wins=True)
    merchant = MerchantFactory()
    won, lost = escalate(merchant), escalate(merchant)
    decide(won, at=IN_MARCH + timedelta(days=1), outcome=Outcome.MERCHANT)
    decide(lost, at=IN_MARCH + timedelta(days=1), outcome=Outcome.CUSTOMER)
    issue()
    statement = Statement.objects.get(merchant=merchant)
    assert lines_of(statement) == [
        ("waived", Decimal("0.00"), won.pk),
        ("standard", Decimal("7.50"), lost.pk),
    ]


@pytest.mark.django_db
def test_each_currency_has_its_own_statement_in_its_minor_unit():
    merchant = MerchantFactory()
    escalate(merchant)
    with time_machine.travel(IN_MARCH, tick=False):
        open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=IN_MARCH, currency="SEK")
    issue()
    totals = dict(Statement.objects.filter(merchant=merchant).values_list("currency", "total"))
    assert totals == {"EUR": Decimal("7.50"), "SEK": Decimal("85.00")}


# --- Corrections ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_fee_waived_after_the_statement_is_credited_once_on_the_next_statement():
    merchant = MerchantFactory()
    dispute = escalate(merchant)
    escalate(merchant, at=datetime(2026, 4, 3, tzinfo=UTC))  # April has a fee of its own
    issue()
    march = Statement.objects.get(merchant=merchant, period_start=MARCH.first_day)
    decide(dispute, at=datetime(2026, 4, 20, tzinfo=UTC), fraud_proven=True)

    issue(MAY_FIRST)
    april = Statement.objects.get(merchant=merchant, period_start=APRIL.first_day)
    credit = april.lines.get(kind="credit")
    assert (credit.amount, credit.dispute_id, credit.waiver) == (
        Decimal("-7.50"),
        dispute.pk,
        "fraud_proven",
    )
    assert credit.corrects == march.lines.get(dispute=dispute)
    assert april.total == Decimal("0.00")  # 7.50 for April's case, -7.50 for March's
    # The issued March statement did not change; June and a second May run add no credit.
    assert Statement.objects.get(pk=march.pk).total == Decimal("7.50")
    issue(MAY_FIRST + timedelta(days=3))
    escalate(merchant, at=datetime(2026, 5, 5, tzinfo=UTC))
    issue(datetime(2026, 6, 1, 2, tzinfo=UTC))
    assert StatementLine.objects.filter(kind="credit", dispute=dispute).count() == 1


@pytest.mark.django_db
def test_a_correction_is_never_applied_twice_even_by_hand():
    merchant = MerchantFactory()
    dispute = escalate(merchant)
    escalate(merchant, at=datetime(2026, 4, 3, tzinfo=UTC))
    issue()
    decide(dispute, at=datetime(2026, 4, 20, tzinfo=UTC), fraud_proven=True)
    issue(MAY_FIRST)
    credit = StatementLine.objects.get(kind="credit")
    june = Statement.objects.create(
        merchant=merchant,
        currency="EUR",
        period_start=datetime(2026, 5, 1).date(),
        computed_at=MAY_FIRST,
    )
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        StatementLine.objects.create(
            statement=june,
            kind="credit",
            amount=credit.amount,
            dispute=dispute,
            corrects=credit.corrects,
            correction_seq=credit.correction_seq,
        )


# --- Immutability --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_issued_statement_and_its_lines_refuse_changes():
    merchant = MerchantFactory()
    escalate(merchant)
    issue()
    statement = Statement.objects.get()
    statement.total = Decimal("0.00")
    with pytest.raises(StatementIssued):
        statement.save()
    with pytest.raises(StatementIssued):
        statement.delete()
    with pytest.raises(StatementIssued):
        Statement.objects.filter(pk=statement.pk).update(total=0)
    with pytest.raises(StatementIssued):
        Statement.objects.all().delete()
    line = statement.lines.get()
    line.amount = Decimal("1.00")
    with pytest.raises(StatementIssued):
        line.save()
    with pytest.raises(StatementIssued):
        StatementLine.objects.all().delete()
    assert Statement.objects.get().total == Decimal("7.50")


@pytest.mark.django_db
def test_a_draft_is_computed_again_and_then_issued():
    merchant = MerchantFactory()
    escalate(merchant)
    run = issue(issue=False)
    draft = Statement.objects.get()
    assert (run.drafted, draft.status, draft.total) == (1, "draft", Decimal("7.50"))
    assert not OutboxMessage.objects.filter(kind="merchant_monthly_statement").exists()
    # A fee fixed late in March (e.g. an escalation committed at 23:59:59).
    escalate(merchant, at=datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC))
    draft = services.statement_recompute_draft(statement=draft, now=ON_TIME)
    assert (draft.status, draft.total, draft.lines.count()) == ("draft", Decimal("15.00"), 2)
    issued = services.statement_issue_draft(statement=draft, now=ON_TIME)
    assert (issued.pk, issued.status, issued.total) == (draft.pk, "issued", Decimal("15.00"))
    # Computing again returns the same issued statement.
    assert services.statement_recompute_draft(statement=issued).total == Decimal("15.00")
    assert issue().already_issued == 1


# --- The monthly job -----------------------------------------------------------------------------


def snapshot():
    return sorted(
        (s.merchant_id, s.currency, s.period_start, s.status, s.total, tuple(lines_of(s)))
        for s in Statement.objects.all()
    )


@pytest.mark.django_db
def test_the_job_run_twice_or_late_yields_one_statement_per_merchant_and_currency():
    shops = [MerchantFactory() for _ in range(3)]
    for shop in shops:
        MembershipFactory(merchant=shop)
        escalate(shop)
    issue()
    first = snapshot()
    emails = OutboxMessage.objects.filter(kind="merchant_monthly_statement").count()
    assert len(first) == 3
    assert emails == 3
    assert issue().issued == 0
    assert issue(datetime(2026, 4, 15, 12, tzinfo=UTC)).issued == 0  # late: the same month
    assert snapshot() == first
    assert OutboxMessage.objects.filter(kind="merchant_monthly_statement").count() == emails


@pytest.mark.django_db
def test_a_job_that_runs_late_for_the_first_time_bills_the_month_before():
    shop = MerchantFactory()
    escalate(shop)
    escalate(shop, at=datetime(2026, 4, 10, tzinfo=UTC))  # April, still running
    run = issue(datetime(2026, 4, 15, 12, tzinfo=UTC))
    assert run.period == MARCH
    assert [s.period_start for s in Statement.objects.all()] == [MARCH.first_day]
    assert Statement.objects.get().total == Decimal("7.50")


@pytest.mark.django_db
def test_the_celery_task_issues_last_months_statements():
    shop = MerchantFactory()
    escalate(shop)
    with time_machine.travel(ON_TIME, tick=False):
        assert tasks.issue_monthly_statements.delay().get() == 1
    assert Statement.objects.get().status == StatementStatus.ISSUED


@pytest.mark.django_db
def test_a_month_that_has_not_ended_is_not_billed():
    with pytest.raises(ValueError, match="ended"):
        services.statements_issue_month(now=IN_MARCH, period=MARCH)


def _batch_queries(merchants) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.statements_compute_batch(
            merchant_ids=[m.pk for m in merchants], period=MARCH, now=ON_TIME, issue=True
        )
    return len(queries.captured_queries)


# PostgreSQL only: SQLite splits a bulk INSERT into statements of at most 999 parameters, so there
# the count grows with the lines (production runs on PostgreSQL, where one INSERT takes them all).
@pytest.mark.postgres
@pytest.mark.django_db
def test_a_batch_costs_the_same_number_of_queries_for_3_and_for_30_merchants():
    def shops(count):
        made = []
        for _ in range(count):
            shop = MerchantFactory()
            MembershipFactory(merchant=shop)
            escalate(shop)
            escalate(shop)
            place_orders(shop, 98, at=IN_MARCH)
            made.append(shop)
        return made

    few, many = shops(3), shops(30)
    assert _batch_queries(few) == _batch_queries(many)
    assert Statement.objects.filter(status="issued").count() == 33
    assert StatementLine.objects.filter(kind="surcharge").count() == 66


@pytest.mark.django_db
def test_issuing_emails_each_user_who_wants_the_statement_with_its_total_and_link(settings):
    shop = MerchantFactory(name="Smith & Sons", language="nl")
    wants = MembershipFactory(merchant=shop)
    MembershipFactory(merchant=shop, notify_monthly_statement=False)
    escalate(shop)
    issue()
    statement = Statement.objects.get()
    [message] = OutboxMessage.objects.filter(kind="merchant_monthly_statement")
    assert message.recipient == wants.user.email
    assert message.dedupe_key.startswith(f"merchant_monthly_statement:{statement.pk}:")
    url = settings.SITE_URL + f"/portal/fees/statements/{statement.pk}/"
    assert message.context["statement_url"] == url
    email = render_email(message.kind, message.context, language="nl", time_zone="UTC")
    assert "7,50 EUR" in email.text
    assert url in email.text
    assert "Smith & Sons" in email.text
    english = render_email(message.kind, message.context, language="en", time_zone="UTC")
    assert "Total: 7.50 EUR." in english.text
    assert "2026-03-01" in english.subject


# --- Two workers at once (PostgreSQL) ------------------------------------------------------------


def run_together(*actions):
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def runner(index, action):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_job_at_once_issue_each_statement_once():
    ensure_default_schedule()
    shops = []
    for _ in range(12):
        shop = MerchantFactory()
        MembershipFactory(merchant=shop)
        escalate(shop)
        shops.append(shop)
    place_orders(shops[0], 99, at=IN_MARCH)
    escalate(shops[0])  # 2 cases / 101 orders: surcharged

    def job():
        return services.statements_issue_month(now=ON_TIME, batch_size=5)

    results = run_together(job, job)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.issued for r in results) == 12
    assert Statement.objects.count() == 12
    assert Statement.objects.filter(status="issued").count() == 12
    assert StatementLine.objects.filter(kind="standard").count() == 13
    assert StatementLine.objects.filter(kind="surcharge").count() == 2
    assert Statement.objects.get(merchant=shops[0]).total == Decimal("75.00")
    assert OutboxMessage.objects.filter(kind="merchant_monthly_statement").count() == 12
