"""Writes to merchant users and teams: invitations (an owner invites, the person accepts),
leaving and removing members, and the emails that let a person choose a password.

Nobody becomes a member of a shop without saying yes: the team page sends an invitation, and
only its acceptance creates the membership (and, for a new address, the login). The owner's
page answers the same whether the address has an account or not. Only an operator's onboarding
(`membership_add`) adds an owner directly.

Emails go through the outbox in the transaction that causes them; their links are made when the
email is sent (portal/emails.py), so no password or invitation token is ever stored.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

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
from .models import Merchant, MerchantMembership, TeamInvitation


class AlreadyMember(DomainError):
    code = "already_member"
    default_message = gettext_lazy("This person is already a member of this shop's team.")


class MemberNotRemovable(DomainError):
    code = "member_not_removable"


INVITATION_EMAIL = "merchant_invitation"  # an onboarded owner chooses a password
TEAM_INVITATION_EMAIL = "merchant_team_invitation"  # an owner invites someone to the team
INVITATION_VALID_DAYS = 7


class AddressNotAccepted(DomainError):
    code = "address_not_accepted"
    default_message = gettext_lazy(
        "The address contains invisible or look-alike characters. Type it again by hand."
    )

    def __init__(self) -> None:
        super().__init__(field="email")


def account_email(address: str) -> str:
    """The address an account is made for, lower case; refused when it holds characters that
    make it look like another one (zero-width and bidi controls, compatibility forms such as
    full-width letters, spaces inside). Every place that makes a login goes through here."""
    email = address.strip()
    if (
        not email
        or unicodedata.normalize("NFKC", email) != email
        or any(
            unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs", "Zs", "Zl", "Zp") for ch in email
        )
    ):
        raise AddressNotAccepted()
    return email.lower()


class InvitationClosed(DomainError):
    code = "invitation_closed"
    default_message = gettext_lazy(
        "This invitation is no longer open: it was accepted, withdrawn or has expired. Ask the "
        "shop's owner to invite you again."
    )


class InvitationForSomeoneElse(DomainError):
    code = "invitation_for_someone_else"
    default_message = gettext_lazy(
        "This invitation was sent to another email address. Sign in with that address to accept it."
    )


class AccountExists(DomainError):
    code = "account_exists"
    default_message = gettext_lazy(
        "There is already an account for this address: sign in with it to accept the invitation."
    )


PASSWORD_RESET_EMAIL = "merchant_password_reset"  # noqa: S105 - an email kind


def membership_add(
    *, merchant: Merchant, email: str, role: str, now: datetime | None = None
) -> tuple[MerchantMembership, bool]:
    """Add the person with this email to the team, creating their login if they have none.

    Returns the membership and whether the person was invited to choose a password (they have
    none of their own yet): the invitation is queued in the same transaction, in the shop's
    email language.
    """
    email = account_email(email)
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


def team_invite(
    *, merchant: Merchant, email: str, role: str, invited_by_id: int, now: datetime | None = None
) -> TeamInvitation:
    """Invite this address to the team, or renew its open invitation (new role, new 7 days).

    Whether the address has an account changes nothing here: the answer and the email are the
    same. Raises AlreadyMember when the address is on this team already (the team page lists
    its members, so that tells the owner nothing new).
    """
    now = now or timezone.now()
    email = account_email(email)
    with transaction.atomic():
        if MerchantMembership.objects.filter(
            merchant=merchant, user__username__iexact=email
        ).exists():
            raise AlreadyMember(field="email")
        invitation = (
            TeamInvitation.objects.select_for_update()
            .filter(merchant=merchant, email=email, accepted_at=None, withdrawn_at=None)
            .first()
        )
        if invitation is None:
            invitation = TeamInvitation(merchant=merchant, email=email, created_at=now)
        invitation.role = role
        invitation.invited_by_id = invited_by_id
        invitation.expires_at = now + timedelta(days=INVITATION_VALID_DAYS)
        invitation.save()
        inviter = get_user_model()._default_manager.filter(pk=invited_by_id).first()
        outbox_enqueue(
            notices=[
                EmailNotice(
                    kind=TEAM_INVITATION_EMAIL,
                    recipient=email,
                    dedupe_key=f"{TEAM_INVITATION_EMAIL}:{invitation.pk}:{uuid.uuid4().hex}",
                    language=merchant.language,
                    context={
                        INVITATION_KEY: invitation.pk,
                        "merchant_name": merchant.name,
                        "invited_by": inviter.get_username() if inviter else "",
                        "role": role,
                        "email": email,
                        "valid_days": INVITATION_VALID_DAYS,
                    },
                )
            ],
            now=now,
        )
    return invitation


INVITATION_KEY = "team_invitation_id"


def invitation_withdraw(*, invitation: TeamInvitation, now: datetime | None = None) -> None:
    """The owner takes an open invitation back: its link stops working."""
    TeamInvitation.objects.filter(pk=invitation.pk, accepted_at=None, withdrawn_at=None).update(
        withdrawn_at=now or timezone.now()
    )


def invitation_accept(
    *, invitation_id: int, user: AbstractBaseUser, now: datetime | None = None
) -> MerchantMembership:
    """The invited person, signed in with the invited address, says yes: they join the team."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = _open_invitation(invitation_id, now)
        if user.get_username().lower() != invitation.email:
            raise InvitationForSomeoneElse()
        return _join(invitation, user, now)


def invitation_accept_new_account(
    *, invitation_id: int, password: str, now: datetime | None = None
) -> MerchantMembership:
    """The invited address has no account: accepting creates it with this password."""
    now = now or timezone.now()
    users = get_user_model()._default_manager
    with transaction.atomic():
        invitation = _open_invitation(invitation_id, now)
        if users.filter(username__iexact=invitation.email).exists():
            raise AccountExists()
        user = users.create_user(
            username=invitation.email, email=invitation.email, password=password
        )
        return _join(invitation, user, now)


def _open_invitation(invitation_id: int, now: datetime) -> TeamInvitation:
    invitation = (
        TeamInvitation.objects.select_for_update()
        .select_related("merchant")
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None or not invitation.is_open(now):
        raise InvitationClosed()
    return invitation


def _join(invitation: TeamInvitation, user: AbstractBaseUser, now: datetime) -> MerchantMembership:
    membership, _created = MerchantMembership.objects.get_or_create(
        user_id=user.pk, merchant=invitation.merchant, defaults={"role": invitation.role}
    )
    invitation.accepted_at = now
    invitation.accepted_by_id = user.pk
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


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


def membership_leave(*, membership: MerchantMembership) -> None:
    """A member leaves a shop; its last owner cannot (another member must be made owner first)."""
    with transaction.atomic():
        team = list(
            MerchantMembership.objects.select_for_update()
            .filter(merchant_id=membership.merchant_id)
            .order_by("pk")
        )
        if not any(m.pk == membership.pk for m in team):
            return  # removed meanwhile
        owners = [m for m in team if m.role == MemberRole.OWNER]
        if membership.role == MemberRole.OWNER and len(owners) <= 1:
            raise MemberNotRemovable(
                _(
                    "You are this shop's only owner. Make another member an owner before you "
                    "leave, or ask support to close the shop's account."
                )
            )
        MerchantMembership.objects.filter(pk=membership.pk).delete()


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
