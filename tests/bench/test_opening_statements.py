"""The benchmark's case-opening and statement figures on a small factory dataset: they open the
cases they say they opened, and the statements' queries per batch do not grow with merchants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django import forms
from django.db import transaction
from django.test.html import parse_html
from django.utils import timezone

from bench import opening
from bench.opening import build_pdf, case_opening_figures
from bench.statements import statement_figures
from billing import services as billing
from billing.models import Statement
from disputes.choices import PaymentState, Reason
from disputes.forms import FindOrderForm
from disputes.models import Attachment, Dispute, Merchant
from disputes.uploads import PDF_EOF, sniff_content_type
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory, open_dispute

IN_MARCH = datetime(2026, 3, 10, 9, tzinfo=UTC)
ON_TIME = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


# --- Case opening --------------------------------------------------------------------------------


def test_the_document_is_a_complete_pdf_of_about_one_megabyte():
    pdf = build_pdf()
    assert sniff_content_type(pdf[:16]) == "application/pdf"
    assert PDF_EOF in pdf[-1024:]
    assert abs(len(pdf) - 1024 * 1024) < 50 * 1024


def test_eligible_orders_are_recent_without_a_case_and_not_settled():
    now = timezone.now()
    shop = MerchantFactory()
    fresh = OrderFactory(merchant=shop, placed_at=now - timedelta(days=2))
    protected = OrderFactory(merchant=shop, placed_at=now - timedelta(days=2), protected=True)
    OrderFactory(merchant=shop, placed_at=now - timedelta(days=45))  # too old for the bench
    OrderFactory(merchant=shop, placed_at=now, payment_state=PaymentState.REFUNDED)
    open_dispute(order=OrderFactory(merchant=shop, placed_at=now - timedelta(days=1)))
    [found] = opening.eligible_orders(2, variants=1, now=now)
    assert [(c.order_id, c.protected) for c in found] == [(protected.pk, True), (fresh.pk, False)]
    with pytest.raises(RuntimeError, match="eligible orders"):
        opening.eligible_orders(2, variants=2, now=now)


def test_the_opening_figures_open_the_cases_they_count(settings):
    now = timezone.now()
    shop = MerchantFactory()
    MembershipFactory(merchant=shop)
    for days in range(8):
        placed = now - timedelta(days=days + 1)
        OrderFactory(merchant=shop, placed_at=placed)
        OrderFactory(merchant=shop, placed_at=placed, protected=True)
    cases_before = Dispute.objects.count()

    plain, with_pdf = case_opening_figures(submissions=3)

    opened = Dispute.objects.count() - cases_before
    counted = sum(
        f.details["submissions"] + f.details["warm_up_submissions"] for f in (plain, with_pdf)
    )
    assert opened == counted == 10
    for figure in (plain, with_pdf):
        assert figure.met is True
        assert figure.details["failures"] == 0
        assert figure.details["submissions"] == figure.details["cases_created"] == 3
        assert figure.value > 0
        assert figure.details["median_ms"] <= figure.details["p99_ms"]
    # Both programs, and the PDF stored once per counted submission (then removed).
    assert sum(plain.details["by_program"].values()) == 3
    assert all(f.details["by_program"]["buyer_protection"] for f in (plain, with_pdf))
    assert plain.details["attachments_created"] == 0
    assert with_pdf.details["attachments_created"] == 3
    assert with_pdf.details["stored_bytes"] == 3 * with_pdf.details["document_bytes"]
    pdfs = Attachment.objects.filter(size=with_pdf.details["document_bytes"])
    assert pdfs.count() == 3 + opening.WARM_UP


@pytest.mark.parametrize(
    "form_kwargs",
    [
        {},
        {"initial": {"shop": "tom"}},
        {"data": {"shop": "tom", "order_number": "1", "email": "a@mail.example"}},
        {"data": {"shop": "nope", "order_number": "", "email": "x"}},
    ],
)
def test_the_shop_list_is_the_html_djangos_select_makes(form_kwargs):
    # The find-order page's list of shops is built in Python (a thousand shops made the page
    # ~200 ms through the widget templates); it must say exactly what Django's Select says.
    MerchantFactory(name='Tom & "Jerry" <Shop>', slug="tom")
    MerchantFactory(name="Other", slug="other")
    form = FindOrderForm(**form_kwargs)
    form.is_valid()
    fast = str(form["shop"])
    form.fields["shop"].widget = forms.Select(choices=form.fields["shop"].choices)
    assert parse_html(fast) == parse_html(str(form["shop"]))
    assert "&lt;Shop&gt;" in fast


def test_too_few_eligible_orders_is_said_before_anything_is_opened():
    OrderFactory(placed_at=timezone.now() - timedelta(days=1))
    with pytest.raises(RuntimeError, match="eligible orders"):
        case_opening_figures(submissions=3)
    assert not Dispute.objects.exists()


# --- Monthly statements --------------------------------------------------------------------------


def _shops(count: int) -> list[Merchant]:
    """Merchants with an owner, two escalated cases in March and, for some, a surcharge."""
    made = []
    for index in range(count):
        shop = MerchantFactory()
        MembershipFactory(merchant=shop)
        with time_machine.travel(IN_MARCH, tick=False):
            for _ in range(1 + index % 2):
                open_dispute(merchant=shop, reason=Reason.UNAUTHORIZED, now=IN_MARCH)
        made.append(shop)
    return made


def _queries_figure(merchants: int, batch_size: int):
    """The queries-per-batch figure on a fresh set of merchants, then rolled back."""
    with transaction.atomic():
        _shops(merchants)
        figures = statement_figures(now=ON_TIME, batch_size=batch_size)
        transaction.set_rollback(True)
    return figures


def test_the_statement_figures_issue_every_statement_once_and_time_the_repeat():
    total, per_batch, again = _queries_figure(3, 2)
    assert total.details["merchants"] == 3
    assert total.details["batches"] == 2
    assert total.details["statements_issued"] == 3
    assert total.details["outbox_rows_queued"] == 3  # one email per owner
    assert total.details["largest_statement_pdf_bytes"] > 0
    assert per_batch.details["merchants_per_batch"] == [2, 1]
    assert again.details["statements_issued"] == 0
    assert again.details["already_issued"] == 3
    assert again.details["outbox_rows_queued"] == 0
    assert not Statement.objects.exists()  # rolled back by the helper


def test_queries_per_batch_are_the_same_for_3_merchants_in_batches_of_1_and_for_6_at_once():
    _, few, _ = _queries_figure(3, 1)
    _, many, _ = _queries_figure(6, 6)
    assert few.details["per_batch"] == [few.value] * 3
    assert many.details["per_batch"] == [many.value]
    assert few.value == many.value
    assert few.met is True
    assert many.met is True
    # The repeated run writes nothing, in a fixed number of queries too.
    assert len(set(few.details["repeat_run_per_batch"] + many.details["repeat_run_per_batch"])) == 1


def test_a_query_per_merchant_is_caught(monkeypatch):
    compute_months = billing._merchant_months

    def months_with_a_query_each(merchants, period):
        for merchant in merchants:
            Merchant.objects.filter(pk=merchant.pk).exists()
        return compute_months(merchants, period)

    monkeypatch.setattr(billing, "_merchant_months", months_with_a_query_each)
    _, few, _ = _queries_figure(3, 1)
    _, uneven, _ = _queries_figure(3, 2)
    assert uneven.details["per_batch"] == [few.value + 1, few.value]
    assert uneven.met is False
