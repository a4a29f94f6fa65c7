"""The shop's team (owners only): who works on its cases, adding and removing members."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView

from disputes.memberships import (
    AlreadyMember,
    MemberNotRemovable,
    membership_add,
    membership_remove,
)
from disputes.models import MerchantMembership

from ..base import MerchantPortalMixin
from ..forms import AddMemberForm


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
            _membership, invited = membership_add(
                merchant=self.merchant, email=email, role=form.cleaned_data["role"]
            )
        except AlreadyMember as error:
            form.add_error(error.field, error.message)
            return self.form_invalid(form)
        if invited:
            message = _("%(email)s is on the team. We sent them an email to choose a password.")
        else:
            message = _("%(email)s is on the team and can sign in with their existing password.")
        messages.success(self.request, message % {"email": email})
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
