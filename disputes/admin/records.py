"""The support desk's records: platform partners, merchants (with their team) and orders."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext

from ..contracts import check_terms_start, contract_terms_add, currencies_priced, terms_of
from ..errors import InvalidTerms
from ..models import ContractTerms, Merchant, MerchantMembership, Order, PlatformPartner
from ..policies import Terms, check_terms
from .order_import import order_import_urls
from .querystring import DeskModelAdmin


@admin.register(PlatformPartner)
class PlatformPartnerAdmin(DeskModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class MembershipInline(admin.TabularInline):
    model = MerchantMembership
    extra = 0
    autocomplete_fields = ["user"]


class ContractTermsForm(forms.ModelForm):
    """A new version of the terms, checked as the API checks it (bounds, start day, a fee
    plan that prices the merchant's currency); saved through `contract_terms_add`."""

    class Meta:
        model = ContractTerms
        fields = [
            "valid_from",
            "payment_dispute",
            "buyer_protection",
            "dispute_window_days",
            "dispute_window_day_count",
            "protection_window_days",
            "fee_plan",
        ]

    def as_terms(self) -> Terms:
        """The form's version read as the rules read a stored one."""
        given = {name: self.cleaned_data[name] for name in self.Meta.fields}
        return terms_of(ContractTerms(**given))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        merchant = self.instance.merchant if self.instance.merchant_id else None
        try:
            check_terms(self.as_terms())
            if merchant is not None:
                check_terms_start(merchant, data["valid_from"], today=timezone.now().date())
        except InvalidTerms as error:
            field = error.field if error.field in self.fields else None
            self.add_error(field, error.message)
        return data

    def validate_unique(self) -> None:
        """The start day rules say more than the unique constraint: checked in clean()."""


class ContractTermsInline(admin.TabularInline):
    """Versions in force stay as they are (cases keep them); a new one is added below."""

    model = ContractTerms
    form = ContractTermsForm
    extra = 0
    can_delete = False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Merchant)
class MerchantAdmin(DeskModelAdmin):
    list_display = ["name", "slug", "country", "currency", "time_zone", "platform_partner"]
    list_filter = ["country", "currency", "test_mode"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ContractTermsInline, MembershipInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ContractTerms:
            super().save_formset(request, form, formset, change)
            return
        merchant = form.instance
        # What the admin's change message reads from a formset it saved itself.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for terms_form in formset.extra_forms:
            if not terms_form.has_changed():
                continue
            terms = terms_form.as_terms()
            if not currencies_priced(terms.fee_plan, {merchant.currency}):
                messages.warning(
                    request,
                    gettext(
                        "The fee plan %(plan)s has no fees in %(currency)s: its cases are "
                        "billed once a fee schedule covers that currency."
                    )
                    % {"plan": terms.fee_plan, "currency": merchant.currency},
                )
            try:
                added = contract_terms_add(
                    merchant=merchant,
                    terms=terms,
                    valid_from=terms_form.cleaned_data["valid_from"],
                    now=timezone.now(),
                )
            except InvalidTerms as error:
                messages.error(
                    request,
                    gettext("The new contract terms were not saved: %(reason)s")
                    % {"reason": error.message},
                )
            else:
                formset.new_objects.append(added)


@admin.register(Order)
class OrderAdmin(DeskModelAdmin):
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
    change_list_template = "admin/disputes/order/change_list.html"
    # Payment and protection states change only through the services.
    readonly_fields = [
        "payment_state",
        "protection_status",
        "protection_extended_at",
        "protection_checkin_sent_at",
        "pseudonymised_at",  # set only by the retention job or an erasure
    ]

    def get_urls(self) -> list[Any]:
        return [*order_import_urls(), *super().get_urls()]
