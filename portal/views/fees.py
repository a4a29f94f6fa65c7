"""The merchant's fee pages: statements, one statement, its CSV and PDF. Scoped to the merchant:
another merchant's statement, or a draft, is a 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from billing import selectors
from billing.documents import month_label, statement_csv, statement_pdf, statement_rows
from billing.models import Statement

from ..base import MerchantPortalMixin


def _percent(share: object) -> object:
    return None if share is None else share * 100  # type: ignore[operator]


class StatementListView(MerchantPortalMixin, TemplateView):
    template_name = "portal/billing/statements.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        month = selectors.current_month_for_merchant(self.merchant, timezone.now())
        context.update(
            month=month,
            rate_percent=_percent(month.rate),
            forecast_percent=_percent(month.forecast),
            threshold_percent=_percent(month.rate_threshold),
            statements=list(selectors.statements_for_merchant(self.merchant)),
        )
        return context


class _StatementMixin(MerchantPortalMixin):
    def statement(self, statement_id: int) -> Statement:
        statement = selectors.statement_for_merchant(self.merchant, statement_id)
        if statement is None:
            raise Http404
        return statement


class StatementDetailView(_StatementMixin, View):
    def get(self, request: HttpRequest, statement_id: int) -> HttpResponse:
        statement = self.statement(statement_id)
        context = {
            **self.page_context,
            "statement": statement,
            "month_label": month_label(statement),
            "period": statement.period,
            "rows": statement_rows(statement),
            "rate_percent": _percent(statement.rate),
            "threshold_percent": _percent(statement.rate_threshold),
        }
        return render(request, "portal/billing/statement.html", context)


def _filename(statement: Statement, extension: str) -> str:
    return f"fees-{statement.period_start:%Y-%m}-{statement.currency}-{statement.pk}.{extension}"


class StatementCsvView(_StatementMixin, View):
    def get(self, request: HttpRequest, statement_id: int) -> HttpResponse:
        statement = self.statement(statement_id)
        response = HttpResponse(
            statement_csv(statement, statement_rows(statement)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "csv")}"'
        return response


class StatementPdfView(_StatementMixin, View):
    def get(self, request: HttpRequest, statement_id: int) -> HttpResponse:
        statement = self.statement(statement_id)
        response = HttpResponse(
            statement_pdf(statement, statement_rows(statement)), content_type="application/pdf"
        )
        response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "pdf")}"'
        return response
