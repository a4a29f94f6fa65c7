from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, Q, QuerySet
from django.http import (
    FileResponse,
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

from billing.policies import dispute_rate, rate_standing

from . import services as desk
from .actors import Actor
from .admin_figures import figures_urls
from .admin_forms import AssignForm, DecisionForm, RequestInformationForm, ReturnDecisionForm
from .choices import OPEN_STATES, Party, State
from .errors import DomainError
from .identifiers import normalise_public_id
from .models import (
    Attachment,
    Dispute,
    DisputeEvent,
    Merchant,
    MerchantMembership,
    Order,
    PlatformPartner,
)
from .selectors import PUBLIC_ID_PATTERN


@admin.register(PlatformPartner)
class PlatformPartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class MembershipInline(admin.TabularInline):
    model = MerchantMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "country", "currency", "time_zone", "platform_partner"]
    list_filter = ["country", "currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "order_number",
        "merchant",
        "placed_at",
        "amount",
        "currency",
        "payment_state",
        "protection_tier",
        "protection_status",
    ]
    list_filter = ["payment_state", "protection_tier", "protection_status"]
    search_fields = ["order_number", "customer_email"]
    list_select_related = ["merchant"]
    raw_id_fields = ["merchant"]
    show_full_result_count = False
    # Payment and protection states change only through the services.
    readonly_fields = [
        "payment_state",
        "protection_status",
        "protection_extended_at",
        "protection_checkin_sent_at",
    ]


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
    """Counts at most CAP rows: a million-case table never pays for a full COUNT(*)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        rows: Any = self.object_list
        return int(rows[: self.CAP + 1].count())


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
class DisputeAdmin(admin.ModelAdmin):
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
    list_filter = [QueueFilter, AssignedFilter, "program", "reason", "merchant"]
    search_help_text = _("Case id, order number, customer email or merchant name")
    search_fields = ["public_id"]  # the search itself: get_search_results
    list_select_related = ["merchant", "assigned_to"]
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ["escalated_at", "id"]
    actions = ["assign_to_me"]
    # A state is never edited by hand: every change goes through disputes.services.
    readonly_fields = [f.name for f in Dispute._meta.get_fields() if getattr(f, "concrete", False)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

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
        actor = _staff_actor(request)
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
            Dispute.objects.select_related("order", "merchant", "assigned_to", "decided_by")
            .filter(pk=object_id)
            .first()
        )
        if dispute is None:
            raise Http404
        return dispute

    def _render_desk(
        self, request: HttpRequest, dispute: Dispute, status: int = 200, **forms: Any
    ) -> HttpResponse:
        user = request.user
        allowed = desk_actions_allowed(dispute, user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Case %(case)s") % {"case": dispute.public_id},
            "dispute": dispute,
            "order": dispute.order,
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
            "request_form": forms.get("request_info") or RequestInformationForm(prefix="info"),
            "decision_form": forms.get("decide") or DecisionForm(prefix="decide"),
            "return_form": forms.get("decide_return") or ReturnDecisionForm(prefix="return"),
            "assign_form": forms.get("assign")
            or AssignForm(prefix="assign", initial={"assignee": dispute.assigned_to_id}),
        }
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
        actor = _staff_actor(request)
        form: Any = None
        try:
            if action == "assign_me":
                desk.dispute_assign(dispute=dispute, actor=actor, assignee_id=request.user.pk)
            elif action == "assign":
                form = AssignForm(request.POST, prefix="assign")
                if form.is_valid():
                    assignee = form.cleaned_data["assignee"]
                    desk.dispute_assign(
                        dispute=dispute, actor=actor, assignee_id=assignee.pk if assignee else None
                    )
            elif action == "request_info":
                form = RequestInformationForm(request.POST, prefix="info")
                if form.is_valid():
                    desk.dispute_request_information(
                        dispute=dispute,
                        actor=actor,
                        party=Party(form.cleaned_data["party"]),
                        message=form.cleaned_data["message"],
                        working_days=form.cleaned_data["working_days"],
                    )
            elif action == "decide":
                form = DecisionForm(request.POST, prefix="decide")
                if form.is_valid():
                    desk.dispute_decide(
                        dispute=dispute,
                        actor=actor,
                        outcome=form.cleaned_data["outcome"],
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                        fraud_proven=form.cleaned_data["fraud_proven"],
                    )
            elif action == "decide_return":
                form = ReturnDecisionForm(request.POST, prefix="return")
                if form.is_valid():
                    desk.dispute_decide_return(
                        dispute=dispute,
                        actor=actor,
                        amount=form.cleaned_data["amount"],
                        reason=form.cleaned_data["reason"],
                    )
            else:
                raise Http404
        except DomainError as error:
            if form is not None and error.field in form.fields:
                form.add_error(error.field, error.message)
            else:  # e.g. a colleague decided first: say so on the fresh case view
                messages.error(request, error.message)
                return redirect("admin:disputes_dispute_change", dispute.pk)
        if form is not None and not form.is_valid():
            messages.error(request, _("The action was not carried out; see the form below."))
            return self._render_desk(request, self._dispute(object_id), **{action: form})
        messages.success(request, _("Done."))
        return redirect("admin:disputes_dispute_change", dispute.pk)

    def document_view(
        self, request: HttpRequest, object_id: int, attachment_id: int
    ) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        attachment = Attachment.objects.filter(pk=attachment_id, dispute_id=object_id).first()
        if attachment is None:
            raise Http404
        response = FileResponse(
            attachment.file.open("rb"),
            content_type=attachment.content_type,
            filename=attachment.original_name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


def _staff_actor(request: HttpRequest) -> Actor:
    if request.user.pk is None:
        raise PermissionDenied
    return Actor.staff(user_id=int(request.user.pk))


def desk_actions_allowed(dispute: Dispute, user: Any, *, ignore_state: bool = False) -> set[str]:
    """The desk actions this staff member may take on this case now.

    With `ignore_state` only permissions count: the service then says, in words, when the
    state does not allow it (two colleagues acting at once get a clear message, not a 403).
    """
    allowed: set[str] = set()
    may_decide = user.has_perm("disputes.decide_dispute")
    if dispute.appealed_at is not None and dispute.is_open:
        may_decide = may_decide and user.has_perm("disputes.decide_appeal")
    may_assign = user.has_perm("disputes.assign_dispute")
    if may_assign:
        allowed.add("assign")
    if may_decide and (may_assign or dispute.assigned_to_id in (None, user.pk)):
        allowed.add("assign_me")
    with_support = dispute.state in (State.ESCALATED, State.INFO_REQUESTED)
    if may_decide and (with_support or ignore_state):
        allowed.update({"decide", "decide_return"})
    if may_decide and (dispute.state == State.ESCALATED or ignore_state):
        allowed.add("request_info")
    return allowed


def merchant_rate_recent(merchant: Merchant, now: Any) -> dict[str, Any]:
    since = now - timedelta(days=90)
    opened = Dispute.objects.filter(merchant=merchant, opened_at__gte=since).count()
    orders = Order.objects.filter(merchant=merchant, placed_at__gte=since).count()
    rate = dispute_rate(disputes_opened=opened, orders_placed=orders)
    return {
        "opened": opened,
        "orders": orders,
        "percent": None if rate is None else rate * 100,
        "standing": rate_standing(rate),
    }


admin.site.site_header = _("Dispute portal — support desk")
admin.site.site_title = _("Dispute portal")
