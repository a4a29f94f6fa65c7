"""The statement PDF: a month of many cases is laid out as one long table would lay it out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from reportlab import rl_config

from billing import documents
from billing.documents import StatementRow, statement_pdf
from billing.models import Statement
from disputes.models import Merchant


def _statement_with_rows(count: int) -> tuple[Statement, list[StatementRow]]:
    statement = Statement(
        merchant=Merchant(name="Demo Shop"),
        currency="EUR",
        period_start=date(2026, 3, 1),
        disputes_opened=count,
        orders_placed=10 * count,
        total=Decimal("7.50") * count,
    )
    rows = [
        StatementRow(
            kind="standard" if n % 7 else "credit",
            label="Dispute fee" if n % 7 else "Credit for an earlier month",
            # Some details wrap over two or three lines: rows of different heights.
            detail="" if n % 3 else "Billed in February 2026; the case was decided " * (n % 4),
            case_id=f"DSP-{n:06d}",
            amount=Decimal("7.50") if n % 7 else Decimal("-7.50"),
            waived_amount=Decimal("0.00"),
        )
        for n in range(count)
    ]
    return statement, rows


def test_a_long_statement_is_the_same_pdf_as_one_table_measuring_all_its_rows(monkeypatch):
    # More rows than one measured slice, over several pages (the header repeats on each).
    monkeypatch.setattr(rl_config, "invariant", 1)  # no creation date or random id
    statement, rows = _statement_with_rows(3 * documents._MEASURED_ROWS + 17)
    sliced = statement_pdf(statement, rows)
    monkeypatch.setattr(documents, "_row_heights", lambda *args: None)  # reportlab measures
    assert sliced == statement_pdf(statement, rows)
    assert sliced.startswith(b"%PDF")
