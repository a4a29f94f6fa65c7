"""The support desk's admin site: sign-in with a lockout (django-axes) and a second factor.

Staff decide every shop's cases, so their sign-in is guarded more strictly than the portal's:
failed attempts lock the address and the account for a while (axes, settings AXES_*), and a
staff member with an authenticator app (TOTP, django-otp) must give its code as well as the
password. With SUPPORT_DESK_REQUIRE_OTP on, staff without an app are taken to set one up before
any desk page opens.
"""

from __future__ import annotations

import math
from typing import Any, NoReturn

from axes.handlers.database import AxesDatabaseHandler
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.translation import gettext_lazy as _
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

from .two_factor import WRONG_CODE, TwoFactorView, seconds_to_wait, wait_message

TWO_FACTOR_URL_NAME = "two-factor"
NO_CODE = _("Enter the current code from your authenticator app.")


class StaffLoginForm(AdminAuthenticationForm):
    """Email or username, password, and the authenticator code when the account has an app.

    A wrong code, or one sent while the app's device makes the user wait, counts as a failed
    sign-in.
    """

    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        required=False,
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
        help_text=_("Only asked of staff who have set up two-factor sign-in."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()  # checks the password (and the lockout) first
        user = self.get_user()
        app = TOTPDevice.objects.filter(user=user, confirmed=True).first() if user else None
        if app is None:
            return cleaned
        token = "".join(str(cleaned.get("otp_token") or "").split())
        wait = seconds_to_wait(app)
        if wait:
            self._refuse(user, wait_message(wait))
        device = match_token(user, token) if token else None
        if device is None:
            self._refuse(user, WRONG_CODE if token else NO_CODE)
        # django-otp marks the session verified when this user is logged in.
        user.otp_device = device  # type: ignore[attr-defined]
        return cleaned

    def _refuse(self, user: Any, message: Any) -> NoReturn:
        """A refused code counts as a failed sign-in for the lockout, like a wrong password."""
        user_login_failed.send(
            sender=type(self), credentials={"username": user.get_username()}, request=self.request
        )
        self.user_cache = None
        raise forms.ValidationError(message, code="otp")


class SupportDeskSite(admin.AdminSite):
    site_header = _("Dispute portal — support desk")
    site_title = _("Dispute portal")
    login_form = StaffLoginForm
    login_template = "admin/desk_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        """Staff, and verified by their app when they have one (a portal sign-in is not)."""
        if not super().has_permission(request):
            return False
        user: Any = request.user  # django-otp's middleware adds is_verified()
        return bool(user.is_verified() or not has_app(request))

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if needs_enrolment(request):
                return redirect(f"{self.name}:{TWO_FACTOR_URL_NAME}")
            # Hand-made query strings that Django's admin (and the apps it lists) would turn
            # into a server error: a NUL, which PostgreSQL refuses in a filter, is answered as
            # any wrong filter (?e=1); an empty _to_field names no field and is dropped.
            if any("\x00" in value for value in request.GET.values()):
                return redirect(f"{request.path}?e=1")
            if request.GET.get("_to_field", None) == "":
                query = request.GET.copy()
                del query["_to_field"]
                request.GET = query  # type: ignore[assignment]
            return inner(request, *args, **kwargs)

        guarded.__dict__.update(inner.__dict__)  # csrf and cache markers
        return guarded

    def get_urls(self) -> list[URLResolver | URLPattern]:
        own = [
            path(
                "two-factor/",
                TwoFactorView.as_view(admin_site=self),
                name=TWO_FACTOR_URL_NAME,
            )
        ]
        return own + super().get_urls()

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["two_factor_url"] = reverse(f"{self.name}:{TWO_FACTOR_URL_NAME}")
        return context


def needs_enrolment(request: HttpRequest) -> bool:
    """Staff signed in with a password only, where the desk requires an authenticator app."""
    user = request.user
    return bool(
        settings.SUPPORT_DESK_REQUIRE_OTP
        and user.is_active
        and user.is_staff
        and not has_app(request)
    )


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """What a locked-out address or account sees at the desk's sign-in (axes' lockout callable):
    the portal's own "too many attempts" page, with a Retry-After header."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(
        request,
        "rate_limited.html",
        {"retry_minutes": max(1, math.ceil(seconds / 60))},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


class DeskAttemptsHandler(AxesDatabaseHandler):
    """axes' database handler counting the desk's sign-ins only: the portal's sign-in has its
    own limits (portal/throttle.py), and a merchant's typos must not lock staff out."""

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_login_failed(sender, credentials, request, **kwargs)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_logged_in(sender, request, user, **kwargs)


def has_app(request: HttpRequest) -> bool:
    """Whether the signed-in user has a confirmed authenticator app: asked by every desk page
    (permission, layout, enrolment), so looked up once per request."""
    known: bool | None = getattr(request, "_desk_has_app", None)
    if known is None:
        known = user_has_device(request.user, confirmed=True)
        request._desk_has_app = known  # type: ignore[attr-defined]
    return known
