"""A merchant's webhook endpoints: made, changed and given a new secret here."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext

from ..models import EndpointAudience, WebhookEndpoint
from .signing import SECRET_GRACE_PERIOD, new_secret


class WebhookUrlRejected(ValueError):
    pass


def check_webhook_url(url: str) -> None:
    """Refuse URLs that point into our own network (unless settings allow it, e.g. in tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRejected(gettext("Enter an http:// or https:// address."))
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError):
        raise WebhookUrlRejected(gettext("This address could not be found.")) from None
    if not addresses or not all(ipaddress.ip_address(a).is_global for a in addresses):
        raise WebhookUrlRejected(gettext("Webhooks can only be sent to public addresses."))


def webhook_endpoint_create(
    *,
    merchant_id: int,
    url: str,
    events: Sequence[str],
    description: str,
    now: datetime,
    enabled: bool = True,
) -> WebhookEndpoint:
    check_webhook_url(url)
    return WebhookEndpoint.objects.create(
        merchant_id=merchant_id,
        url=url,
        events=sorted(set(events)),
        description=description,
        enabled=enabled,
        secret=new_secret(),
        created_at=now,
    )


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    events: Sequence[str],
    description: str,
    enabled: bool,
) -> WebhookEndpoint:
    check_webhook_url(url)
    endpoint.url, endpoint.events, endpoint.description = url, sorted(set(events)), description
    if enabled and not endpoint.enabled:
        endpoint.failing_since, endpoint.disabled_reason = None, ""
    endpoint.enabled = enabled
    endpoint.save(
        update_fields=[
            "url",
            "events",
            "description",
            "enabled",
            "failing_since",
            "disabled_reason",
        ]
    )
    return endpoint


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, now: datetime) -> WebhookEndpoint:
    """A new secret; the old one keeps signing for 24 hours so receivers can switch over."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + SECRET_GRACE_PERIOD
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def provider_endpoint_create(*, url: str, description: str, now: datetime) -> WebhookEndpoint:
    """The provider's endpoint for signed payment instructions (the operator's staff add it in
    the admin); every instruction from now on is pushed to it."""
    from .instructions import EVENT_TYPE

    check_webhook_url(url)
    return WebhookEndpoint.objects.create(
        audience=EndpointAudience.PROVIDER,
        merchant=None,
        url=url,
        events=[EVENT_TYPE],
        description=description,
        secret=new_secret(),
        created_at=now,
    )
