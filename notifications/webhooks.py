"""Webhooks: queued in the outbox like email, signed per Standard Webhooks when sent.

Each message carries `webhook-id` (the same on every retry and resend), `webhook-timestamp`
(the attempt's Unix time) and `webhook-signature`: "v1," + base64(HMAC-SHA256(key,
"{id}.{timestamp}.{body}")) per signing secret, space-separated while a rotated secret is in
its grace period. A "whsec_" secret's key is the base64-decoded rest, as the spec says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext

from api.models import WebhookAttempt, WebhookEndpoint

from .models import Channel, DeliveryStatus, OutboxMessage
from .outbox import NewMessage, insert_new
from .policies import webhook_endpoint_fails_for_good

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_GRACE_PERIOD = timedelta(hours=24)
TIMEOUT_SECONDS = 10
_ERROR_LENGTH = 500


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; the outbox retries."""


class WebhookUndeliverable(WebhookFailed):
    """The endpoint is gone or disabled: retrying cannot help."""

    permanent = True


class WebhookUrlRejected(ValueError):
    pass


@dataclass(frozen=True)
class WebhookEvent:
    merchant_id: int
    event_type: str
    # The data, or a function making it: called only when an endpoint subscribes to the event
    # (a sweep escalates thousands of cases, most of whose shops have no webhook).
    payload: dict[str, Any] | Callable[[], dict[str, Any]]
    dedupe_key: str
    dispute_id: int | None = None


# --- Secrets and signatures ----------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _secret_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        return base64.b64decode(secret[len(SECRET_PREFIX) :])
    return secret.encode()


def sign(*, secret: str, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    *, secrets_: Sequence[str], message_id: str, timestamp: int, body: str
) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            sign(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in secrets_
        ),
    }


# --- Endpoints -----------------------------------------------------------------------------------


def check_webhook_url(url: str) -> None:
    """Refuse URLs that point into our own network (unless settings allow it, e.g. in tests)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlRejected(gettext("Enter an http:// or https:// address."))
    if getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False):
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError):
        raise WebhookUrlRejected(gettext("This address could not be found.")) from None
    if not addresses or not all(ipaddress.ip_address(a).is_global for a in addresses):
        raise WebhookUrlRejected(gettext("Webhooks can only be sent to public addresses."))


def webhook_endpoint_create(
    *, merchant_id: int, url: str, events: Sequence[str], description: str, now: datetime
) -> WebhookEndpoint:
    check_webhook_url(url)
    return WebhookEndpoint.objects.create(
        merchant_id=merchant_id,
        url=url,
        events=sorted(set(events)),
        description=description,
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


# --- Queueing ------------------------------------------------------------------------------------


def queue_webhooks(*, events: Sequence[WebhookEvent], now: datetime) -> int:
    """One outbox message per subscribed, enabled endpoint; one query for all merchants."""
    if not events:
        return 0
    endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        merchant_id__in={event.merchant_id for event in events}, enabled=True
    ):
        endpoints[endpoint.merchant_id].append(endpoint)
    messages = []
    for event in events:
        wanted = [e for e in endpoints.get(event.merchant_id, []) if event.event_type in e.events]
        if not wanted:
            continue
        data = event.payload() if callable(event.payload) else event.payload
        messages += [
            NewMessage(
                dedupe_key=f"webhook:{endpoint.pk}:{event.dedupe_key}"[:255],
                channel=Channel.WEBHOOK,
                kind=event.event_type,
                recipient=endpoint.url,
                dispute_id=event.dispute_id,
                context={
                    "endpoint_id": endpoint.pk,
                    "webhook_id": f"msg_{uuid.uuid4().hex}",
                    "payload": {
                        "type": event.event_type,
                        "timestamp": now.isoformat(),
                        "data": data,
                    },
                },
            )
            for endpoint in wanted
        ]
    if messages:
        insert_new(messages, now=now)
        transaction.on_commit(_request_delivery)
    return len(messages)


def queue_webhook(
    merchant_id: int,
    event_type: str,
    payload: dict[str, Any],
    dedupe_key: str,
    now: datetime,
) -> int:
    """Queue one event (e.g. fee.statement_issued) for the merchant's subscribed endpoints.

    Call inside the transaction that makes the change; `dedupe_key` makes a rerun queue nothing.
    """
    return queue_webhooks(
        events=[WebhookEvent(merchant_id, event_type, payload, dedupe_key)], now=now
    )


def webhook_resend(*, message: OutboxMessage, now: datetime) -> OutboxMessage:
    """Send a delivery again as a new outbox message with the same webhook-id and body."""
    copy = OutboxMessage.objects.create(
        dedupe_key=f"{message.dedupe_key[:200]}:resend:{uuid.uuid4().hex}",
        channel=Channel.WEBHOOK,
        kind=message.kind,
        recipient=message.recipient,
        dispute_id=message.dispute_id,
        context=message.context,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(_request_delivery)
    return copy


def _request_delivery() -> None:
    from .services import _request_delivery as request

    request()


# --- Delivery ------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer other than 2xx: a failed attempt


_opener = urllib.request.build_opener(_NoRedirects)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    check_webhook_url(url)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def webhook_deliver(message: OutboxMessage, *, now: datetime) -> None:
    """One attempt, logged; raises WebhookFailed unless the receiver answered 2xx."""
    endpoint = WebhookEndpoint.objects.filter(pk=message.context.get("endpoint_id")).first()
    if endpoint is None or not endpoint.enabled:
        raise WebhookUndeliverable("The endpoint is disabled or deleted.")
    body = json.dumps(message.context["payload"], separators=(",", ":"), ensure_ascii=False)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "DisputePortal-Webhooks/1",
        **signature_headers(
            secrets_=endpoint.signing_secrets(now),
            message_id=message.context["webhook_id"],
            timestamp=timestamp,
            body=body,
        ),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        status_code = _post(endpoint.url, body.encode(), headers)
    except (OSError, ValueError) as failure:
        error = f"{type(failure).__name__}: {failure}"[:_ERROR_LENGTH]
    attempt = WebhookAttempt.objects.create(
        endpoint=endpoint,
        message=message,
        status_code=status_code,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=error,
        at=now,
    )
    if attempt.succeeded:
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
        return
    _count_failure(endpoint, now=now)
    raise WebhookFailed(error or f"HTTP {status_code}")


def _count_failure(endpoint: WebhookEndpoint, *, now: datetime) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif webhook_endpoint_fails_for_good(failing_since=endpoint.failing_since, now=now):
        _disable(endpoint, now=now)


def _disable(endpoint: WebhookEndpoint, *, now: datetime) -> None:
    from disputes.choices import MemberRole
    from disputes.models import MerchantMembership

    from .services import EmailNotice, outbox_enqueue

    assert endpoint.failing_since is not None  # noqa: S101 - only called while failing
    endpoint.enabled = False
    endpoint.disabled_reason = "failing"
    endpoint.save(update_fields=["enabled", "disabled_reason"])
    # Messages still waiting for this endpoint can no longer be delivered.
    OutboxMessage.objects.filter(
        channel=Channel.WEBHOOK,
        status=DeliveryStatus.PENDING,
        context__endpoint_id=endpoint.pk,
    ).update(status=DeliveryStatus.FAILED, last_error="Endpoint disabled after 3 days of failures.")
    merchant = endpoint.merchant
    owners = MerchantMembership.objects.filter(
        merchant=merchant, role=MemberRole.OWNER, user__is_active=True
    ).exclude(user__email="")
    failing_since = endpoint.failing_since
    outbox_enqueue(
        notices=[
            EmailNotice(
                kind="merchant_webhook_disabled",
                recipient=email,
                dedupe_key=(
                    f"merchant_webhook_disabled:{endpoint.pk}:{failing_since:%Y%m%d%H%M%S}:"
                    + hashlib.sha256(email.lower().encode()).hexdigest()[:24]
                ),
                language=merchant.language,
                time_zone=merchant.time_zone,
                context={
                    "merchant_name": merchant.name,
                    "endpoint_url": endpoint.url,
                    "failing_since_at": failing_since.isoformat(),
                    "settings_url": settings.SITE_URL
                    + reverse("portal:api-webhook", args=[endpoint.pk]),
                },
            )
            for email in owners.values_list("user__email", flat=True)
        ],
        now=now,
    )
