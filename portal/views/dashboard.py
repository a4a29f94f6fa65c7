"""The dashboard: open cases, what is due soon, the month's dispute rate and fees, reasons."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.views.generic import TemplateView

from billing import selectors as billing_selectors
from disputes import selectors
from disputes.choices import OPEN_STATES, Reason, State
from disputes.evidence import evidence_outcomes
from disputes.views.charts import reasons_chart

from ..base import URGENT_HOURS, MerchantPortalMixin, time_left


class DashboardView(MerchantPortalMixin, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        merchant = self.merchant
        month = billing_selectors.current_month_for_merchant(merchant, now)
        due_soon = selectors.dashboard_due_soon(merchant, now, hours=URGENT_HOURS)
        context.update(
            open_counts=[
                (State(state).label, count)
                for state, count in sorted(selectors.dashboard_open_counts(merchant).items())
                if state in OPEN_STATES
            ],
            due_soon=[(d, time_left(d.due_at, now)) for d in due_soon],
            month=month,
            rate_percent=None if month.rate is None else month.rate * 100,
            previous_percent=None if month.previous_rate is None else month.previous_rate * 100,
            threshold_percent=month.rate_threshold * 100,
            fees=month.fees,
            chart=reasons_chart(selectors.dashboard_reasons_by_month(merchant, now), Reason),
            evidence_outcomes=evidence_outcomes(merchant),
        )
        return context
