from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import (
    Attachment,
    Dispute,
    DisputeEvent,
    Merchant,
    MerchantMembership,
    Order,
    PlatformPartner,
)


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


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "merchant",
        "program",
        "reason",
        "state",
        "next_actor",
        "due_at",
        "opened_at",
    ]
    list_filter = ["state", "program", "reason", "next_actor"]
    search_fields = ["public_id", "order__order_number", "order__customer_email"]
    list_select_related = ["merchant"]
    show_full_result_count = False
    ordering = ["-opened_at"]
    inlines = [EventInline, AttachmentInline]
    # A state is never edited by hand: every change goes through disputes.services.
    readonly_fields = [f.name for f in Dispute._meta.get_fields() if getattr(f, "concrete", False)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


admin.site.site_header = _("Dispute portal — support desk")
admin.site.site_title = _("Dispute portal")
