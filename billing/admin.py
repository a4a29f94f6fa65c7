from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from disputes.admin.querystring import DeskModelAdmin

from . import services
from .models import (
    FeeLine,
    FeeSchedule,
    MerchantFeeTerms,
    Statement,
    StatementLine,
    StatementStatus,
)
from .selectors import currencies_without_fee_schedule


@admin.register(FeeLine)
class FeeLineAdmin(DeskModelAdmin):
    list_display = ["incurred_at", "merchant", "kind", "amount", "currency", "dispute"]
    list_filter = ["kind", "currency"]
    search_fields = ["merchant__name", "dispute__public_id"]
    list_select_related = ["merchant", "dispute"]
    show_full_result_count = False
    readonly_fields = [f.name for f in FeeLine._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FeeSchedule)
class FeeScheduleAdmin(DeskModelAdmin):
    list_display = [
        "currency",
        "valid_from",
        "standard_fee",
        "elevated_fee",
        "rate_threshold",
        "minimum_orders",
        "waive_when_merchant_wins",
    ]
    list_filter = ["currency"]
    ordering = ["currency", "-valid_from"]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        missing = currencies_without_fee_schedule()
        if missing:
            self.message_user(
                request,
                _(
                    "There are orders in %(currencies)s, but no fee schedule below covers that "
                    "currency: escalations in it are charged no dispute fee until you add one."
                )
                % {"currencies": ", ".join(missing)},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)


@admin.register(MerchantFeeTerms)
class MerchantFeeTermsAdmin(DeskModelAdmin):
    list_display = ["merchant", "currency", "elevated_fee", "note"]
    list_filter = ["currency"]
    search_fields = ["merchant__name", "note"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]


class StatementLineInline(admin.TabularInline):
    model = StatementLine
    fields = ["kind", "dispute", "amount", "waived_amount", "waiver", "corrects", "correction_seq"]
    readonly_fields = ["kind", "dispute", "amount", "waived_amount", "waiver", "corrects"]
    readonly_fields += ["correction_seq"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatementLine]:
        return super().get_queryset(request).select_related("dispute", "corrects")


@admin.register(Statement)
class StatementAdmin(DeskModelAdmin):
    """Statements are computed, never typed in: the admin reads them and recomputes drafts."""

    list_display = [
        "period_start",
        "merchant",
        "currency",
        "status",
        "total",
        "disputes_opened",
        "orders_placed",
        "issued_at",
    ]
    list_filter = ["status", "currency", "period_start"]
    search_fields = ["merchant__name"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Statement._meta.concrete_fields]
    inlines = [StatementLineInline]
    actions = ["recompute_drafts", "issue_drafts"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Statement | None = None) -> bool:
        # An issued statement is view-only; drafts change only through "recompute".
        if obj is not None and obj.is_issued:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Statement | None = None) -> bool:
        if obj is not None and obj.is_issued:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # issued statements must never be bulk-deleted
        return actions

    @admin.action(description=_("Recompute the selected drafts"), permissions=["change"])
    def recompute_drafts(self, request: HttpRequest, queryset: QuerySet[Statement]) -> None:
        self._apply(request, queryset, services.statement_recompute_draft, issue=False)

    @admin.action(description=_("Issue the selected drafts"), permissions=["change"])
    def issue_drafts(self, request: HttpRequest, queryset: QuerySet[Statement]) -> None:
        self._apply(request, queryset, services.statement_issue_draft, issue=True)

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Statement], action: Any, *, issue: bool
    ) -> None:
        drafts = list(queryset.filter(status=StatementStatus.DRAFT))
        skipped = queryset.count() - len(drafts)
        for statement in drafts:
            action(statement=statement)
        if drafts:
            self.message_user(
                request,
                (
                    ngettext("%(count)d draft issued.", "%(count)d drafts issued.", len(drafts))
                    if issue
                    else ngettext(
                        "%(count)d draft recomputed.", "%(count)d drafts recomputed.", len(drafts)
                    )
                )
                % {"count": len(drafts)},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d statement is issued and was left unchanged.",
                    "%(count)d statements are issued and were left unchanged.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )
