"""Setting up, replacing and turning off a staff member's authenticator app (TOTP)."""

from __future__ import annotations

import base64
import math
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login
from django_otp import user_has_device
from django_otp.plugins.otp_totp.models import TOTPDevice

APP_NAME = "Authenticator app"
WRONG_CODE = gettext_lazy(
    "That code is not right or has expired. Enter the code the app shows now."
)


def seconds_to_wait(device: TOTPDevice) -> int:
    """After a wrong code the app's device refuses codes for a while (doubling each time)."""
    allowed, data = device.verify_is_allowed()
    if allowed:
        return 0
    locked_until = (data or {}).get("locked_until")
    if locked_until is None:
        return 1
    return max(1, math.ceil((locked_until - timezone.now()).total_seconds()))


def wait_message(seconds: int) -> str:
    return ngettext(
        "Too many wrong codes: wait %(seconds)s second, then enter the code the app shows.",
        "Too many wrong codes: wait %(seconds)s seconds, then enter the code the app shows.",
        seconds,
    ) % {"seconds": seconds}


class CodeForm(forms.Form):
    otp_token = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "size": 8}
        ),
    )

    def __init__(self, *args: Any, device: TOTPDevice, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_otp_token(self) -> str:
        token = "".join(str(self.cleaned_data["otp_token"]).split())
        wait = seconds_to_wait(self.device)
        if wait:
            raise forms.ValidationError(wait_message(wait))
        if not self.device.verify_token(token):
            raise forms.ValidationError(WRONG_CODE)
        return token


@method_decorator([csrf_protect, never_cache], name="dispatch")
class TwoFactorView(View):
    """Staff only. Without an app: a QR code and a code to confirm it. With one: replace or
    (where the desk does not require it) turn it off, each confirmed with a current code."""

    admin_site: admin.AdminSite | None = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user: Any = request.user  # django-otp's middleware adds is_verified()
        if not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), self._url("login"))
        self.confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if self.confirmed is not None and not user.is_verified():
            # Signed in without the code (e.g. through the portal): sign in at the desk first.
            return redirect_to_login(request.get_full_path(), self._url("login"))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.confirmed is not None:
            return self._render(request, CodeForm(device=self.confirmed))
        return self._render(request, CodeForm(device=self._pending(request)))

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.confirmed is not None:
            form = CodeForm(request.POST, device=self.confirmed)
            if not form.is_valid():
                return self._render(request, form)
            self.confirmed.delete()
            if settings.SUPPORT_DESK_REQUIRE_OTP:
                messages.info(request, _("Your old app no longer works. Set up the new one now."))
            else:
                messages.success(request, _("Two-factor sign-in is off."))
            return redirect(self._url("two-factor"))
        device = self._pending(request)
        form = CodeForm(request.POST, device=device)
        if not form.is_valid():
            return self._render(request, form)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        otp_login(request, device)
        messages.success(
            request, _("Two-factor sign-in is on: from now on the desk also asks for a code.")
        )
        return redirect(self._url("index"))

    def _pending(self, request: HttpRequest) -> TOTPDevice:
        """The app being set up: the same one on every visit until its first code confirms it."""
        device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=request.user, name=APP_NAME, confirmed=False)
        return device

    def _render(self, request: HttpRequest, form: CodeForm) -> HttpResponse:
        device = form.device
        context: dict[str, Any] = {
            **(self.admin_site.each_context(request) if self.admin_site else {}),
            "title": _("Two-factor sign-in"),
            "form": form,
            "enrolled": device.confirmed,
            "required": settings.SUPPORT_DESK_REQUIRE_OTP,
            "has_other_device": user_has_device(request.user, confirmed=True),
        }
        if not device.confirmed:
            # segno writes plain SVG (no script, no style attribute): safe inline under our CSP.
            qr = segno.make(device.config_url, error="m")
            context["qr_svg"] = mark_safe(  # noqa: S308 - generated by segno from our own URL
                qr.svg_inline(scale=5, title=_("QR code for your authenticator app"))
            )
            context["secret"] = " ".join(
                base64.b32encode(device.bin_key).decode().rstrip("=")[i : i + 4]
                for i in range(0, 32, 4)
            ).strip()
        return TemplateResponse(request, "admin/two_factor.html", context)

    def _url(self, name: str) -> str:
        site = self.admin_site.name if self.admin_site else "admin"
        return reverse(f"{site}:{name}")
