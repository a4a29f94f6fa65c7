"""The merchant portal: dashboard, work queue, case page. Every read is scoped to the merchant."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from billing.policies import ELEVATED_RATE_THRESHOLD

from .. import selectors, services
from ..choices import OPEN_STATES, Party, Reason, State
from ..errors import DomainError
from ..forms import (
    AcceptDisputeForm,
    AppealForm,
    MerchantMessageForm,
    MerchantResponseForm,
    QueueFilterForm,
    ReturnReceivedForm,
)
from ..models import Dispute
from ..policies import appeal_open, deadline_for_display
from ..selectors import QueueFilters, QueueTab
from .charts import reasons_chart
from .portal_base import MerchantPortalMixin

URGENT_HOURS = 48


def _time_left(due_at: datetime | None, now: datetime) -> dict[str, Any] | None:
    if due_at is None:
        return None
    seconds = max(0, int((due_at - now).total_seconds()))
    days, hours = divmod(seconds // 3600, 24)
    return {"days": days, "hours": hours, "urgent": seconds < URGENT_HOURS * 3600}


class DashboardView(MerchantPortalMixin, TemplateView):
    template_name = "portal/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        now = timezone.now()
        merchant = self.merchant
        month = selectors.dashboard_month_rate(merchant, now)
        due_soon = selectors.dashboard_due_soon(merchant, now, hours=URGENT_HOURS)
        context.update(
            open_counts=[
                (State(state).label, count)
                for state, count in sorted(selectors.dashboard_open_counts(merchant).items())
                if state in OPEN_STATES
            ],
            due_soon=[(d, _time_left(d.due_at, now)) for d in due_soon],
            month=month,
            rate_percent=None if month.rate is None else month.rate * 100,
            threshold_percent=ELEVATED_RATE_THRESHOLD * 100,
            fees=selectors.dashboard_fees_this_month(merchant, now),
            chart=reasons_chart(selectors.dashboard_reasons_by_month(merchant, now), Reason),
        )
        return context


def _filters_from(form: QueueFilterForm) -> QueueFilters:
    if not form.is_valid():
        return QueueFilters()
    data = form.cleaned_data
    return QueueFilters(
        search=data["q"],
        program=data["program"],
        reason=data["reason"],
        state=data["state"],
        opened_from=data["opened_from"],
        opened_to=data["opened_to"],
    )


def _tab(request: HttpRequest) -> QueueTab:
    try:
        return QueueTab(request.GET.get("tab", QueueTab.NEEDS_RESPONSE))
    except ValueError:
        return QueueTab.NEEDS_RESPONSE


class QueueView(MerchantPortalMixin, TemplateView):
    template_name = "portal/queue.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        request = self.request
        form = QueueFilterForm(request.GET or None)
        filters = _filters_from(form)
        tab = _tab(request)
        page = selectors.queue_page(self.merchant, tab, filters, request.GET.get("after"))
        now = timezone.now()
        query = request.GET.copy()
        query.pop("after", None)
        query.pop("tab", None)
        counts = selectors.queue_counts(self.merchant, filters)
        labels = [
            (QueueTab.NEEDS_RESPONSE, _("Needs your response")),
            (QueueTab.WAITING_CUSTOMER, _("Waiting for the customer")),
            (QueueTab.WITH_SUPPORT, _("With support")),
            (QueueTab.CLOSED, _("Closed")),
        ]
        context.update(
            form=form,
            tab=tab,
            # (tab, label, count, whether the count stopped at the cap and reads "1,000+")
            tabs=[
                (value, label, counts[value], counts[value] > selectors.QUEUE_COUNT_CAP)
                for value, label in labels
            ],
            counts=counts,
            count_cap=selectors.QUEUE_COUNT_CAP,
            rows=[(d, _time_left(d.due_at, now)) for d in page.rows],
            next_cursor=page.next_cursor,
            first_page=request.GET.get("after") is not None,
            query=query.urlencode(),
        )
        return context


class _Echo:
    """A file-like object whose write returns the line: lets csv.writer feed a stream."""

    def write(self, value: str) -> str:
        return value


class QueueExportView(MerchantPortalMixin, View):
    """The filtered tab as CSV, streamed: memory stays flat however many cases match."""

    def get(self, request: HttpRequest) -> StreamingHttpResponse:
        filters = _filters_from(QueueFilterForm(request.GET or None))
        tab = _tab(request)
        tz = ZoneInfo(self.merchant.time_zone)
        rows = selectors.queue_rows(self.merchant, tab, filters).values_list(
            "public_id",
            "order__order_number",
            "order__placed_at",
            "order__customer_email",
            "program",
            "reason",
            "state",
            "disputed_amount",
            "currency",
            "opened_at",
            "due_at",
            "refund_offer",
            "refund_offer_amount",
            "outcome",
        )
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow(
                [
                    "case_id",
                    "order_number",
                    "order_date",
                    "customer_email",
                    "program",
                    "reason",
                    "state",
                    "amount",
                    "currency",
                    "opened_at",
                    "due_at",
                    "refund_offer",
                    "refund_offer_amount",
                    "outcome",
                ]
            )
            for row in rows.iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        value.astimezone(tz).isoformat(timespec="minutes")
                        if isinstance(value, datetime)
                        else ("" if value is None else _csv_safe(value))
                        for value in row
                    ]
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="cases-{tab.value}.csv"'
        return response


def _csv_safe(value: object) -> object:
    """Spreadsheets run cells that start with = + - @ as formulas: quote them as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


class CaseView(MerchantPortalMixin, View):
    template_name = "portal/case.html"

    def _dispute(self, public_id: str) -> Dispute:
        dispute = selectors.dispute_for_merchant(self.merchant, public_id)
        if dispute is None:
            raise Http404
        return dispute

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        return self._render(self._dispute(public_id))

    def _render(self, dispute: Dispute, status: int = 200, **forms: Any) -> HttpResponse:
        now = timezone.now()
        can_respond = (
            dispute.state == State.AWAITING_MERCHANT
            and dispute.due_at is not None
            and now < dispute.due_at
        )
        context: dict[str, Any] = {
            "merchant": self.merchant,
            "membership": self.membership,
            "is_owner": self.membership.role == "owner",
            "dispute": dispute,
            "order": dispute.order,
            "timeline": list(selectors.merchant_timeline(dispute.pk)),
            "time_left": _time_left(dispute.due_at, now),
            "due_display": deadline_for_display(dispute.due_at, self.merchant.time_zone)
            if dispute.due_at
            else None,
            "can_respond": can_respond,
            "can_accept": can_respond and dispute.program == "payment_dispute",
            "is_open": dispute.state in OPEN_STATES,
            "information_asked": dispute.state == State.INFO_REQUESTED
            and dispute.information_requested_from == Party.MERCHANT,
        }
        if can_respond:
            context["response_form"] = forms.get("response_form") or MerchantResponseForm(
                disputed_amount=dispute.disputed_amount
            )
            if context["can_accept"]:
                context["accept_form"] = forms.get("accept_form") or AcceptDisputeForm()
        if context["is_open"]:
            initial = (
                MerchantMessageForm.TO_SUPPORT
                if dispute.next_actor in (Party.SUPPORT,) or context["information_asked"]
                else MerchantMessageForm.TO_CUSTOMER
            )
            context["message_form"] = forms.get("message_form") or MerchantMessageForm(
                initial={"audience": initial}
            )
        if dispute.state == State.AWAITING_RETURN:
            context["return_form"] = forms.get("return_form") or ReturnReceivedForm()
        context["can_appeal"] = dispute.state == State.DECIDED and appeal_open(
            closed_at=dispute.closed_at, appealed=dispute.appealed_at is not None, now=now
        )
        if context["can_appeal"]:
            context["appeal_form"] = forms.get("appeal_form") or AppealForm()
        for key, form in forms.items():
            if key not in context:  # the form is no longer on the page: say why at the top
                for error in form.non_field_errors():
                    messages.error(self.request, error)
        return render(self.request, self.template_name, context, status=status)


class CaseActionView(CaseView):
    """POST endpoints of the merchant's case page: respond, accept, message."""

    action = ""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        dispute = self._dispute(public_id)  # another merchant's case is a 404 here too
        return redirect("portal:case", public_id=dispute.public_id)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        dispute = self._dispute(public_id)
        form: Any
        if self.action == "respond":
            form = MerchantResponseForm(
                request.POST, request.FILES, disputed_amount=dispute.disputed_amount
            )
            form_key, done = "response_form", _("Your answer is sent to the customer.")
        elif self.action == "accept":
            form = AcceptDisputeForm(request.POST)
            form_key, done = "accept_form", _("You accepted the dispute; the case is closed.")
        elif self.action == "return-received":
            form = ReturnReceivedForm(request.POST)
            form_key, done = "return_form", _("Thank you: the refund is made and the case closed.")
        elif self.action == "appeal":
            form = AppealForm(request.POST, request.FILES)
            form_key, done = "appeal_form", _("Your appeal is with support.")
        else:
            form = MerchantMessageForm(request.POST, request.FILES)
            form_key, done = "message_form", _("Your message is added to the case.")
        if form.is_valid():
            try:
                self._apply(dispute, form)
            except DomainError as error:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
            else:
                messages.success(request, done)
                return redirect("portal:case", public_id=dispute.public_id)
        dispute.refresh_from_db()
        return self._render(dispute, status=200, **{form_key: form})

    def _apply(self, dispute: Dispute, form: Any) -> None:
        data = form.cleaned_data
        if self.action == "respond":
            refund, amount = form.service_terms()
            services.dispute_respond(
                dispute=dispute,
                actor=self.actor,
                refund=refund,
                amount=amount,
                message=data["message"],
                documents=data["documents"],
            )
        elif self.action == "accept":
            services.dispute_accept(dispute=dispute, actor=self.actor, message=data["message"])
        elif self.action == "return-received":
            services.dispute_confirm_return(
                dispute=dispute, actor=self.actor, message=data["message"]
            )
        elif self.action == "appeal":
            services.dispute_appeal(
                dispute=dispute,
                actor=self.actor,
                message=data["message"],
                documents=data["documents"],
            )
        else:
            services.dispute_add_message(
                dispute=dispute,
                actor=self.actor,
                message=data["message"],
                documents=data["documents"],
                for_support=data["audience"] == MerchantMessageForm.TO_SUPPORT,
            )


class DocumentView(MerchantPortalMixin, View):
    def get(self, request: HttpRequest, public_id: str, attachment_id: int) -> HttpResponseBase:
        dispute = selectors.dispute_for_merchant(self.merchant, public_id)
        attachment = selectors.attachment_for_merchant(dispute, attachment_id) if dispute else None
        if attachment is None:
            raise Http404
        response = FileResponse(
            attachment.file.open("rb"),
            content_type=attachment.content_type,
            filename=attachment.original_name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
        return response
