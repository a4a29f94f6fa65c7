"""The links in account emails, made when the email is sent: the password link (an onboarded
owner's first password, a reset) and the link that accepts a team invitation.

The outbox keeps only the user's id (`password_user_id`): a reset token in a stored row would let
whoever reads the outbox (the support desk shows it) choose a merchant user's password. The
token is made from the user as they are when the email leaves, and works for
PASSWORD_RESET_TIMEOUT from then, once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from disputes.memberships import INVITATION_KEY, INVITATION_VALID_DAYS

PASSWORD_USER_KEY = "password_user_id"  # noqa: S105 - a context key


def password_link_context(context: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """Context processor of the email renderer: `password_url` when the email carries a user
    to choose a password for."""
    user_id = context.get(PASSWORD_USER_KEY)
    if user_id is None:
        return context
    user = get_user_model()._default_manager.filter(pk=user_id, is_active=True).first()
    if user is None:  # removed or deactivated since: the link can only be asked for anew
        url = settings.SITE_URL + reverse("portal:password-reset")
    else:
        url = settings.SITE_URL + reverse(
            "portal:password-reset-confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        )
    return context | {"password_url": url}


INVITATION_SALT = "portal.team-invitation"


def invitation_token(invitation_id: int) -> str:
    return signing.dumps(invitation_id, salt=INVITATION_SALT)


def invitation_id_from_token(token: str) -> int | None:
    """The invitation a link names, or None when the link was altered or is too old (the
    invitation itself may still have been withdrawn or accepted since)."""
    try:
        value = signing.loads(
            token, salt=INVITATION_SALT, max_age=timedelta(days=INVITATION_VALID_DAYS)
        )
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def invitation_link_context(context: dict[str, Any], time_zone: str) -> dict[str, Any]:
    """Context processor of the email renderer: `invitation_url` for a team invitation."""
    invitation_id = context.get(INVITATION_KEY)
    if invitation_id is None:
        return context
    url = settings.SITE_URL + reverse("portal:invitation", args=[invitation_token(invitation_id)])
    return context | {"invitation_url": url}
