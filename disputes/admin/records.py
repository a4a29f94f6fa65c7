"""The support desk's records: platform partners, merchants (with their team) and orders."""

from django.contrib import admin

from ..models import Merchant, MerchantMembership, Order, PlatformPartner


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
