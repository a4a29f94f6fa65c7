"""The support desk's case list and case view: the whole case on one screen."""

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.db.models.expressions import Combinable
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .. import services as desk
from ..choices import OPEN_STATES, Party, State
from ..contracts import case_terms_summary
from ..errors import DecisionIncomplete, DomainError, HearingRequired
from ..evidence import (
    EARLIER_ORDERS_SHOWN,
    automatic_evidence,
    case_history,
    checklist,
    decision_record,
    earlier_undisputed_orders,
)
from ..identifiers import normalise_public_id
from ..models import (
    Attachment,
    Dispute,
    DisputeEvent,
    Merchant,
)
from ..policies import evidence_for, merchant_heard, rate_standing
from ..privacy.holds import hold_in_force
from ..selectors import PUBLIC_ID_PATTERN, dispute_rate_counts
from ..views.documents import document_response
from .actions import DESK_ACTIONS, desk_actions_allowed, staff_actor
from .figures import figures_urls
from .personal_data import personal_data_urls
from .querystring import DeskModelAdmin


class EventInline(admin.TabularInline):
    model = DisputeEvent
    fields = readonly_fields = (
        "created_at",
        "event_type",
        "actor_kind",
        "actor_id",
        "visibility",
        "message",
    )
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    fields = readonly_fields = (
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "created_at",
    )
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: a million-case table never pays for a full COUNT(*). The
    count drops the list's ordering, which a sliced count would otherwise keep: sorting every
    matching row to count the first CAP of them (140 ms for the "waiting for information"
    queue of 20 000 cases)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows: Any = self.object_list
        return int(rows.order_by()[: self.CAP + 1].count())


class QueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"
    # The support desk opens on its work: cases with support, oldest escalation first.
    default = "support"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("support", _("With support (escalated or waiting for information)")),
            ("info", _("Waiting for information")),
            ("return", _("Waiting for a return")),
            ("appeals", _("Appeals")),
            ("all", _("All cases")),
        ]

    def value(self) -> str:
        return super().value() or self.default

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        value = self.value()
        if value == "support":
            return queryset.filter(state__in=[State.ESCALATED, State.INFO_REQUESTED])
        if value == "info":
            return queryset.filter(state=State.INFO_REQUESTED)
        if value == "return":
            return queryset.filter(state=State.AWAITING_RETURN)
        if value == "appeals":
            return queryset.filter(appealed_at__isnull=False, state__in=OPEN_STATES)
        return queryset


# The queues support works through, oldest escalation first (the dispute_support_queue index).
ESCALATION_ORDER_QUEUES = ("support", "info")
MAX_ID = 2**63 - 1  # a bigint; a longer number is a wrong filter, not a database error


class MerchantFilter(admin.SimpleListFilter):
    """One merchant's cases, `?merchant__id__exact=<id>` as Django's own filter on the field.

    Only the chosen merchant is listed: every merchant in the side bar (a thousand links on each
    page, loaded and rendered each time) cost a third of the queue page and grew with the
    shops; support finds a shop with the search box (name or slug)."""

    title = _("merchant")
    parameter_name = "merchant__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        value = self.value()
        if not value:
            return []  # no output: the filter is left out (its queryset is not applied)
        # A wrong value keeps its choice, so the filter stays and its queryset says it is wrong.
        merchant_id = _merchant_id(value)
        name = None
        if merchant_id is not None:
            name = Merchant.objects.filter(pk=merchant_id).values_list("name", flat=True).first()
        return [(value, name or value)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        value = self.value()
        if not value:
            return queryset
        merchant_id = _merchant_id(value)
        if merchant_id is None:
            raise IncorrectLookupParameters(value)
        return queryset.filter(merchant_id=merchant_id)


def _merchant_id(value: str) -> int | None:
    """The id a filter value names (ASCII digits within a bigint), else None."""
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        return None
    return int(value)


class AssignedFilter(admin.SimpleListFilter):
    title = _("assigned")
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("me", _("to me")), ("nobody", _("unassigned")), ("others", _("to others"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> QuerySet[Dispute]:
        if self.value() == "me":
            return queryset.filter(assigned_to_id=request.user.pk)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        if self.value() == "others":
            return queryset.exclude(assigned_to_id=request.user.pk).filter(
                assigned_to__isnull=False
            )
        return queryset


@admin.register(Dispute)
class DisputeAdmin(DeskModelAdmin):
    list_display = [
        "public_id",
        "merchant",
        "program",
        "reason",
        "state",
        "escalated_at",
        "assigned_to",
        "due_at",
    ]
    list_filter = [QueueFilter, AssignedFilter, "program", "reason", MerchantFilter]
    search_help_text = _("Case id, order number, customer email or merchant name")
    search_fields = ["public_id"]  # the search itself: get_search_results
    list_select_related = ["merchant", "assigned_to"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ["escalated_at", "id"]  # the support queue's; see get_ordering
    actions = ["assign_to_me"]
    # A state is never edited by hand: every change goes through disputes.services.
    readonly_fields = [f.name for f in Dispute._meta.get_fields() if getattr(f, "concrete", False)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_ordering(self, request: HttpRequest) -> list[str | Combinable]:
        """Support's queues oldest escalation first (read in order from their index); the
        others newest case first (the primary key): ordered by escalated_at, which is empty
        outside support, "All cases" sorted the whole table on every page (1 s at a million
        cases, 2 s for a page further down)."""
        queue = request.GET.get("queue") or QueueFilter.default  # QueueFilter's parameter
        if queue in ESCALATION_ORDER_QUEUES:
            return list(self.ordering)
        return ["-id"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Dispute], search_term: str
    ) -> tuple[QuerySet[Dispute], bool]:
        """Exact, indexed lookups: a case id, an email, else an order number or a merchant."""
        term = search_term.strip()
        if not term:
            return queryset, False
        public_id = normalise_public_id(term)
        if PUBLIC_ID_PATTERN.fullmatch(public_id):
            return queryset.filter(public_id=public_id), False
        if "@" in term:
            return queryset.filter(order__customer_email__iexact=term), False
        return queryset.filter(
            Q(order__order_number=term) | Q(merchant__name__iexact=term) | Q(merchant__slug=term)
        ), False

    @admin.action(description=_("Assign to me"), permissions=["decide"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        actor = staff_actor(request)
        taken = 0
        for dispute in queryset.filter(assigned_to__isnull=True)[:100]:
            desk.dispute_assign(dispute=dispute, actor=actor, assignee_id=request.user.pk)
            taken += 1
        self.message_user(
            request,
            ngettext("%(count)d case is now yours.", "%(count)d cases are now yours.", taken)
            % {"count": taken},
            messages.SUCCESS,
        )

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("disputes.decide_dispute")

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/desk/<str:action>/",
                view(self.desk_action_view),
                name="disputes_dispute_desk_action",
            ),
            path(
                "<int:object_id>/documents/<int:attachment_id>/",
                view(self.document_view),
                name="disputes_dispute_document",
            ),
            *figures_urls(),
            *personal_data_urls(),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The case desk: the whole case on one screen, with the actions allowed now."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        dispute = self._dispute(object_id)
        return self._render_desk(request, dispute)

    def _dispute(self, object_id: Any) -> Dispute:
        dispute = (
            Dispute.objects.select_related(
                "order", "merchant", "terms", "assigned_to", "decided_by"
            )
            .filter(pk=object_id)
            .first()
        )
        if dispute is None:
            raise Http404
        return dispute

    def _render_desk(
        self,
        request: HttpRequest,
        dispute: Dispute,
        status: int = 200,
        forms: dict[str, Any] | None = None,
    ) -> HttpResponse:
        forms = forms or {}
        user = request.user
        allowed = desk_actions_allowed(dispute, user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Case %(case)s") % {"case": dispute.public_id},
            "dispute": dispute,
            "order": dispute.order,
            "case_terms": case_terms_summary(dispute),
            "events": list(
                dispute.events.prefetch_related("attachments").order_by("created_at", "id")
            ),
            "previous_cases": list(
                Dispute.objects.filter(order__customer_email__iexact=dispute.order.customer_email)
                .exclude(pk=dispute.pk)
                .select_related("merchant")
                .order_by("-opened_at")[:10]
            ),
            "merchant_rate": merchant_rate_recent(dispute.merchant, timezone.now()),
            "allowed": allowed,
            "legal_hold": hold_in_force(dispute),
            **_evidence_context(dispute),
        }
        for name, desk_action in DESK_ACTIONS.items():
            if desk_action.context_name:
                context[desk_action.context_name] = forms.get(name) or desk_action.blank_form(
                    dispute
                )
        return TemplateResponse(
            request, "admin/disputes/dispute/case_desk.html", context, status=status
        )

    def desk_action_view(self, request: HttpRequest, object_id: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        dispute = self._dispute(object_id)
        # Permissions are checked here, on every action, not only by hiding buttons.
        if action not in desk_actions_allowed(dispute, request.user, ignore_state=True):
            raise PermissionDenied
        actor = staff_actor(request)
        desk_action = DESK_ACTIONS[action]
        form = desk_action.bound_form(request.POST, dispute)
        try:
            if form is None or form.is_valid():
                desk_action.apply(dispute, actor, form.cleaned_data if form else {})
        except DomainError as error:
            if form is not None and error.field in form.fields:
                form.add_error(error.field, error.message)
            elif form is not None and isinstance(error, DecisionIncomplete | HearingRequired):
                form.add_error(None, error.message)  # keep what support wrote on the form
            else:  # e.g. a colleague decided first: say so on the fresh case view
                messages.error(request, error.message)
                return redirect("admin:disputes_dispute_change", dispute.pk)
        if form is not None and not form.is_valid():
            messages.error(request, _("The action was not carried out; see the form below."))
            return self._render_desk(request, self._dispute(object_id), forms={action: form})
        messages.success(request, _("Done."))
        return redirect("admin:disputes_dispute_change", dispute.pk)

    def document_view(
        self, request: HttpRequest, object_id: int, attachment_id: int
    ) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        attachment = Attachment.objects.filter(
            pk=attachment_id, dispute_id=object_id, erased_at__isnull=True
        ).first()
        if attachment is None:
            raise Http404
        return document_response(attachment)


def _evidence_context(dispute: Dispute) -> dict[str, Any]:
    """Both sides' checklists, the orders the portal found, whether the merchant was heard,
    and the current decision's record."""
    automatic = automatic_evidence(dispute)
    earlier = list(earlier_undisputed_orders(dispute)[:EARLIER_ORDERS_SHOWN])
    return {
        "merchant_checklist": checklist(dispute, Party.MERCHANT, automatic=automatic),
        "customer_checklist": checklist(dispute, Party.CUSTOMER),
        "earlier_orders": earlier if "earlier_orders" in automatic or earlier else [],
        "shows_earlier_orders": any(
            entry.key == "earlier_orders"
            for entry in evidence_for(dispute.program, dispute.reason, Party.MERCHANT)
        ),
        "merchant_heard": merchant_heard(case_history(dispute)),
        "record": decision_record(dispute),
    }


def merchant_rate_recent(merchant: Merchant, now: Any) -> dict[str, Any]:
    """The merchant's dispute rate over the last 90 days, counted as everywhere."""
    counts = dispute_rate_counts(
        start=now - timedelta(days=90), end=now, merchant_ids=[merchant.pk]
    )[merchant.pk]
    rate = counts.rate
    return {
        "opened": counts.claims,
        "orders": counts.orders,
        "percent": None if rate is None else rate * 100,
        "standing": rate_standing(rate),
    }
