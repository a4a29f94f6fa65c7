"""A statement as the merchant reads it: lines described in their language, CSV and PDF."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import formats
from django.utils.translation import gettext as _

from disputes.links import absolute_url_builder
from disputes.policies import minor_units

from .models import LineKindChoices, Statement, WaiverChoices
from .policies import LineKind

if TYPE_CHECKING:
    from reportlab.platypus import TableStyle


@dataclass(frozen=True)
class StatementRow:
    kind: str
    label: str
    detail: str
    case_id: str
    amount: Decimal
    waived_amount: Decimal


def month_label(statement: Statement) -> str:
    return formats.date_format(statement.period_start, "YEAR_MONTH_FORMAT")


def statement_rows(statement: Statement) -> list[StatementRow]:
    """Each line with its label and why it is there (call with the reader's language active)."""
    rows = []
    for line in statement.lines.all():
        detail = ""
        if line.kind in (LineKind.WAIVED, LineKind.CREDIT) and line.waiver:
            detail = str(WaiverChoices(line.waiver).label)
        if line.kind in (LineKind.CREDIT, LineKind.DEBIT) and line.corrects is not None:
            month = month_label(line.corrects.statement)
            if line.kind == LineKind.CREDIT:
                detail = _("Billed in %(month)s; %(reason)s") % {
                    "month": month,
                    "reason": detail or _("no longer due"),
                }
            else:
                detail = _("Waived in %(month)s; the waiver no longer applies") % {"month": month}
        rows.append(
            StatementRow(
                kind=line.kind,
                label=str(LineKindChoices(line.kind).label),
                detail=detail,
                case_id=line.dispute.public_id if line.dispute else "",
                amount=line.amount,
                waived_amount=line.waived_amount,
            )
        )
    return rows


def money(amount: Decimal, currency: str) -> str:
    shown = formats.number_format(amount, minor_units(currency), use_l10n=True, force_grouping=True)
    return f"{shown} {currency}"


def csv_safe(value: object) -> object:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


CSV_HEADER = [
    "statement",
    "merchant",
    "period_start",
    "period_end",
    "currency",
    "line",
    "case_id",
    "case_url",
    "description",
    "detail",
    "amount",
    "amount_waived",
]


def statement_csv(statement: Statement, rows: list[StatementRow]) -> str:
    """A month's lines are few (one or two per escalated case): built in memory."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    period = statement.period
    common = [
        statement.pk,
        statement.merchant.name,
        period.first_day.isoformat(),
        period.last_day.isoformat(),
        statement.currency,
    ]
    case_url_of = absolute_url_builder("portal:case", "public_id")  # resolved once, not per line
    for row in rows:
        case_url = case_url_of(row.case_id) if row.case_id else ""
        # Amounts stay plain numbers (a minus sign is a credit, not a formula).
        writer.writerow(
            [csv_safe(value) for value in common]
            + [row.kind, row.case_id, case_url, csv_safe(row.label), csv_safe(row.detail)]
            + [f"{row.amount}", f"{row.waived_amount}"]
        )
    writer.writerow(
        [csv_safe(value) for value in common] + ["total", "", "", _("Total"), "", statement.total]
    )
    return buffer.getvalue()


def statement_pdf(statement: Statement, rows: list[StatementRow]) -> bytes:
    """The same lines and total as the page, on A4 (call with the reader's language active)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.flowables import Flowable

    def text(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    styles = getSampleStyleSheet()
    currency = statement.currency
    period = statement.period
    buffer = io.BytesIO()
    title = _("Fee statement %(month)s") % {"month": month_label(statement)}
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author=_("Dispute portal"),
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    )
    story: list[Flowable] = [
        Paragraph(text(title), styles["Title"]),
        Paragraph(text(statement.merchant.name), styles["Heading2"]),
        Paragraph(
            text(
                _("Period: %(start)s to %(end)s (calendar month in UTC). Currency: %(currency)s.")
                % {
                    "start": formats.date_format(period.first_day, "DATE_FORMAT"),
                    "end": formats.date_format(period.last_day, "DATE_FORMAT"),
                    "currency": currency,
                }
            ),
            styles["Normal"],
        ),
        Paragraph(
            text(
                _("%(disputes)s cases opened for %(orders)s orders.")
                % {"disputes": statement.disputes_opened, "orders": statement.orders_placed}
            ),
            styles["Normal"],
        ),
        Spacer(1, 6 * mm),
    ]
    small = styles["BodyText"]
    data: list[list[object]] = [[_("Line"), _("Case"), _("Details"), _("Amount")]]
    for row in rows:
        detail = row.detail
        if row.kind == LineKind.WAIVED:
            detail = f"{detail} ({_('waived')}: {money(row.waived_amount, currency)})"
        data.append(
            [
                Paragraph(text(row.label), small),
                row.case_id,
                Paragraph(text(detail), small),
                money(row.amount, currency),
            ]
        )
    data.append(
        ["", "", Paragraph(f"<b>{text(_('Total'))}</b>", small), money(statement.total, currency)]
    )
    widths = [45 * mm, 38 * mm, 60 * mm, 31 * mm]
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
            ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.black),
            ("FONTNAME", (3, -1), (3, -1), "Helvetica-Bold"),
            ("ALIGN", (3, 0), (3, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONTSIZE", (0, 0), (-1, -1), 9),
        ]
    )
    heights = _row_heights(data, widths, style)
    story.append(Table(data, colWidths=widths, rowHeights=heights, repeatRows=1, style=style))
    document.build(story)
    return buffer.getvalue()


# Rows measured at a time. A reportlab table measures its rows in time quadratic in their
# number, and again on each page it is split over: 10 000 lines took 15 s, now 5 s.
_MEASURED_ROWS = 100


def _row_heights(data: list[list[object]], widths: list[float], style: TableStyle) -> list[float]:
    """Each row's height, as the whole table would measure it, measured a slice at a time.
    With the heights given, the table lays out and splits in time linear in its rows."""
    from reportlab.platypus import Table

    heights: list[float] = []
    for start in range(0, len(data), _MEASURED_ROWS):
        part = Table(data[start : start + _MEASURED_ROWS], colWidths=widths, style=style)
        part.wrap(sum(widths), float("inf"))
        heights.extend(part._rowHeights)
    return heights
