"""The shop's team: owners invite, withdraw invitations and remove members; the invited person
accepts (or not) on the invitation page; any member can leave a shop."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView

from disputes.errors import DomainError
from disputes.memberships import (
    INVITATION_VALID_DAYS,
    AlreadyMember,
    MemberNotRemovable,
    invitation_accept,
    invitation_accept_new_account,
    invitation_withdraw,
    membership_leave,
    membership_remove,
    team_invite,
)
from disputes.models import MerchantMembership, TeamInvitation

from ..base import ACTIVE_MERCHANT, MerchantPortalMixin, membership_for
from ..emails import invitation_id_from_token
from ..forms import AddMemberForm, InvitationPasswordForm


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
        context["invitations"] = TeamInvitation.objects.filter(
            merchant=self.merchant,
            accepted_at=None,
            withdrawn_at=None,
            expires_at__gt=timezone.now(),
        ).order_by("email")
        context["valid_days"] = INVITATION_VALID_DAYS
        return context

    def form_valid(self, form: AddMemberForm) -> HttpResponse:
        email = form.cleaned_data["email"]
        try:
            team_invite(
                merchant=self.merchant,
                email=email,
                role=form.cleaned_data["role"],
                invited_by_id=self.membership.user_id,
            )
        except AlreadyMember as error:
            form.add_error(error.field, error.message)
            return self.form_invalid(form)
        # The same answer whether or not the address has an account anywhere.
        messages.success(
            self.request,
            _(
                "We sent an invitation to %(email)s. They join the team when they accept it "
                "(within %(days)s days)."
            )
            % {"email": email, "days": INVITATION_VALID_DAYS},
        )
        return redirect("portal:team")


class TeamInvitationWithdrawView(MerchantPortalMixin, View):
    owner_only = True
    http_method_names = ["post"]

    def post(self, request: HttpRequest, invitation_id: int) -> HttpResponse:
        invitation = get_object_or_404(TeamInvitation, pk=invitation_id, merchant=self.merchant)
        invitation_withdraw(invitation=invitation)
        messages.success(
            request,
            _("The invitation to %(email)s is withdrawn: its link no longer works.")
            % {"email": invitation.email},
        )
        return redirect("portal:team")


class TeamRemoveView(MerchantPortalMixin, View):
    """Removing a member asks first (GET, or a POST without `confirmed`), then removes."""

    owner_only = True

    def _membership(self, membership_id: int) -> MerchantMembership:
        return get_object_or_404(
            MerchantMembership.objects.select_related("user"),
            pk=membership_id,
            merchant=self.merchant,
        )

    def get(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        membership = self._membership(membership_id)
        email = membership.user.get_username()
        return render(
            request,
            "portal/confirm.html",
            {
                **self.page_context,
                "title": _("Remove %(email)s from the team?") % {"email": email},
                "explanation": _(
                    "%(email)s can no longer sign in to this shop's portal. You can invite them "
                    "again later."
                )
                % {"email": email},
                "action": reverse("portal:team-remove", args=[membership.pk]),
                "button": _("Yes, remove %(email)s") % {"email": email},
                "back_url": reverse("portal:team"),
            },
        )

    def post(self, request: HttpRequest, membership_id: int) -> HttpResponse:
        if request.POST.get("confirmed") != "yes":
            return self.get(request, membership_id)
        membership = self._membership(membership_id)
        try:
            membership_remove(membership=membership, removed_by_id=self.membership.user_id)
        except MemberNotRemovable as error:
            messages.error(request, error.message)
        else:
            removed = membership.user.get_username()
            messages.success(request, _("%(email)s is no longer on the team.") % {"email": removed})
        return redirect("portal:team")


class LeaveShopView(MerchantPortalMixin, View):
    """A member leaves the shop they work for now, after a confirmation step."""

    def get(self, request: HttpRequest) -> HttpResponse:
        shop = self.merchant.name
        return render(
            request,
            "portal/confirm.html",
            {
                **self.page_context,
                "title": _("Leave %(shop)s?") % {"shop": shop},
                "explanation": _(
                    "You can no longer see or answer %(shop)s's cases. An owner can invite you "
                    "again later. Your login stays, with any other shops you work for."
                )
                % {"shop": shop},
                "action": reverse("portal:leave"),
                "button": _("Yes, leave %(shop)s") % {"shop": shop},
                "back_url": reverse("portal:preferences"),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("confirmed") != "yes":
            return self.get(request)
        shop = self.merchant.name
        try:
            membership_leave(membership=self.membership)
        except MemberNotRemovable as error:
            messages.error(request, error.message)
            return redirect("portal:preferences")
        request.session.pop(ACTIVE_MERCHANT, None)
        if membership_for(request) is None:
            logout(request)
        messages.success(request, _("You have left %(shop)s.") % {"shop": shop})
        return redirect("portal:dashboard")


class InvitationView(View):
    """The link in an invitation email. Nobody joins by opening it: the invited person says
    yes here, signed in with the invited address, or by choosing a password when the address
    has no account yet."""

    template_name = "portal/account/invitation.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        invitation_id = invitation_id_from_token(kwargs["token"])
        invitation = (
            TeamInvitation.objects.select_related("merchant").filter(pk=invitation_id).first()
            if invitation_id is not None
            else None
        )
        if invitation is None or not invitation.is_open(timezone.now()):
            return render(request, self.template_name, {"closed": True}, status=410)
        self.invitation: TeamInvitation = invitation
        response = super().dispatch(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        return response

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        return self._page(request, InvitationPasswordForm(self.invitation.email))

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        invitation = self.invitation
        try:
            if request.user.is_authenticated:
                if request.POST.get("accept") != "yes":
                    return self._page(request, InvitationPasswordForm(invitation.email))
                membership = invitation_accept(invitation_id=invitation.pk, user=request.user)
            else:
                form = InvitationPasswordForm(invitation.email, request.POST)
                if self._has_account() or not form.is_valid():
                    return self._page(request, form)
                membership = invitation_accept_new_account(
                    invitation_id=invitation.pk, password=form.cleaned_data["new_password1"]
                )
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        except DomainError as error:
            messages.error(request, error.message)
            return self._page(request, InvitationPasswordForm(invitation.email))
        request.session[ACTIVE_MERCHANT] = membership.merchant_id
        messages.success(
            request,
            _("Welcome to the team of %(shop)s.") % {"shop": invitation.merchant.name},
        )
        return redirect("portal:dashboard")

    def _has_account(self) -> bool:
        return (
            get_user_model()
            ._default_manager.filter(username__iexact=self.invitation.email)
            .exists()
        )

    def _page(self, request: HttpRequest, form: InvitationPasswordForm) -> HttpResponse:
        user = request.user
        signed_in_as = user.get_username() if user.is_authenticated else ""
        return render(
            request,
            self.template_name,
            {
                "invitation": self.invitation,
                "form": form,
                "signed_in_as": signed_in_as,
                "is_invited_person": signed_in_as.lower() == self.invitation.email,
                "has_account": not signed_in_as and self._has_account(),
                "login_url": f"{reverse('portal:login')}?{urlencode({'next': request.path})}",
            },
        )
