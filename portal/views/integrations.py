"""Portal pages for the shop's owner: API keys and webhook endpoints with their delivery log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from api.keys import api_key_create, api_key_revoke, api_keys_for_merchant
from api.models import ApiKey, WebhookEndpoint
from api.webhooks.delivery import webhook_resend
from api.webhooks.endpoints import (
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
from notifications.models import Channel, OutboxMessage

from ..base import MerchantPortalMixin
from ..forms import ApiKeyForm, WebhookEndpointForm

DELIVERIES_SHOWN = 50


class ApiOverviewView(MerchantPortalMixin, TemplateView):
    owner_only = True
    template_name = "portal/api/index.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            keys=api_keys_for_merchant(self.merchant),
            endpoints=WebhookEndpoint.objects.filter(merchant=self.merchant),
            key_form=kwargs.get("key_form") or ApiKeyForm(),
        )
        return context


class ApiKeyCreateView(ApiOverviewView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(key_form=form))
        created = api_key_create(
            name=form.cleaned_data["name"],
            merchant=self.merchant,
            scopes=form.cleaned_data["scopes"],
            created_by_id=self.membership.user_id,
            now=timezone.now(),
        )
        # Shown on this response only: it is not stored and never shown again.
        return self.render_to_response(self.get_context_data(new_key=created.key))


class ApiKeyRevokeView(MerchantPortalMixin, View):
    """Revoking a key asks first (GET, or a POST without `confirmed`), then revokes."""

    owner_only = True

    def get(self, request: HttpRequest, key_id: int) -> HttpResponse:
        api_key = get_object_or_404(ApiKey, pk=key_id, merchant=self.merchant)
        return render(
            request,
            "portal/confirm.html",
            {
                **self.page_context,
                "title": _("Revoke the key %(name)s?") % {"name": api_key.name},
                "explanation": _(
                    "Software that uses this key stops working at once: every request with it is "
                    "refused. A revoked key cannot be used again; create a new one if needed."
                ),
                "action": reverse("portal:api-key-revoke", args=[api_key.pk]),
                "button": _("Yes, revoke %(name)s") % {"name": api_key.name},
                "back_url": reverse("portal:api-index"),
            },
        )

    def post(self, request: HttpRequest, key_id: int) -> HttpResponse:
        if request.POST.get("confirmed") != "yes":
            return self.get(request, key_id)
        api_key = get_object_or_404(ApiKey, pk=key_id, merchant=self.merchant)
        api_key_revoke(api_key=api_key, now=timezone.now())
        messages.success(request, _("The key %(name)s is revoked.") % {"name": api_key.name})
        return redirect("portal:api-index")


class WebhookCreateView(MerchantPortalMixin, View):
    owner_only = True

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request, WebhookEndpointForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = WebhookEndpointForm(request.POST)
        if not form.is_valid():
            return self._page(request, form)
        endpoint = webhook_endpoint_create(
            merchant_id=self.merchant.pk,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            enabled=form.cleaned_data["enabled"],
            now=timezone.now(),
        )
        messages.success(request, _("The endpoint is added."))
        return redirect("portal:api-webhook", endpoint.pk)

    def _page(self, request: HttpRequest, form: WebhookEndpointForm) -> HttpResponse:
        return render(
            request,
            "portal/api/webhook_form.html",
            {
                "form": form,
                **self.page_context,
            },
        )


class WebhookDetailView(MerchantPortalMixin, View):
    owner_only = True

    def get(self, request: HttpRequest, endpoint_id: int) -> HttpResponse:
        endpoint = self._endpoint(endpoint_id)
        form = WebhookEndpointForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "events": endpoint.events,
                "enabled": endpoint.enabled,
            }
        )
        return self._page(request, endpoint, form)

    def post(self, request: HttpRequest, endpoint_id: int) -> HttpResponse:
        endpoint = self._endpoint(endpoint_id)
        form = WebhookEndpointForm(request.POST)
        if not form.is_valid():
            return self._page(request, endpoint, form)
        webhook_endpoint_update(
            endpoint=endpoint,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            enabled=form.cleaned_data["enabled"],
        )
        messages.success(request, _("The endpoint is saved."))
        return redirect("portal:api-webhook", endpoint.pk)

    def _endpoint(self, endpoint_id: int) -> WebhookEndpoint:
        return get_object_or_404(WebhookEndpoint, pk=endpoint_id, merchant=self.merchant)

    def _page(
        self, request: HttpRequest, endpoint: WebhookEndpoint, form: WebhookEndpointForm
    ) -> HttpResponse:
        deliveries = (
            OutboxMessage.objects.filter(channel=Channel.WEBHOOK, context__endpoint_id=endpoint.pk)
            .prefetch_related("webhook_attempts")
            .order_by("-created_at", "-id")[:DELIVERIES_SHOWN]
        )
        return render(
            request,
            "portal/api/webhook.html",
            {
                "endpoint": endpoint,
                "form": form,
                "deliveries": deliveries,
                "signing_secrets": endpoint.signing_secrets(timezone.now()),
                **self.page_context,
            },
        )


class WebhookRotateSecretView(MerchantPortalMixin, View):
    owner_only = True
    http_method_names = ["post"]

    def post(self, request: HttpRequest, endpoint_id: int) -> HttpResponse:
        endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, merchant=self.merchant)
        webhook_endpoint_rotate_secret(endpoint=endpoint, now=timezone.now())
        messages.success(
            request, _("A new secret is in use; the old one also signs for the next 24 hours.")
        )
        return redirect("portal:api-webhook", endpoint.pk)


class WebhookResendView(MerchantPortalMixin, View):
    owner_only = True
    http_method_names = ["post"]

    def post(self, request: HttpRequest, endpoint_id: int, message_id: int) -> HttpResponse:
        endpoint = get_object_or_404(
            WebhookEndpoint, pk=endpoint_id, merchant=self.merchant, enabled=True
        )
        message = get_object_or_404(
            OutboxMessage, pk=message_id, channel=Channel.WEBHOOK, context__endpoint_id=endpoint.pk
        )
        webhook_resend(message=message, now=timezone.now())
        messages.success(request, _("The event is queued to be sent again."))
        return redirect("portal:api-webhook", endpoint.pk)
