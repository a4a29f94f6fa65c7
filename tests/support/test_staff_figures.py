"""The support desk's figures (docs/rules.md §10): complaints per million orders, refund causes,
escalations, time to a decision, merchants above the elevated rate, and the admin page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from disputes import reports, services
from disputes.choices import Program, Reason, State
from disputes.models import Dispute, Merchant
from disputes.reports import (
    RefundCause,
    complaints_per_million,
    escalation_rate,
    merchants_above_threshold,
    month_bounds,
    refund_causes_per_million,
    time_to_decision,
)
from tests.factories import (
    MerchantFactory,
    OrderFactory,
    UserFactory,
    customer_actor,
    decision_marks,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
MARCH, FEBRUARY, JANUARY, DECEMBER = (
    date(2026, 3, 1),
    date(2026, 2, 1),
    date(2026, 1, 1),
    date(2025, 12, 1),
)


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def decide(dispute: Dispute, when: datetime) -> Dispute:
    return services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        outcome="customer",
        reason="The merchant did not show delivery.",
        now=when,
    )


def by_month(rows):
    return {row.month: row for row in rows}


# --- Complaints per million ----------------------------------------------------------------------


def test_complaints_per_million_count_each_month_by_reason_and_program():
    merchant = MerchantFactory()
    january_orders = OrderFactory.create_batch(6, merchant=merchant, placed_at=at(1, 5))
    OrderFactory(merchant=merchant, placed_at=at(1, 31, 23, 30))  # 1 February in Amsterdam
    protected = OrderFactory(merchant=merchant, placed_at=at(1, 5), protected=True)
    open_dispute(order=january_orders[0], reason=Reason.NOT_RECEIVED, now=at(1, 6))
    open_dispute(
        order=protected,
        program=Program.BUYER_PROTECTION,
        reason=Reason.NO_REFUND_AFTER_RETURN,
        now=at(1, 7),
    )
    february_orders = [
        OrderFactory(merchant=merchant, placed_at=at(2, 1, 0, 0)),
        *OrderFactory.create_batch(4, merchant=merchant, placed_at=at(2, 10)),
    ]
    open_dispute(order=february_orders[1], reason=Reason.WRONG_AMOUNT, now=at(2, 12))

    figures = complaints_per_million(now=NOW)

    assert len(figures.months) == 12
    assert [m.month for m in figures.months[:4]] == [MARCH, FEBRUARY, JANUARY, DECEMBER]
    assert figures.months[-1].month == date(2025, 4, 1)
    months = by_month(figures.months)
    january, february = months[JANUARY], months[FEBRUARY]
    assert (january.orders_placed, january.disputes_opened) == (8, 2)
    assert january.per_million == Decimal(250_000)
    assert january.by_reason[Reason.NOT_RECEIVED] == Decimal(125_000)
    assert january.by_reason[Reason.NO_REFUND_AFTER_RETURN] == Decimal(125_000)
    assert january.by_reason[Reason.FAULTY] == 0
    assert list(january.by_reason) == list(Reason.values)
    assert january.disputes_by_reason[Reason.NOT_RECEIVED] == 1
    assert (february.orders_placed, february.disputes_opened) == (5, 1)
    assert february.per_million == Decimal(200_000)
    assert february.by_reason[Reason.WRONG_AMOUNT] == Decimal(200_000)

    payment = by_month(figures.by_program[Program.PAYMENT_DISPUTE])
    protection = by_month(figures.by_program[Program.BUYER_PROTECTION])
    assert payment[JANUARY].per_million == Decimal(125_000)  # still per million of all orders
    assert protection[JANUARY].per_million == Decimal(125_000)
    assert payment[FEBRUARY].per_million == Decimal(200_000)
    assert protection[FEBRUARY].per_million == 0
    assert protection[FEBRUARY].orders_placed == 5
    assert list(protection[JANUARY].by_reason) == [
        Reason.NOT_RECEIVED,
        Reason.NO_REFUND_AFTER_RETURN,
        Reason.NO_REFUND_AFTER_CANCELLATION,
        Reason.OTHER_REQUEST,
    ]
    assert protection[JANUARY].by_reason[Reason.NO_REFUND_AFTER_RETURN] == Decimal(125_000)


def test_a_month_without_orders_has_no_figure_rather_than_an_error():
    february_order = OrderFactory(placed_at=at(2, 10))
    open_dispute(order=february_order, reason=Reason.RETURNED_NOT_REFUNDED, now=at(3, 2))

    months = by_month(complaints_per_million(now=NOW).months)
    causes = by_month(refund_causes_per_million(now=NOW))

    march, december = months[MARCH], months[DECEMBER]
    assert (march.orders_placed, march.disputes_opened, march.per_million) == (0, 1, None)
    assert march.by_reason[Reason.RETURNED_NOT_REFUNDED] is None
    assert march.disputes_by_reason[Reason.RETURNED_NOT_REFUNDED] == 1
    assert (december.orders_placed, december.disputes_opened, december.per_million) == (0, 0, None)
    assert set(december.by_reason.values()) == {None}
    assert causes[MARCH].per_million[RefundCause.RETURNED_NOT_REFUNDED] is None
    assert causes[MARCH].disputes[RefundCause.RETURNED_NOT_REFUNDED] == 1
    assert months[FEBRUARY].per_million == 0
    assert by_month(escalation_rate(now=NOW))[DECEMBER].share is None
    assert by_month(time_to_decision(now=NOW))[DECEMBER].median_hours is None


def test_the_three_refund_causes_per_million_orders():
    merchant = MerchantFactory()
    orders = OrderFactory.create_batch(8, merchant=merchant, placed_at=at(1, 5))
    protected = OrderFactory.create_batch(2, merchant=merchant, placed_at=at(1, 5), protected=True)
    open_dispute(order=orders[0], reason=Reason.RETURNED_NOT_REFUNDED, now=at(1, 8))
    open_dispute(
        order=protected[0],
        program=Program.BUYER_PROTECTION,
        reason=Reason.NO_REFUND_AFTER_RETURN,
        now=at(1, 8),
    )
    open_dispute(
        order=protected[1],
        program=Program.BUYER_PROTECTION,
        reason=Reason.NOT_RECEIVED,
        now=at(1, 8),
    )
    open_dispute(order=orders[1], reason=Reason.WRONG_AMOUNT, now=at(1, 9))
    open_dispute(order=orders[2], reason=Reason.FAULTY, now=at(1, 9))  # not a refund cause

    january = by_month(refund_causes_per_million(now=NOW))[JANUARY]

    assert january.orders_placed == 10
    assert january.disputes == {
        RefundCause.RETURNED_NOT_REFUNDED: 2,
        RefundCause.PAID_NOT_RECEIVED: 1,
        RefundCause.WRONG_AMOUNT: 1,
    }
    assert january.per_million == {
        RefundCause.RETURNED_NOT_REFUNDED: Decimal(200_000),
        RefundCause.PAID_NOT_RECEIVED: Decimal(100_000),
        RefundCause.WRONG_AMOUNT: Decimal(100_000),
    }


# --- Escalations and time to a decision ----------------------------------------------------------


def test_escalation_share_counts_the_cases_opened_each_month():
    open_dispute(reason=Reason.UNAUTHORIZED, now=at(1, 5))  # straight to support
    early = open_dispute(now=at(1, 5))
    open_dispute(now=at(1, 20))
    open_dispute(now=at(1, 20))
    open_dispute(now=at(2, 3))
    # The 21-day window of the 5 January cases has closed on 1 February; not the later ones.
    assert services.dispute_escalate_overdue(now=at(2, 1)) == 1
    early.refresh_from_db()
    assert early.escalated_at == at(2, 1)

    months = by_month(escalation_rate(now=NOW))

    january, february, march = months[JANUARY], months[FEBRUARY], months[MARCH]
    assert (january.disputes_opened, january.escalated, january.share) == (4, 2, Decimal("0.5"))
    assert january.percent == 50
    assert (february.disputes_opened, february.escalated, february.share) == (1, 0, 0)
    assert (march.disputes_opened, march.escalated, march.share) == (0, 0, None)
    assert march.percent is None


def test_time_to_decision_gives_median_and_average_hours_by_month_of_decision():
    january_cases = [open_dispute(now=at(1, 2)) for _ in range(4)]
    assert services.dispute_escalate_overdue(now=at(1, 24, 9)) == 4
    for dispute, hours in zip(january_cases, (1, 2, 4, 10), strict=True):
        decide(dispute, at(1, 24, 9) + timedelta(hours=hours))
    for hours in (24, 48, 96):
        decide(
            open_dispute(reason=Reason.UNAUTHORIZED, now=at(2, 1)),
            at(2, 1) + timedelta(hours=hours),
        )
    # Escalated in February, decided in March: it counts for March.
    decide(open_dispute(reason=Reason.UNAUTHORIZED, now=at(2, 27)), at(3, 2))
    # Closed without a decision: not a decision time.
    withdrawn = open_dispute(reason=Reason.UNAUTHORIZED, now=at(2, 2))
    services.dispute_withdraw(dispute=withdrawn, actor=customer_actor(withdrawn), now=at(2, 4))

    months = by_month(time_to_decision(now=NOW))

    january, february, march = months[JANUARY], months[FEBRUARY], months[MARCH]
    assert (january.decided, january.median_hours, january.average_hours) == (4, 3.0, 4.25)
    assert (february.decided, february.median_hours, february.average_hours) == (3, 48.0, 56.0)
    assert (march.decided, march.median_hours, march.average_hours) == (1, 72.0, 72.0)
    assert (months[DECEMBER].decided, months[DECEMBER].average_hours) == (0, None)
    assert Dispute.objects.filter(state=State.WITHDRAWN, escalated_at__isnull=False).exists()


# --- Merchants above the elevated rate -----------------------------------------------------------


def merchant_with(orders: int, disputes: int, *, name: str, placed_at: datetime) -> Merchant:
    merchant = MerchantFactory(name=name)
    placed = OrderFactory.create_batch(orders, merchant=merchant, placed_at=placed_at)
    for order in placed[:disputes]:
        open_dispute(order=order, now=placed_at + timedelta(days=1))
    return merchant


def test_merchants_strictly_above_one_and_a_half_percent_are_listed_highest_first():
    february = at(2, 3)
    two_percent = merchant_with(100, 2, name="Two percent", placed_at=february)
    merchant_with(200, 3, name="Exactly 1.5 percent", placed_at=february)
    also_two_percent = merchant_with(50, 1, name="Also two percent", placed_at=february)
    ten_percent = merchant_with(10, 1, name="Ten percent", placed_at=february)
    merchant_with(100, 1, name="One percent", placed_at=february)
    # Cases opened in February on January orders, and no February orders: no rate at all.
    merchant_with(3, 3, name="No orders in February", placed_at=at(1, 30))
    start, end = month_bounds(NOW, 1)
    assert (start, end) == (at(2, 1, 0), at(3, 1, 0))

    rows = merchants_above_threshold(start=start, end=end, now=NOW)

    assert [row.merchant_id for row in rows] == [
        ten_percent.pk,
        two_percent.pk,
        also_two_percent.pk,
    ]
    assert [(r.disputes_opened, r.orders_placed, r.rate) for r in rows] == [
        (1, 10, Decimal("0.1")),
        (2, 100, Decimal("0.02")),
        (1, 50, Decimal("0.02")),
    ]
    assert rows[0].name == "Ten percent"
    assert rows[0].percent == 10


def test_merchants_above_threshold_are_limited_and_counted_per_period(monkeypatch):
    merchant_with(10, 1, name="A", placed_at=at(2, 3))
    merchant_with(10, 2, name="B", placed_at=at(2, 3))
    merchant_with(10, 3, name="C", placed_at=at(2, 3))
    monkeypatch.setattr(reports, "MERCHANT_ROWS_LIMIT", 2)

    february = merchants_above_threshold(start=at(2, 1, 0), end=at(3, 1, 0), now=NOW)
    march = merchants_above_threshold(start=at(3, 1, 0), end=at(4, 1, 0), now=NOW)

    assert [row.name for row in february] == ["C", "B"]
    assert march == []


# --- Query counts --------------------------------------------------------------------------------


def add_month_of_cases(month: int, merchant: Merchant) -> None:
    orders = OrderFactory.create_batch(4, merchant=merchant, placed_at=at(month, 2))
    for order, reason in zip(
        orders,
        (Reason.NOT_RECEIVED, Reason.WRONG_AMOUNT, Reason.RETURNED_NOT_REFUNDED),
        strict=False,
    ):
        open_dispute(order=order, reason=reason, now=at(month, 3))
    decide(open_dispute(reason=Reason.UNAUTHORIZED, now=at(month, 4)), at(month, 5))


def queries_per_figure() -> list[int]:
    start, end = month_bounds(NOW, 1)
    counts = []
    for read in (
        lambda: complaints_per_million(now=NOW),
        lambda: refund_causes_per_million(now=NOW),
        lambda: escalation_rate(now=NOW),
        lambda: time_to_decision(now=NOW),
        lambda: merchants_above_threshold(start=start, end=end, now=NOW),
    ):
        with CaptureQueriesContext(connection) as captured:
            read()
        counts.append(len(captured))
    return counts


def test_each_figure_costs_the_same_queries_however_much_data():
    add_month_of_cases(2, MerchantFactory())
    few = queries_per_figure()

    for month in (1, 2, 3):
        for _ in range(3):
            add_month_of_cases(month, MerchantFactory())
    services.dispute_escalate_overdue(now=NOW)

    assert queries_per_figure() == few == [2, 2, 1, 1, 3]


# --- The admin page ------------------------------------------------------------------------------

# The real page, as the case list links it: the Dispute admin adds it to its URLs.
URL = "/admin/disputes/dispute/figures/"


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def test_a_superuser_sees_the_figures(client, django_user_model, frozen_now):
    merchant_with(10, 2, name="Busy Shop", placed_at=at(3, 2))
    merchant_with(100, 1, name="Calm Shop", placed_at=at(3, 2))
    client.force_login(
        django_user_model.objects.create_superuser(
            username="root@desk.example", email="root@desk.example", password="x"
        )
    )

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Complaints per million orders" in page
    assert "<svg" in page
    assert "Returned but not refunded" in page
    assert "Busy Shop" in page
    assert "Calm Shop" not in page
    assert "20.00 %" in page  # Busy Shop: 2 cases for 10 orders this month
    # 3 cases for 110 orders in March; the tables list the newest month first.
    assert '<td class="number">27,272.7</td>' in page  # grouped for people, in the reader's format
    assert page.index("<td>March 2026</td>") < page.index("<td>April 2025</td>")


def test_support_staff_with_the_view_permission_see_the_figures(client, frozen_now):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name="read only"))
    client.force_login(user)

    assert client.get(URL).status_code == 200


def test_staff_without_the_view_permission_are_refused(client):
    client.force_login(UserFactory(is_staff=True))

    assert client.get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_page_costs_the_same_queries_however_much_data(client, django_user_model, frozen_now):
    client.force_login(
        django_user_model.objects.create_superuser(
            username="root@desk.example", email="root@desk.example", password="x"
        )
    )
    add_month_of_cases(3, MerchantFactory())
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for month in (1, 2, 3):
        add_month_of_cases(month, MerchantFactory())
        merchant_with(10, 3, name=f"Busy {month}", placed_at=at(month, 2))
    with CaptureQueriesContext(connection) as many:
        response = client.get(URL)

    assert response.status_code == 200
    assert len(many) == len(few)
