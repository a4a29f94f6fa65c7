"""What every merchant-portal page stands on: a logged-in user acting for one merchant.

A merchant user sees only its own merchant's data: views read `self.merchant` and pass it to
selectors and services, which filter by it. Another merchant's object is a 404, never a 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse_lazy
from django.utils.cache import add_never_cache_headers

from disputes.actors import Actor
from disputes.choices import MemberRole
from disputes.models import Merchant, MerchantMembership

ACTIVE_MERCHANT = "portal.merchant"


def membership_for(request: HttpRequest) -> MerchantMembership | None:
    """The membership the user acts under: the one chosen in this session, else the first."""
    if not request.user.is_authenticated:
        return None
    memberships = MerchantMembership.objects.select_related("merchant").filter(user=request.user)
    chosen = request.session.get(ACTIVE_MERCHANT)
    if chosen is not None:
        membership = memberships.filter(merchant_id=chosen).first()
        if membership is not None:
            return membership
    return memberships.order_by("merchant__name").first()


class MerchantPortalMixin(LoginRequiredMixin):
    """Requires a login with a merchant membership; `owner_only` pages require the owner role."""

    login_url = reverse_lazy("portal:login")
    owner_only = False
    membership: MerchantMembership
    merchant: Merchant

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = membership_for(request)
        if membership is None:
            raise PermissionDenied("This account has no access to a shop.")
        if self.owner_only and membership.role != MemberRole.OWNER:
            raise PermissionDenied("Only the shop's owner can do this.")
        self.membership = membership
        self.merchant = membership.merchant
        response: HttpResponseBase = super().dispatch(request, *args, **kwargs)
        # A shop's cases, customers and keys: no browser or proxy cache keeps a copy.
        add_never_cache_headers(response)
        return response

    @property
    def actor(self) -> Actor:
        return Actor.merchant_user(user_id=self.membership.user_id, merchant_id=self.merchant.pk)

    @property
    def page_context(self) -> dict[str, Any]:
        """What the portal's layout shows on every page: the shop, the user, their role."""
        return {
            "merchant": self.merchant,
            "membership": self.membership,
            "is_owner": self.membership.role == MemberRole.OWNER,
        }

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context.update(self.page_context)
        return context


URGENT_HOURS = 48


def time_left(due_at: datetime | None, now: datetime) -> dict[str, Any] | None:
    """Days and hours to a deadline, and whether it is within URGENT_HOURS (shown in red)."""
    if due_at is None:
        return None
    seconds = max(0, int((due_at - now).total_seconds()))
    days, hours = divmod(seconds // 3600, 24)
    return {"days": days, "hours": hours, "urgent": seconds < URGENT_HOURS * 3600}
