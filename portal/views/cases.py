"""The work queue, its CSV export, and the case page with the merchant's actions.

Every read is scoped to the merchant: another merchant's case is a 404.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views import View
from django.views.generic import TemplateView

from billing.selectors import case_fee
from disputes import selectors, services
from disputes.actors import Actor
from disputes.choices import Party
from disputes.contracts import case_terms_summary
from disputes.errors import DomainError
from disputes.evidence import (
    automatic_evidence,
    checklist,
    decision_record,
    prefill_from_shipments,
)
from disputes.forms import EvidenceForm
from disputes.models import Dispute
from disputes.policies import (
    CaseAction,
    ChecklistItem,
    allowed_actions,
    deadline_for_display,
    evidence_for,
    support_waiting_for,
)
from disputes.selectors import QueueFilters, QueueTab, support_handler
from disputes.views.actions import FormAction, add_evidence
from disputes.views.documents import document_response

from ..base import MerchantPortalMixin, time_left
from ..forms import (
    AcceptDisputeForm,
    AppealForm,
    MerchantMessageForm,
    MerchantResponseForm,
    QueueFilterForm,
    ReturnReceivedForm,
)


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
            # The filter panel opens only when a filter is set (or wrong), not for a tab's ?tab=.
            filters_set=bool(form.errors)
            or (form.is_bound and form.is_valid() and any(form.cleaned_data.values())),
            tab=tab,
            # (tab, label, count, whether the count stopped at the cap and reads "1,000+")
            tabs=[
                (value, label, counts[value], counts[value] > selectors.QUEUE_COUNT_CAP)
                for value, label in labels
            ],
            counts=counts,
            count_cap=selectors.QUEUE_COUNT_CAP,
            rows=[(d, time_left(d.due_at, now)) for d in page.rows],
            next_cursor=page.next_cursor,
            first_page=request.GET.get("after") is not None,
            query=query.urlencode(),
        )
        return context


# The export's columns: (header, the case's field).
EXPORT_COLUMNS = [
    ("case_id", "public_id"),
    ("order_number", "order__order_number"),
    ("order_date", "order__placed_at"),
    ("customer_email", "order__customer_email"),
    ("program", "program"),
    ("reason", "reason"),
    ("state", "state"),
    ("amount", "disputed_amount"),
    ("currency", "currency"),
    ("opened_at", "opened_at"),
    ("due_at", "due_at"),
    ("refund_offer", "refund_offer"),
    ("refund_offer_amount", "refund_offer_amount"),
    ("outcome", "outcome"),
]


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
            *(field for _header, field in EXPORT_COLUMNS)
        )
        writer = csv.writer(_Echo())

        def lines() -> Iterator[str]:
            yield writer.writerow([header for header, _field in EXPORT_COLUMNS])
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
    """Spreadsheets run cells that start with = + - @ (or a tab or carriage return before
    one) as formulas (OWASP's CSV injection list): quote them as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
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
        allowed = {
            a.action: a
            for a in allowed_actions(
                dispute,
                Party.MERCHANT,
                now=now,
                time_zone=self.merchant.time_zone,
                country=self.merchant.country,
            )
        }
        can_respond = CaseAction.RESPOND in allowed
        context: dict[str, Any] = {
            **self.page_context,
            "dispute": dispute,
            "order": dispute.order,
            "case_terms": case_terms_summary(dispute),
            "timeline": list(selectors.merchant_timeline(dispute.pk)),
            "time_left": time_left(dispute.due_at, now),
            "due_display": deadline_for_display(dispute.due_at, self.merchant.time_zone)
            if dispute.due_at
            else None,
            "can_respond": can_respond,
            "can_accept": CaseAction.ACCEPT in allowed,
            "allowed_actions": allowed,
            "is_open": CaseAction.SEND_MESSAGE in allowed,
            "information_asked": CaseAction.PROVIDE_INFORMATION in allowed,
            "checklist": checklist(dispute, Party.MERCHANT, automatic=automatic_evidence(dispute)),
            "record": decision_record(dispute),
            "handler": support_handler(dispute),
            "support_waits_for": support_waiting_for(dispute),
            "fee": case_fee(dispute, now),
        }
        if can_respond:
            context["response_form"] = forms.get("response_form") or _response_form(dispute)
            if context["can_accept"]:
                context["accept_form"] = forms.get("accept_form") or AcceptDisputeForm()
        if CaseAction.ADD_EVIDENCE in allowed:
            context["evidence_form"] = forms.get("evidence_form") or _evidence_form(dispute)
        if context["is_open"]:
            initial = (
                MerchantMessageForm.TO_SUPPORT
                if dispute.next_actor in (Party.SUPPORT,) or context["information_asked"]
                else MerchantMessageForm.TO_CUSTOMER
            )
            context["message_form"] = forms.get("message_form") or MerchantMessageForm(
                initial={"audience": initial}
            )
        if CaseAction.CONFIRM_RETURN in allowed:
            context["return_form"] = forms.get("return_form") or ReturnReceivedForm()
        context["can_appeal"] = CaseAction.APPEAL in allowed
        if context["can_appeal"]:
            context["appeal_form"] = forms.get("appeal_form") or AppealForm()
        for key, form in forms.items():
            if key not in context:  # the form is no longer on the page: say why at the top
                for error in form.non_field_errors():
                    messages.error(self.request, error)
        return render(self.request, self.template_name, context, status=status)


def _merchant_checklist(dispute: Dispute) -> tuple[ChecklistItem, ...]:
    return evidence_for(dispute.program, dispute.reason, Party.MERCHANT)


def _response_form(dispute: Dispute, data: Any = None, files: Any = None) -> MerchantResponseForm:
    return MerchantResponseForm(
        data,
        files,
        disputed_amount=dispute.disputed_amount,
        currency=dispute.currency,
        checklist=_merchant_checklist(dispute),
        prefill=prefill_from_shipments(dispute.order),
    )


def _evidence_form(dispute: Dispute, data: Any = None, files: Any = None) -> EvidenceForm:
    return EvidenceForm(
        data,
        files,
        checklist=_merchant_checklist(dispute),
        prefill=prefill_from_shipments(dispute.order),
    )


def _respond(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_respond(
        dispute=dispute,
        actor=actor,
        refund=data["offer"],
        amount=data["offer_amount"],
        message=data["message"],
        documents=data["documents"],
        evidence=data["evidence"],
    )


def _accept(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_accept(dispute=dispute, actor=actor, message=data["message"])


def _return_received(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_confirm_return(dispute=dispute, actor=actor, message=data["message"])


def _appeal(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_appeal(
        dispute=dispute, actor=actor, message=data["message"], documents=data["documents"]
    )


def _message(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_add_message(
        dispute=dispute,
        actor=actor,
        message=data["message"],
        documents=data["documents"],
        for_support=data["audience"] == MerchantMessageForm.TO_SUPPORT,
    )


CASE_ACTIONS: dict[str, FormAction] = {
    "respond": FormAction(
        "response_form",
        _response_form,
        _respond,
        gettext_noop("Your answer is sent to the customer."),
    ),
    "evidence": FormAction(
        "evidence_form",
        _evidence_form,
        add_evidence,
        gettext_noop("Your evidence is with the case; support sees it, the customer does not."),
    ),
    "accept": FormAction(
        "accept_form",
        lambda dispute, data, files: AcceptDisputeForm(data),
        _accept,
        gettext_noop("You accepted the dispute; the case is closed."),
    ),
    "return-received": FormAction(
        "return_form",
        lambda dispute, data, files: ReturnReceivedForm(data),
        _return_received,
        gettext_noop("Thank you: the refund is made and the case closed."),
    ),
    "appeal": FormAction(
        "appeal_form",
        lambda dispute, data, files: AppealForm(data, files),
        _appeal,
        gettext_noop("Your appeal is with support."),
    ),
    "message": FormAction(
        "message_form",
        lambda dispute, data, files: MerchantMessageForm(data, files),
        _message,
        gettext_noop("Your message is added to the case."),
    ),
}


class CaseActionView(CaseView):
    """POST endpoints of the merchant's case page, one per entry of CASE_ACTIONS."""

    action = ""

    def get(self, request: HttpRequest, public_id: str) -> HttpResponse:
        dispute = self._dispute(public_id)  # another merchant's case is a 404 here too
        return redirect("portal:case", public_id=dispute.public_id)

    def post(self, request: HttpRequest, public_id: str) -> HttpResponse:
        dispute = self._dispute(public_id)
        case_action = CASE_ACTIONS[self.action]
        form = case_action.make_form(dispute, request.POST, request.FILES)
        if form.is_valid():
            try:
                case_action.apply(dispute, self.actor, form.cleaned_data)
            except DomainError as error:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
            else:
                messages.success(request, _(case_action.done))
                return redirect("portal:case", public_id=dispute.public_id)
        dispute.refresh_from_db()
        return self._render(dispute, status=200, **{case_action.form_key: form})


class DocumentView(MerchantPortalMixin, View):
    def get(self, request: HttpRequest, public_id: str, attachment_id: int) -> HttpResponseBase:
        dispute = selectors.dispute_for_merchant(self.merchant, public_id)
        attachment = selectors.attachment_for_merchant(dispute, attachment_id) if dispute else None
        if attachment is None:
            raise Http404
        return document_response(attachment)
