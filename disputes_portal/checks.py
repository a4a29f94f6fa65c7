"""Refuse to serve production traffic with the development secret key; warn when the support
desk lets staff in on a password alone."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

_MESSAGE = "SECRET_KEY is the development key: set SECRET_KEY in the environment."


def require_real_secret_key() -> None:
    """Called by the WSGI application and the Celery worker at start-up."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured(_MESSAGE)


@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs: Any, **kwargs: Any) -> list[Error]:
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [Error(_MESSAGE, id="disputes_portal.E001")]
    return []


@register(Tags.security, deploy=True)
def support_desk_requires_a_second_factor(app_configs: Any, **kwargs: Any) -> list[Warning]:
    if not settings.SUPPORT_DESK_REQUIRE_OTP:
        return [
            Warning(
                "Staff can sign in to the support desk with a password alone.",
                hint="Set SUPPORT_DESK_REQUIRE_OTP=true.",
                id="disputes_portal.W001",
            )
        ]
    return []
