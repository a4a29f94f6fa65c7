"""Merchant portal accounts: sign in and out, passwords, email preferences, the team.

Usernames are email addresses. Failed sign-ins are throttled per client address and per
address + email; a password link goes out by email for a reset and for a new team member.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UsernameField
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, UpdateView

from disputes_portal.ratelimit import client_ip, hit, rate_limited

from ..choices import MemberRole
from ..memberships import AlreadyMember, MemberNotRemovable, membership_add, membership_remove
from ..models import Merchant, MerchantMembership
from .portal_base import ACTIVE_MERCHANT, MerchantPortalMixin

NOTIFY_FIELDS = [
    "notify_new_case",
    "notify_reminders",
    "notify_escalation",
    "notify_decision",
    "notify_customer_reply",
    "notify_monthly_statement",
]
RESET_EMAIL_SUBJECT = "portal/account/password_reset_subject.txt"
RESET_EMAIL_BODY = "portal/account/password_reset_email.txt"


# --- Sign in -------------------------------------------------------------------------------------

# One message for an unknown address and a wrong password: the form must not reveal accounts.
INVALID_LOGIN = gettext_lazy(
    "We could not sign you in with this email address and password. Check both and try again."
)


class EmailAuthenticationForm(AuthenticationForm):
    username = UsernameField(
        label=gettext_lazy("Email address"),
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    error_messages = {"invalid_login": INVALID_LOGIN, "inactive": INVALID_LOGIN}

    def clean_username(self) -> str:
        typed: str = self.cleaned_data["username"]
        # Usernames are email addresses: accept any capitalisation of a stored one.
        stored = list(
            get_user_model()
            ._default_manager.filter(username__iexact=typed)
            .values_list("username", flat=True)[:2]
        )
        return stored[0] if len(stored) == 1 else typed


@dataclass(frozen=True)
class LoginThrottle:
    """Failed sign-ins counted per client address and per address + email; successes never count.

    `hit()` counts a failure; once a counter reaches its limit, a marker blocks further attempts
    until the counter's window ends, so a blocked client is refused before any password check.
    """

    limits: tuple[tuple[str, int], ...]  # (counter key, failures allowed per window)
    window: int

    @classmethod
    def for_request(cls, request: HttpRequest) -> LoginThrottle:
        address = client_ip(request)
        email = str(request.POST.get("username", "")).strip().lower()
        email_digest = hashlib.sha256(email.encode()).hexdigest()[:32]
        return cls(
            limits=(
                (
                    f"login-failure:{address}:{email_digest}",
                    getattr(settings, "LOGIN_FAILURE_LIMIT", 5),
                ),
                (
                    f"login-failure:{address}",
                    getattr(settings, "LOGIN_FAILURE_ADDRESS_LIMIT", 20),
                ),
            ),
            window=getattr(settings, "LOGIN_FAILURE_WINDOW", 900),
        )

    def retry_after(self) -> int:
        """Seconds until this client may try again; 0 when it may try now."""
        blocked_until = max(cache.get(f"{key}:blocked-until", 0) for key, _limit in self.limits)
        return max(0, math.ceil(blocked_until - time.time()))

    def count_failure(self) -> None:
        for key, limit in self.limits:
            # Counted against limit - 1, a refusal means this failure was the last one allowed.
            verdict = hit(key, limit=limit - 1, window=self.window)
            if not verdict.allowed:
                cache.set(
                    f"{key}:blocked-until",
                    time.time() + verdict.retry_after,
                    timeout=verdict.retry_after + 1,
                )


def too_many_attempts(request: HttpRequest, retry_after: int) -> HttpResponse:
    response = render(
        request,
        "rate_limited.html",
        {"retry_minutes": max(1, math.ceil(retry_after / 60))},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    return response


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


class PortalPasswordResetForm(PasswordResetForm):
    """Django's reset form with our email context; invited members may use it to set a password."""

    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def extra_context(self) -> dict[str, Any]:
        return {
            "site_url": settings.SITE_URL,
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
        }

    def get_users(self, email: str) -> Any:
        # An unusable password here means "invited, no password chosen yet", so such a member
        # who lost the invitation can still get a link.
        users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
        return (user for user in users if user.email.casefold() == email.casefold())

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        super().send_mail(
            subject_template_name,
            email_template_name,
            context | self.extra_context(),
            from_email,
            to_email,
            html_email_template_name,
        )


class InvitationForm(PortalPasswordResetForm):
    """Sends a new team member the link to choose their first password."""

    def __init__(self, *, user: AbstractBaseUser, merchant: Merchant) -> None:
        super().__init__(data={"email": getattr(user, "email", "")})
        self.user = user
        self.merchant = merchant

    def get_users(self, email: str) -> Any:
        return [self.user] if self.user.is_active else []

    def extra_context(self) -> dict[str, Any]:
        return super().extra_context() | {"invited": True, "merchant_name": self.merchant.name}


def send_invitation(*, user_id: int, merchant_id: int) -> None:
    user = get_user_model()._default_manager.get(pk=user_id)
    merchant = Merchant.objects.get(pk=merchant_id)
    # The member is not the one who clicked: write in the shop's email language.
    with translation.override(merchant.language):
        form = InvitationForm(user=user, merchant=merchant)
        if form.is_valid():
            form.save(
                domain_override=settings.SITE_URL.split("://", 1)[-1],
                subject_template_name=RESET_EMAIL_SUBJECT,
                email_template_name=RESET_EMAIL_BODY,
            )


_public_form_limit: Any = rate_limited(
    "password-reset",
    limit_setting="PUBLIC_FORM_RATE_LIMIT",
    window_setting="PUBLIC_FORM_RATE_WINDOW",
)


@method_decorator(_public_form_limit, name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "portal/account/password_reset_form.html"
    subject_template_name = RESET_EMAIL_SUBJECT
    email_template_name = RESET_EMAIL_BODY
    success_url = reverse_lazy("portal:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/account/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "portal/account/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/account/password_reset_complete.html"


# --- Email preferences ---------------------------------------------------------------------------


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = MerchantMembership
        fields = NOTIFY_FIELDS


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


# --- Team ----------------------------------------------------------------------------------------


class AddMemberForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("Email address"),
        max_length=150,  # the username holds it
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        choices=MemberRole.choices,
        initial=MemberRole.AGENT,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Owners can also manage the team; agents work on cases."),
    )

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class TeamView(MerchantPortalMixin, FormView):
    owner_only = True
    form_class = AddMemberForm
    template_name = "portal/account/team.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["members"] = (
            MerchantMembership.objects.filter(merchant=self.merchant)
            .select_related("user")
            .order_by("user__username")
        )
        return context

    def form_valid(self, form: AddMemberForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        try:
            membership, invited = membership_add(
                merchant=self.merchant, email=email, role=form.cleaned_data["role"]
            )
        except AlreadyMember as error:
            form.add_error(error.field, error.message)
            return self.form_invalid(form)
        if invited:
            transaction.on_commit(
                partial(send_invitation, user_id=membership.user_id, merchant_id=self.merchant.pk)
            )
            message = _("%(email)s is on the team. We sent them an email to choose a password.")
        else:
            message = _("%(email)s is on the team and can sign in with their existing password.")
        messages.success(self.request, message % {"email": email})
        return redirect("portal:team")


class TeamRemoveView(MerchantPortalMixin, View):
    owner_only = True
    http_method_names = ["post"]

    def post(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        membership = get_object_or_404(
            MerchantMembership.objects.select_related("user"),
            pk=membership_id,
            merchant=self.merchant,
        )
        try:
            membership_remove(membership=membership, removed_by_id=self.membership.user_id)
        except MemberNotRemovable as error:
            messages.error(request, error.message)
        else:
            removed = membership.user.get_username()
            messages.success(request, _("%(email)s is no longer on the team.") % {"email": removed})
        return redirect("portal:team")


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
