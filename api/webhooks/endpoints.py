"""A merchant's webhook endpoints: made, changed, given a new secret, tested and deleted here
(by the portal's pages and the API's /webhook-endpoints alike)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from disputes.errors import TransitionNotAllowed
from notifications.models import Channel, DeliveryStatus, OutboxMessage

from ..events import PING, event_public_id
from ..models import EndpointAudience, WebhookEndpoint
from .addresses import IPAddress, Refusal, refusal, resolve
from .delivery import WebhookEvent, queue_webhooks
from .signing import SECRET_GRACE_PERIOD, new_secret


class WebhookUrlRejected(ValueError):
    pass


class WebhookEndpointDisabled(TransitionNotAllowed):
    code = "endpoint_disabled"
    default_message = gettext_lazy("The endpoint is disabled: enable it first.")


def check_webhook_url(url: str) -> None:
    """Refuse URLs that point into our own network (see `addresses` for the rules).

    With `WEBHOOK_ALLOW_PRIVATE_URLS` (tests, closed networks) names are not looked up here. This
    is the check when an endpoint is saved; each delivery checks the address it connects to.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRejected(gettext("Enter an http:// or https:// address."))
    allow_private = bool(settings.WEBHOOK_ALLOW_PRIVATE_URLS)
    literal = _ip_literal(parts.hostname)
    if literal is not None:
        addresses = [literal]
    elif allow_private:
        return
    else:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = [address for address, _ in resolve(parts.hostname, port)]
        except (OSError, ValueError):
            raise WebhookUrlRejected(gettext("This address could not be found.")) from None
    if not addresses:
        raise WebhookUrlRejected(gettext("This address could not be found."))
    for address in addresses:  # every address the name has, not only the first
        found = refusal(address, allow_private=allow_private)
        if found is not None:
            raise WebhookUrlRejected(_refusal_message(found))


def _ip_literal(hostname: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(hostname.split("%", 1)[0])
    except ValueError:
        return None


def _refusal_message(found: Refusal) -> str:
    if found.network is None:
        return gettext("Webhooks can only be sent to public addresses.")
    if found.ipv4 is not None:
        return gettext(
            "Webhooks can only be sent to public addresses: %(address)s is in the "
            "special-purpose range %(network)s, which carries the IPv4 address %(ipv4)s."
        ) % {"address": found.address, "network": found.network, "ipv4": found.ipv4}
    return gettext(
        "Webhooks can only be sent to public addresses: %(address)s is in the "
        "special-purpose range %(network)s."
    ) % {"address": found.address, "network": found.network}


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


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint and its delivery log; what was still waiting for it is not sent."""
    with transaction.atomic():
        OutboxMessage.objects.filter(
            channel=Channel.WEBHOOK,
            status=DeliveryStatus.PENDING,
            context__endpoint_id=endpoint.pk,
        ).update(status=DeliveryStatus.FAILED, last_error="Endpoint deleted.")
        endpoint.delete()


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint, now: datetime) -> str:
    """Queue a signed `ping` event to this endpoint alone, through the outbox like every
    webhook (kept in the events feed too); the event's id, which is its `webhook-id`."""
    if not endpoint.enabled:
        raise WebhookEndpointDisabled()
    assert endpoint.merchant_id is not None  # noqa: S101 - merchants' endpoints only
    dedupe_key = f"{PING}:{endpoint.pk}:{uuid.uuid4().hex}"
    with transaction.atomic():
        queue_webhooks(
            events=[
                WebhookEvent(
                    merchant_id=endpoint.merchant_id,
                    event_type=PING,
                    payload={"endpoint_id": endpoint.pk},
                    dedupe_key=dedupe_key,
                    endpoint_id=endpoint.pk,
                )
            ],
            now=now,
        )
    return event_public_id(endpoint.merchant_id, dedupe_key)
