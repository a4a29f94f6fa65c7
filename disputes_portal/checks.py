"""Refuse to serve production traffic with the development secret key."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
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
