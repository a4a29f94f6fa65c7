"""The provider's endpoints for payment instructions, registered by the operator's staff."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from .models import EndpointAudience, ProviderEndpoint
from .webhooks.endpoints import (
    WebhookUrlRejected,
    check_webhook_url,
    webhook_endpoint_rotate_secret,
)
from .webhooks.signing import new_secret


class ProviderEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=300, assume_scheme="https")

    class Meta:
        model = ProviderEndpoint
        fields = ["url", "description", "enabled"]

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except WebhookUrlRejected as error:
            raise forms.ValidationError(str(error)) from None
        return url


@admin.register(ProviderEndpoint)
class ProviderEndpointAdmin(admin.ModelAdmin):
    form = ProviderEndpointForm
    list_display = ["url", "description", "enabled", "failing_since", "created_at"]
    readonly_fields = ["signing_secrets_shown", "failing_since", "disabled_reason", "created_at"]
    actions = ["rotate_secret"]

    @admin.display(description=_("signing secrets (the new one first during a rotation)"))
    def signing_secrets_shown(self, endpoint: ProviderEndpoint) -> SafeString:
        if endpoint.pk is None:
            return SafeString("")
        return format_html_join(
            "",
            "<code>{}</code><br>",
            ((secret,) for secret in endpoint.signing_secrets(timezone.now())),
        )

    def save_model(
        self, request: HttpRequest, obj: ProviderEndpoint, form: Any, change: bool
    ) -> None:
        if not change:
            obj.audience = EndpointAudience.PROVIDER
            obj.events = ["payment_instruction.created"]
            obj.secret = new_secret()
            obj.created_at = timezone.now()
        if obj.enabled:
            obj.failing_since, obj.disabled_reason = None, ""
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Rotate the signing secret (the old one signs 24 hours more)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[ProviderEndpoint]) -> None:
        for endpoint in queryset:
            webhook_endpoint_rotate_secret(endpoint=endpoint, now=timezone.now())
        self.message_user(request, _("New secrets are in use."), messages.SUCCESS)
