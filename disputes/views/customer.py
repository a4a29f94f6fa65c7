"""Public pages for customers: no account, a verified order in the session, then a signed link.

Each view validates a form, calls one service or selector, and renders. Domain errors become
form errors in the customer's language; nothing a customer sends can cause a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from disputes_portal.ratelimit import rate_limited

from .. import selectors, services
from ..actors import Actor
from ..choices import (
    UNPAID_STATES,
    Party,
    Program,
    ProtectionAnswer,
    ProtectionStatus,
    ProtectionTier,
    RefundOffer,
)
from ..contracts import merchant_window_phrase
from ..eligibility import eligibility_refusal
from ..errors import DisputeAlreadyOpen, DomainError
from ..evidence import checklist, decision_record
from ..forms import (
    CustomerReplyForm,
    EvidenceForm,
    FindOrderForm,
    MessageForm,
    PaymentDisputeForm,
    ProtectionFeedbackForm,
    ReturnShippedForm,
    WithdrawForm,
)
from ..links import (
    LinkExpired,
    LinkInvalid,
    customer_case_path,
    order_id_from_order_token,
    order_id_from_protection_token,
)
from ..models import Dispute, Order
from ..policies import (
    CaseAction,
    ExtensionDecision,
    ProtectionEnd,
    allowed_actions,
    customer_replies_for,
    evidence_for,
    support_waiting_for,
    under_appeal,
)
from ..selectors import support_handler
from .actions import FormAction, add_evidence
from .documents import document_response

VERIFIED_ORDER = "customer.verified_order"
OPENED_CASE = "customer.opened_case"


def _public_form_limit() -> Any:
    return rate_limited(
        "public-form",
        limit_setting="PUBLIC_FORM_RATE_LIMIT",
        window_setting="PUBLIC_FORM_RATE_WINDOW",
    )


def _add_domain_error(form: Any, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _verified_order(request: HttpRequest) -> Order | None:
    order_id = request.session.get(VERIFIED_ORDER)
    if order_id is None:
        return None
    return Order.objects.select_related("merchant").filter(pk=order_id).first()


class VerifiedOrderMixin:
    """Steps after "find your order" need the order the customer proved they know."""

    order: Order

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        order = _verified_order(request)
        if order is None:
            messages.info(request, _("Please find your order first."))
            return redirect("disputes:find-order")
        self.order = order
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


@method_decorator(_public_form_limit(), name="dispatch")
class FindOrderView(View):
    template_name = "customer/find_order.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = FindOrderForm(initial={"shop": request.GET.get("shop", "")})
        return render(request, self.template_name, {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = FindOrderForm(request.POST)
        if not form.is_valid() or form.order is None:
            return render(request, self.template_name, {"form": form}, status=200)
        order = form.order
        if selectors.open_dispute_for_order(order) is not None:
            # The case exists: its link goes to the order's address, not to this browser.
            services.dispute_renew_customer_link(order=order)
            return render(request, "customer/link_sent.html", {"already_open": True})
        request.session.cycle_key()
        request.session[VERIFIED_ORDER] = order.pk
        return redirect("disputes:start")


class StartView(VerifiedOrderMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        order = self.order
        now = timezone.now()
        payment_refusal = eligibility_refusal(order, Program.PAYMENT_DISPUTE, now=now)
        protection_refusal = (
            eligibility_refusal(order, Program.BUYER_PROTECTION, now=now)
            if order.protection_tier != ProtectionTier.NONE
            else None
        )
        return render(
            request,
            "customer/start.html",
            {
                "order": order,
                "window": merchant_window_phrase(order.merchant, Program.PAYMENT_DISPUTE, now),
                "payment_refusal": payment_refusal,
                "has_protection": order.protection_tier != ProtectionTier.NONE,
                "protection_refusal": protection_refusal,
            },
        )


def _open_case(
    request: HttpRequest, form: Any, order: Order, *, program: str, reason: str
) -> Dispute | None:
    evidence, other_documents, other_lines = form.opening_evidence(reason)
    message = form.cleaned_data["message"]
    if other_lines:
        message = f"{message}\n\n{other_lines}" if message else other_lines
    try:
        dispute = services.dispute_open(
            order=order,
            message=message,
            documents=[*form.cleaned_data["documents"], *other_documents],
            evidence=evidence,
            language=get_language(),
            program=program,
            reason=reason,
        )
    except DisputeAlreadyOpen:
        services.dispute_renew_customer_link(order=order)
        form.add_error(
            None, _("This order already has an open case. We have emailed you a link to it.")
        )
        return None
    except DomainError as error:
        _add_domain_error(form, error)
        return None
    request.session[OPENED_CASE] = dispute.pk
    request.session.pop(VERIFIED_ORDER, None)
    return dispute


@method_decorator(_public_form_limit(), name="post")
class OpenDisputeView(VerifiedOrderMixin, View):
    template_name = "customer/open_dispute.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, PaymentDisputeForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PaymentDisputeForm(request.POST, request.FILES)
        if form.is_valid() and _open_case(
            request,
            form,
            self.order,
            program=Program.PAYMENT_DISPUTE,
            reason=form.cleaned_data["reason"],
        ):
            return redirect("disputes:opened")
        return self._render(request, form)

    def _render(self, request: HttpRequest, form: PaymentDisputeForm) -> HttpResponse:
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "order": self.order,
                "window": merchant_window_phrase(
                    self.order.merchant, Program.PAYMENT_DISPUTE, timezone.now()
                ),
            },
        )


@method_decorator(_public_form_limit(), name="post")
class ProtectionView(VerifiedOrderMixin, View):
    template_name = "customer/protection.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, ProtectionFeedbackForm(initial=request.GET or None))

    def post(self, request: HttpRequest) -> HttpResponse:
        order = self.order
        form = ProtectionFeedbackForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(request, form)
        answer = form.cleaned_data["answer"]
        if answer == ProtectionAnswer.ALL_FINE:
            return self._all_fine(request, form)
        if answer == ProtectionAnswer.EXTEND:
            decision = services.order_extend_protection(order=order)
            order.refresh_from_db()
            return render(
                request,
                "customer/protection_result.html",
                {"order": order, "result": decision, "decisions": ExtensionDecision},
            )
        if _open_case(request, form, order, program=Program.BUYER_PROTECTION, reason=form.reason):
            return redirect("disputes:opened")
        return self._render(request, form)

    def _all_fine(self, request: HttpRequest, form: ProtectionFeedbackForm) -> HttpResponse:
        """ "All fine" ends the protection (and withdraws an open case), once confirmed: an
        ending that cannot be undone is never one click."""
        order = self.order
        if not form.cleaned_data["confirm_withdrawal"]:
            return render(
                request,
                "customer/protection_confirm_end.html",
                {"order": order, "case": selectors.open_dispute_for_order(order), "form": form},
            )
        try:
            result = services.order_end_protection(
                order=order, withdraw_case=form.cleaned_data["confirm_withdrawal"]
            )
        except DomainError as error:  # e.g. the case is under the merchant's appeal
            form.add_error(None, error.message)
            return self._render(request, form)
        if result == ProtectionEnd.CONFIRM_WITHDRAWAL:
            case = selectors.open_dispute_for_order(order)
            return render(
                request,
                "customer/protection_confirm_end.html",
                {"order": order, "case": case, "form": form},
            )
        request.session.pop(VERIFIED_ORDER, None)
        return render(
            request, "customer/protection_result.html", {"order": order, "result": result}
        )

    def _render(self, request: HttpRequest, form: ProtectionFeedbackForm) -> HttpResponse:
        order = self.order
        refusal = eligibility_refusal(order, Program.BUYER_PROTECTION, now=timezone.now())
        return render(
            request, self.template_name, {"form": form, "order": order, "refusal": refusal}
        )


def protection_link(request: HttpRequest, token: str) -> HttpResponse:
    """From the check-in email: the signed link stands for "find your order"."""
    try:
        order_id = order_id_from_protection_token(token)
    except LinkExpired:
        return render(request, "customer/link_invalid.html", {"reason": "expired"}, status=404)
    except LinkInvalid:
        return render(request, "customer/link_invalid.html", {"reason": "invalid"}, status=404)
    order = Order.objects.select_related("merchant").filter(pk=order_id).first()
    if order is None:
        return render(request, "customer/link_invalid.html", {"reason": "invalid"}, status=404)
    if order.protection_status != ProtectionStatus.ACTIVE:
        # An old check-in link of a protection that has ended: it says so and opens nothing.
        return render(
            request,
            "customer/protection_result.html",
            {"order": order, "result": ProtectionEnd.NOT_ACTIVE},
        )
    request.session.cycle_key()
    request.session[VERIFIED_ORDER] = order.pk
    answer = request.GET.get("answer", "")
    target = reverse("disputes:protection")
    if answer in ProtectionAnswer.values:
        target += f"?answer={answer}"
    return redirect(target)


def order_link(request: HttpRequest, token: str) -> HttpResponse:
    """The provider's signed link to an order: it stands for "find your order"."""
    try:
        order_id = order_id_from_order_token(token)
    except LinkExpired:
        return render(request, "customer/link_invalid.html", {"reason": "expired"}, status=404)
    except LinkInvalid:
        return render(request, "customer/link_invalid.html", {"reason": "invalid"}, status=404)
    order = Order.objects.select_related("merchant").filter(pk=order_id).first()
    if order is None:
        return render(request, "customer/link_invalid.html", {"reason": "invalid"}, status=404)
    if selectors.open_dispute_for_order(order) is not None:
        # The case exists: its link goes to the order's address, as from the search form.
        services.dispute_renew_customer_link(order=order)
        return render(request, "customer/link_sent.html", {"already_open": True})
    request.session.cycle_key()
    request.session[VERIFIED_ORDER] = order.pk
    return redirect("disputes:start")


class OpenedView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        dispute_id = request.session.get(OPENED_CASE)
        dispute = (
            Dispute.objects.select_related("order", "merchant").filter(pk=dispute_id).first()
            if dispute_id
            else None
        )
        if dispute is None:
            return redirect("disputes:find-order")
        return render(
            request,
            "customer/opened.html",
            {"dispute": dispute, "case_path": customer_case_path(dispute)},
        )


# --- The case page, reached only through the signed link -----------------------------------------


def _dispute_or_link_page(request: HttpRequest, token: str) -> Dispute | HttpResponse:
    try:
        return selectors.dispute_for_customer_link(token)
    except LinkExpired:
        reason = "expired"
    except LinkInvalid:
        reason = "invalid"
    return render(request, "customer/link_invalid.html", {"reason": reason}, status=404)


def _case_context(dispute: Dispute, token: str, **forms: Any) -> dict[str, Any]:
    now = timezone.now()
    partial = (dispute.refund_offer_amount or 0) < dispute.disputed_amount
    merchant = dispute.merchant
    # The page shows exactly what the customer may do now (policies.allowed_actions).
    allowed = {
        a.action
        for a in allowed_actions(
            dispute, Party.CUSTOMER, now=now, time_zone=merchant.time_zone, country=merchant.country
        )
    }
    can_reply = CaseAction.REPLY in allowed
    # A decision the shop may still appeal: the customer is told until when.
    merchant_appeal = next(
        (
            a.until
            for a in allowed_actions(
                dispute,
                Party.MERCHANT,
                now=now,
                time_zone=merchant.time_zone,
                country=merchant.country,
            )
            if a.action == CaseAction.APPEAL
        ),
        None,
    )
    context: dict[str, Any] = {
        "dispute": dispute,
        "order": dispute.order,
        "merchant": merchant,
        "token": token,
        "timeline": list(selectors.customer_timeline(dispute.pk)),
        "is_open": CaseAction.SEND_MESSAGE in allowed,
        "can_reply": can_reply,
        "is_partial_offer": partial and dispute.refund_offer != RefundOffer.NONE,
        "reply_choices": customer_replies_for(dispute.refund_offer, partial=partial),
        "information_asked": CaseAction.PROVIDE_INFORMATION in allowed,
        "under_appeal": under_appeal(state=dispute.state, appealed=dispute.appealed_at is not None),
        "checklist": checklist(dispute, Party.CUSTOMER),
        "record": decision_record(dispute),
        "handler": support_handler(dispute),
        "support_waits_for": support_waiting_for(dispute),
        "merchant_may_appeal_until": merchant_appeal,
        # Money "to the customer" on an unpaid invoice is cancelled from it, not paid back.
        "unpaid_invoice": dispute.order.payment_state in UNPAID_STATES,
    }
    if can_reply:
        context["reply_form"] = forms.get("reply_form") or CustomerReplyForm(
            offer=dispute.refund_offer, partial=partial
        )
    if context["is_open"]:
        context["message_form"] = forms.get("message_form") or MessageForm()
    if CaseAction.WITHDRAW in allowed:
        context["withdraw_form"] = forms.get("withdraw_form") or WithdrawForm()
    if CaseAction.ADD_EVIDENCE in allowed:
        context["evidence_form"] = forms.get("evidence_form") or _evidence_form(dispute)
    context["can_ship_return"] = CaseAction.MARK_RETURN_SHIPPED in allowed
    if context["can_ship_return"]:
        context["return_form"] = forms.get("return_form") or ReturnShippedForm()
    return context


def _evidence_form(dispute: Dispute, data: Any = None, files: Any = None) -> EvidenceForm:
    return EvidenceForm(
        data, files, checklist=evidence_for(dispute.program, dispute.reason, Party.CUSTOMER)
    )


@method_decorator(never_cache, name="dispatch")
class CaseView(View):
    template_name = "customer/case.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        found = _dispute_or_link_page(request, token)
        if isinstance(found, HttpResponse):
            return found
        return render(request, self.template_name, _case_context(found, token))


def _reply(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_customer_reply(
        dispute=dispute,
        actor=actor,
        reply=data["reply"],
        message=data["message"],
        documents=data["documents"],
    )


def _message(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_add_message(
        dispute=dispute, actor=actor, message=data["message"], documents=data["documents"]
    )


def _return_shipped(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_mark_return_shipped(dispute=dispute, actor=actor, message=data["message"])


def _withdraw(dispute: Dispute, actor: Actor, data: dict[str, Any]) -> None:
    services.dispute_withdraw(dispute=dispute, actor=actor, message=data["message"])


def _reply_form(dispute: Dispute, data: Any, files: Any) -> CustomerReplyForm:
    partial = (dispute.refund_offer_amount or 0) < dispute.disputed_amount
    return CustomerReplyForm(data, files, offer=dispute.refund_offer, partial=partial)


CASE_ACTIONS: dict[str, FormAction] = {
    "reply": FormAction(
        "reply_form", _reply_form, _reply, gettext_noop("Thank you, your answer is saved.")
    ),
    "message": FormAction(
        "message_form",
        lambda dispute, data, files: MessageForm(data, files),
        _message,
        gettext_noop("Your message is sent."),
    ),
    "return-shipped": FormAction(
        "return_form",
        lambda dispute, data, files: ReturnShippedForm(data),
        _return_shipped,
        gettext_noop("Thank you. We told the shop the goods are coming."),
    ),
    "evidence": FormAction(
        "evidence_form",
        _evidence_form,
        add_evidence,
        gettext_noop("Thank you: your evidence is with support."),
    ),
    "withdraw": FormAction(
        "withdraw_form",
        lambda dispute, data, files: WithdrawForm(data),
        _withdraw,
        gettext_noop("Your case is withdrawn."),
    ),
}


@method_decorator([never_cache, _public_form_limit()], name="dispatch")
class CaseActionView(View):
    """POST endpoints of the case page, one per entry of CASE_ACTIONS."""

    action = ""

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        found = _dispute_or_link_page(request, token)
        if isinstance(found, HttpResponse):
            return found
        dispute = found
        actor = Actor.customer(dispute.order.customer_email)
        case_action = CASE_ACTIONS[self.action]
        form = case_action.make_form(dispute, request.POST, request.FILES)
        if form.is_valid():
            try:
                case_action.apply(dispute, actor, form.cleaned_data)
            except DomainError as error:
                _add_domain_error(form, error)
            else:
                messages.success(request, _(case_action.done))
                return redirect(reverse("disputes:customer-case", kwargs={"token": token}))
        dispute.refresh_from_db()
        context = _case_context(dispute, token, **{case_action.form_key: form})
        if case_action.form_key not in context:  # the form is no longer on the page: say why
            for refusal in form.non_field_errors():
                messages.error(request, str(refusal))
        return render(request, "customer/case.html", context)


@never_cache
def customer_document(request: HttpRequest, token: str, attachment_id: int) -> HttpResponseBase:
    found = _dispute_or_link_page(request, token)
    if isinstance(found, HttpResponse):
        return found
    attachment = selectors.attachment_for_customer(found, attachment_id)
    if attachment is None:
        raise Http404
    return document_response(attachment)


@method_decorator(_public_form_limit(), name="dispatch")
class RenewLinkView(View):
    template_name = "customer/renew_link.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = FindOrderForm(initial={"shop": request.GET.get("shop", "")})
        return render(request, self.template_name, {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = FindOrderForm(request.POST)
        if not form.is_valid() and any(name != NON_FIELD_ERRORS for name in form.errors):
            return render(request, self.template_name, {"form": form})
        if form.order is not None:
            services.dispute_renew_customer_link(order=form.order)
        # The same page whether or not anything matched: no probing for orders or cases.
        return render(request, "customer/link_sent.html", {"already_open": False})
