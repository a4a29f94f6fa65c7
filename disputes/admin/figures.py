"""The support desk's figures page (docs/rules.md §7 and §10): a thin admin view over
`disputes.reports` and `disputes.evidence`.

The Dispute admin adds `figures_urls()` to its `get_urls()` (before the catch-all object URLs)
and links to `admin:disputes_staff_figures` with `FIGURES_LINK_TEXT`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from ..choices import Program, Reason
from ..evidence import evidence_outcomes
from ..policies import ELEVATED_RATE_THRESHOLD
from ..reports import (
    ComplaintsMonth,
    RefundCause,
    complaints_per_million,
    escalation_rate,
    merchants_above_threshold,
    month_bounds,
    refund_causes_per_million,
    time_to_decision,
)
from ..views.charts import AXIS, HEIGHT, PALETTE, WIDTH, month_abbreviation

FIGURES_URL_NAME = "disputes_staff_figures"
FIGURES_LINK_TEXT = _("Complaint figures")
FIGURES_PERMISSION = "disputes.view_dispute"
TEMPLATE = "admin/disputes/staff_figures.html"


def complaints_chart(months: list[ComplaintsMonth]) -> dict[str, Any]:
    """Bars of complaints per million orders, one per month in the given order, scaled to the
    highest month. A month without orders has no bar (no figure, not zero)."""
    figures = [m.per_million for m in months if m.per_million is not None]
    highest = max(figures, default=Decimal(0)) or Decimal(1)
    slot = WIDTH / max(len(months), 1)
    plot_height = HEIGHT - AXIS
    bars = []
    for index, month in enumerate(months):
        height = 0.0
        if month.per_million is not None:
            height = float(plot_height * month.per_million / highest)
        bars.append(
            {
                "x": round(index * slot + slot * 0.15, 1),
                "y": round(plot_height - height, 1),
                "width": round(slot * 0.7, 1),
                "height": round(height, 1),
                "centre": round(index * slot + slot / 2, 1),
                "month": formats.date_format(month.month, "YEAR_MONTH_FORMAT"),
                "short": month_abbreviation(month.month),
                "per_million": month.per_million,
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "axis_y": plot_height + 18,
        "colour": PALETTE[0],
        "bars": bars,
        "highest": highest if figures else None,
    }


def _merchant_periods(now: datetime) -> list[dict[str, Any]]:
    periods = []
    for months_back, title in ((0, _("This month so far")), (1, _("Previous month"))):
        start, end = month_bounds(now, months_back)
        periods.append(
            {
                "title": title,
                "month": start.date(),
                "rows": merchants_above_threshold(start=start, end=end, now=now),
            }
        )
    return periods


@staff_member_required
def staff_figures_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(FIGURES_PERMISSION):
        raise PermissionDenied
    now = timezone.now()
    complaints = complaints_per_million(now=now)
    programs = list(Program.values)
    context = {
        **admin.site.each_context(request),
        "title": _("Complaint figures"),
        "now": now,
        "complaints": complaints,
        "complaint_rows": [
            {"all": month, "programs": [complaints.by_program[p][i] for p in programs]}
            for i, month in enumerate(complaints.months)
        ],
        "program_labels": [Program(p).label for p in programs],
        "reason_labels": [Reason(r).label for r in Reason.values],
        "chart": complaints_chart(list(reversed(complaints.months))),
        "refund_causes": refund_causes_per_million(now=now),
        "refund_cause_labels": [RefundCause(c).label for c in RefundCause.values],
        "escalations": escalation_rate(now=now),
        "decision_times": time_to_decision(now=now),
        "merchant_periods": _merchant_periods(now),
        "threshold_percent": ELEVATED_RATE_THRESHOLD * 100,
        "evidence_outcomes": evidence_outcomes(),
    }
    return TemplateResponse(request, TEMPLATE, context)


def figures_urls() -> list[URLPattern]:
    """For the Dispute admin's `get_urls()`: /admin/disputes/dispute/figures/."""
    return [path("figures/", admin.site.admin_view(staff_figures_view), name=FIGURES_URL_NAME)]
