"""The merchant's fee pages through HTTP, and the statements admin."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing import services
from billing.models import Statement, StatementStatus
from disputes.choices import MemberRole, Reason
from tests.billing.factories import issued_statement, place_orders
from tests.factories import MembershipFactory, MerchantFactory, open_dispute

pytestmark = pytest.mark.django_db

IN_MARCH = datetime(2026, 3, 10, 9, tzinfo=UTC)
ON_TIME = datetime(2026, 4, 1, 2, tzinfo=UTC)


@pytest.fixture
def membership():
    return MembershipFactory(merchant=MerchantFactory(name="Demo Shop"), role=MemberRole.AGENT)


@pytest.fixture
def merchant(membership):
    return membership.merchant


@pytest.fixture
def portal(client, membership):
    client.force_login(membership.user)
    return client


def escalate(merchant, at=IN_MARCH, **order_fields):
    with time_machine.travel(at, tick=False):
        return open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=at, **order_fields)


@pytest.fixture
def statement(merchant):
    place_orders(merchant, 98, at=IN_MARCH)
    cases = [escalate(merchant, customer_email="=cmd@mail.example") for _ in range(2)]
    with time_machine.travel(ON_TIME, tick=False):
        services.statements_issue_month(now=ON_TIME)
    statement = Statement.objects.get(merchant=merchant)
    statement.cases = cases
    return statement


def url(name, statement):
    return reverse(f"portal:{name}", args=[statement.pk])


@pytest.mark.parametrize(
    "name", ["fees-statements", "fees-statement", "fees-statement-csv", "fees-statement-pdf"]
)
def test_fee_pages_need_a_login(client, merchant, name):
    args = [] if name == "fees-statements" else [issued_statement(merchant).pk]
    response = client.get(reverse(f"portal:{name}", args=args))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_the_statements_page_lists_issued_statements_and_says_the_month_is_utc(portal, statement):
    page = portal.get(reverse("portal:fees-statements")).content.decode()
    assert url("fees-statement", statement) in page
    assert "March 2026" in page
    assert "€75.00" in page
    assert "calendar month in UTC" in page
    assert 'aria-current="page">Fees<' in page


def test_the_current_month_shows_its_running_total_the_live_rate_and_a_forecast(portal, merchant):
    now = datetime(2026, 11, 16, 12, tzinfo=UTC)
    for day in (2, 9):  # before the last 14 days: 20 orders
        place_orders(merchant, 10, at=datetime(2026, 11, day, tzinfo=UTC))
    place_orders(merchant, 98, at=now - timedelta(days=3))
    escalate(merchant, at=now - timedelta(days=1))
    escalate(merchant, at=now - timedelta(hours=2))
    with time_machine.travel(now, tick=False):
        response = portal.get(reverse("portal:fees-statements"))
    month = response.context["month"]
    assert month.fees == [("EUR", Decimal("15.00"))]
    assert (month.disputes_opened, month.orders_placed) == (2, 120)
    assert month.rate == Decimal(2) / Decimal(120)
    # Last 14 days: 2 cases, 110 orders; 14.5 days left: (2 + 2*14.5/14) / (120 + 110*14.5/14).
    factor = Decimal("14.5") / Decimal(14)
    assert month.forecast == (2 + 2 * factor) / (120 + 110 * factor)
    page = response.content.decode()
    assert "€15.00" in page
    assert "2 cases opened ÷ 120 orders placed." in page
    assert "At this pace the month ends at" in page
    assert "How we forecast" in page
    assert 'role="alert"' in page  # 1.67 % is above 1.5 % with 120 orders


def test_a_month_without_orders_shows_no_rate(portal):
    page = portal.get(reverse("portal:fees-statements")).content.decode()
    assert "No orders this month yet, so there is no rate." in page
    assert "Not enough orders yet for a forecast." in page


def test_the_statement_page_shows_each_line_linked_to_its_case_and_the_total(portal, statement):
    page = portal.get(url("fees-statement", statement)).content.decode()
    for case in statement.cases:
        assert reverse("portal:case", args=[case.public_id]) in page
    assert page.count("Elevated dispute-rate fee") == 2
    assert "€75.00" in page
    assert "1 March 2026 to 31 March 2026 (calendar month in UTC)" in page
    assert "2.00 %" in page
    assert 'class="table-wrap"' in page  # the table scrolls on its own on a 360 px screen


def test_money_follows_the_readers_language(portal, statement):
    portal.post(reverse("set_language"), {"language": "de"})
    page = portal.get(url("fees-statement", statement)).content.decode()
    assert "75,00\xa0€" in page


def test_the_csv_has_every_line_and_the_total(portal, statement):
    response = portal.get(url("fees-statement-csv", statement))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    lines = [row for row in rows if row["line"] != "total"]
    assert [row["line"] for row in lines] == ["standard", "surcharge", "standard", "surcharge"]
    assert sum(Decimal(row["amount"]) for row in lines) == Decimal("75.00")
    assert rows[-1]["amount"] == "75.00"
    assert {row["case_id"] for row in lines} == {case.public_id for case in statement.cases}
    assert lines[0]["case_url"].endswith(reverse("portal:case", args=[lines[0]["case_id"]]))


def test_csv_cells_cannot_start_a_formula(portal, merchant):
    merchant.name = "=HYPERLINK(1)"
    merchant.save()
    statement = issued_statement(merchant)
    rows = list(
        csv.reader(io.StringIO(portal.get(url("fees-statement-csv", statement)).content.decode()))
    )
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_the_pdf_is_a_pdf_with_the_same_total(portal, statement):
    response = portal.get(url("fees-statement-pdf", statement))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert len(response.content) > 1000


@pytest.mark.parametrize("name", ["fees-statement", "fees-statement-csv", "fees-statement-pdf"])
def test_another_merchants_statement_is_not_found(portal, name):
    foreign = issued_statement(MerchantFactory())
    assert portal.get(url(name, foreign)).status_code == 404


@pytest.mark.parametrize("name", ["fees-statement", "fees-statement-csv", "fees-statement-pdf"])
def test_a_draft_is_not_shown_to_the_merchant(portal, merchant, name):
    escalate(merchant)
    services.statements_issue_month(now=ON_TIME, issue=False)
    draft = Statement.objects.get(merchant=merchant)
    assert portal.get(url(name, draft)).status_code == 404
    assert draft not in portal.get(reverse("portal:fees-statements")).context["statements"]


# --- Admin ---------------------------------------------------------------------------------------


@pytest.fixture
def staff(client, django_user_model):
    admin = django_user_model.objects.create_superuser("admin@mail.example", "admin@mail.example")
    client.force_login(admin)
    return client


def test_an_issued_statement_cannot_be_changed_or_deleted_in_the_admin(staff, statement):
    change = reverse("admin:billing_statement_change", args=[statement.pk])
    page = staff.get(change)
    assert page.status_code == 200
    assert 'name="total"' not in page.content.decode()  # every field is read-only
    assert 'name="_save"' not in page.content.decode()
    assert staff.post(change, {"total": "0.00"}).status_code == 403
    assert Statement.objects.get(pk=statement.pk).total == Decimal("75.00")
    delete = reverse("admin:billing_statement_delete", args=[statement.pk])
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert Statement.objects.filter(pk=statement.pk).exists()
    assert staff.get(reverse("admin:billing_statement_add")).status_code == 403


def test_the_admin_recomputes_a_draft(staff, merchant):
    escalate(merchant)
    services.statements_issue_month(now=ON_TIME, issue=False)
    draft = Statement.objects.get(merchant=merchant)
    escalate(merchant, at=datetime(2026, 3, 31, 23, 0, tzinfo=UTC))
    response = staff.post(
        reverse("admin:billing_statement_changelist"),
        {"action": "recompute_drafts", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert "1 draft recomputed." in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.total, draft.lines.count()) == (
        StatementStatus.DRAFT,
        Decimal("15.00"),
        2,
    )
    staff.post(
        reverse("admin:billing_statement_changelist"),
        {"action": "issue_drafts", "_selected_action": [draft.pk]},
    )
    draft.refresh_from_db()
    assert draft.status == StatementStatus.ISSUED


def test_recompute_leaves_an_issued_statement_alone(staff, statement):
    response = staff.post(
        reverse("admin:billing_statement_changelist"),
        {"action": "recompute_drafts", "_selected_action": [statement.pk]},
        follow=True,
    )
    assert "1 statement is issued and was left unchanged." in response.content.decode()
    assert Statement.objects.get(pk=statement.pk).total == Decimal("75.00")


def test_the_fee_schedule_and_merchant_terms_are_editable_and_fee_lines_read_only(staff, merchant):
    for name in ("feeschedule", "merchantfeeterms"):
        assert staff.get(reverse(f"admin:billing_{name}_add")).status_code == 200
    assert staff.get(reverse("admin:billing_feeline_add")).status_code == 403
    response = staff.post(
        reverse("admin:billing_feeschedule_add"),
        {
            "plan": "standard",
            "currency": "eur",
            "valid_from": "2027-01-01",
            "standard_fee": "8.00",
            "elevated_fee": "30.00",
            "rate_threshold": "0.0150",
            "minimum_orders": "100",
        },
    )
    assert response.status_code == 302
    from billing.models import FeeSchedule

    assert FeeSchedule.objects.filter(currency="EUR", standard_fee=Decimal("8.00")).exists()
