"""Merchant portal accounts: sign in and out, passwords, email preferences, several shops.

Usernames are email addresses. Failed sign-ins are throttled per client address and per
address + email; a password link goes out by email (through the outbox) for a reset.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import UpdateView

from disputes.models import MerchantMembership
from disputes_portal.ratelimit import rate_limited

from ..base import ACTIVE_MERCHANT, MerchantPortalMixin
from ..forms import NOTIFY_FIELDS, EmailAuthenticationForm, PortalPasswordResetForm, PreferencesForm
from ..throttle import LoginThrottle, too_many_attempts

# --- Sign in -------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "portal/account/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.throttle = LoginThrottle.for_request(request)
        retry_after = self.throttle.retry_after()
        if retry_after:
            return too_many_attempts(request, retry_after)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # A non-field error means the email and password were checked and refused.
        if form.has_error(NON_FIELD_ERRORS):
            self.throttle.count_failure()
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """POST only; lands on settings.LOGOUT_REDIRECT_URL (the login page)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You are signed out."))
        return response


# --- Passwords -----------------------------------------------------------------------------------

_public_form_limit: Any = rate_limited(
    "password-reset",
    limit_setting="PUBLIC_FORM_RATE_LIMIT",
    window_setting="PUBLIC_FORM_RATE_WINDOW",
)


@method_decorator(_public_form_limit, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "portal/account/password_reset_form.html"
    success_url = reverse_lazy("portal:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/account/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/account/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/account/password_reset_complete.html"


# --- Email preferences ---------------------------------------------------------------------------


class PreferencesView(MerchantPortalMixin, UpdateView):
    """Each member chooses their own emails, for the shop they are working for now."""

    form_class = PreferencesForm
    template_name = "portal/account/preferences.html"
    success_url = reverse_lazy("portal:preferences")

    def get_object(self, queryset: Any = None) -> MerchantMembership:
        return self.membership

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["memberships"] = (
            MerchantMembership.objects.filter(user_id=self.membership.user_id)
            .select_related("merchant")
            .order_by("merchant__name")
        )
        return context

    def form_valid(self, form: forms.ModelForm) -> HttpResponse:
        membership = form.save(commit=False)
        membership.save(update_fields=NOTIFY_FIELDS)
        messages.success(self.request, _("Your email preferences are saved."))
        return redirect(self.get_success_url())


# --- Working for several shops -------------------------------------------------------------------


class SwitchMerchantView(MerchantPortalMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        membership = get_object_or_404(
            MerchantMembership.objects.select_related("merchant"),
            user_id=self.membership.user_id,
            merchant__slug=slug,
        )
        request.session[ACTIVE_MERCHANT] = membership.merchant_id
        messages.success(
            request, _("You are now working for %(shop)s.") % {"shop": membership.merchant.name}
        )
        return redirect("portal:dashboard")
