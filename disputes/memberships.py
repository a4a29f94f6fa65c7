"""Writes to merchant users and teams: add and remove members (owners only, checked by the
caller), and the emails that let a member choose a password (an invitation, a reset).

Both emails go through the outbox in the transaction that causes them; the link itself is made
when the email is sent (portal/emails.py), so no password token is ever stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.services import EmailNotice, outbox_enqueue

from .choices import MemberRole
from .errors import DomainError
from .models import Merchant, MerchantMembership


class AlreadyMember(DomainError):
    code = "already_member"
    default_message = gettext_lazy("This person is already a member of this shop's team.")


class MemberNotRemovable(DomainError):
    code = "member_not_removable"


INVITATION_EMAIL = "merchant_invitation"
PASSWORD_RESET_EMAIL = "merchant_password_reset"  # noqa: S105 - an email kind


def membership_add(
    *, merchant: Merchant, email: str, role: str, now: datetime | None = None
) -> tuple[MerchantMembership, bool]:
    """Add the person with this email to the team, creating their login if they have none.

    Returns the membership and whether the person was invited to choose a password (they have
    none of their own yet): the invitation is queued in the same transaction, in the shop's
    email language.
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
        if invited:
            outbox_enqueue(
                notices=[
                    _password_notice(
                        user,
                        kind=INVITATION_EMAIL,
                        dedupe_key=f"{INVITATION_EMAIL}:{membership.pk}",
                        language=merchant.language,
                        context={"merchant_name": merchant.name},
                    )
                ],
                now=now or timezone.now(),
            )
    return membership, invited


def member_password_reset_request(
    *, users: Iterable[AbstractBaseUser], language: str, now: datetime | None = None
) -> int:
    """Queue a password-reset email to each of these users (each request gets its own)."""
    notices = [
        _password_notice(
            user,
            kind=PASSWORD_RESET_EMAIL,
            dedupe_key=f"{PASSWORD_RESET_EMAIL}:{user.pk}:{uuid.uuid4().hex}",
            language=language,
        )
        for user in users
    ]
    with transaction.atomic():
        outbox_enqueue(notices=notices, now=now or timezone.now())
    return len(notices)


def _password_notice(
    user: AbstractBaseUser,
    *,
    kind: str,
    dedupe_key: str,
    language: str,
    context: dict[str, str] | None = None,
) -> EmailNotice:
    email = str(getattr(user, "email", ""))
    return EmailNotice(
        kind=kind,
        recipient=email,
        dedupe_key=dedupe_key,
        language=language,
        # The link is made when the email is sent; the outbox keeps only whose it is.
        context={
            "password_user_id": user.pk,
            "email": email,
            "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
            **(context or {}),
        },
    )


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
