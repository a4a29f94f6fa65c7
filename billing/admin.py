from django.contrib import admin
from django.http import HttpRequest

from .models import FeeLine


@admin.register(FeeLine)
class FeeLineAdmin(admin.ModelAdmin):
    list_display = ["incurred_at", "merchant", "kind", "amount", "currency", "dispute"]
    list_filter = ["kind", "currency"]
    search_fields = ["merchant__name", "dispute__public_id"]
    list_select_related = ["merchant", "dispute"]
    show_full_result_count = False
    readonly_fields = [f.name for f in FeeLine._meta.concrete_fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
