"""Writes to a merchant's team: add and remove members (owners only, checked by the caller)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .choices import MemberRole
from .errors import DomainError
from .models import Merchant, MerchantMembership


class AlreadyMember(DomainError):
    code = "already_member"
    default_message = gettext_lazy("This person is already a member of this shop's team.")


class MemberNotRemovable(DomainError):
    code = "member_not_removable"


def membership_add(*, merchant: Merchant, email: str, role: str) -> tuple[MerchantMembership, bool]:
    """Add the person with this email to the team, creating their login if they have none.

    Returns the membership and whether the person still needs an invitation to choose a
    password (they have none of their own yet); the caller sends it.
    """
    users = get_user_model()._default_manager
    with transaction.atomic():
        user = users.filter(username__iexact=email).order_by("pk").first()
        if user is None:
            user, created = users.get_or_create(username=email, defaults={"email": email})
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
        try:
            with transaction.atomic():
                membership = MerchantMembership.objects.create(
                    user=user, merchant=merchant, role=role
                )
        except IntegrityError:
            raise AlreadyMember(field="email") from None
        invited = not user.has_usable_password()
    return membership, invited


def membership_remove(*, membership: MerchantMembership, removed_by_id: int) -> None:
    """Remove a member; an owner never removes themself and a shop always keeps an owner."""
    with transaction.atomic():
        # Lock the whole team in a fixed order: two owners removing each other take turns.
        team = list(
            MerchantMembership.objects.select_for_update()
            .filter(merchant_id=membership.merchant_id)
            .order_by("pk")
        )
        owners = [m for m in team if m.role == MemberRole.OWNER]
        if not any(m.user_id == removed_by_id for m in owners):
            raise PermissionDenied("Only the shop's owner can do this.")
        target = next((m for m in team if m.pk == membership.pk), None)
        if target is None:
            return  # removed meanwhile
        if target.user_id == removed_by_id:
            raise MemberNotRemovable(_("You cannot remove yourself from the team."))
        if target.role == MemberRole.OWNER and len(owners) <= 1:
            raise MemberNotRemovable(_("A shop always keeps at least one owner."))
        target.delete()
