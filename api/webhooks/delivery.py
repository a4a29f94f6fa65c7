"""Webhooks: queued in the outbox like email, signed per Standard Webhooks when sent.

`queue_webhooks` keeps every event in the event store (api.Event, the events feed) and writes
one outbox message per subscribed, enabled endpoint, both in the caller's transaction; each
delivery's `webhook-id` is its event's id. The outbox calls `webhook_deliver` (registered as
the webhook channel's sender) for each attempt and `webhook_next_attempt_at` after a failure.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from disputes.choices import MemberRole
from disputes.models import MerchantMembership
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from notifications.outbox import NewMessage
from notifications.services import (
    EmailNotice,
    outbox_enqueue,
    outbox_write,
    recipient_key,
    request_delivery,
)

from ..events import event_body, event_public_id
from ..models import EndpointAudience, Event, WebhookAttempt, WebhookEndpoint
from .addresses import pin_address
from .policies import webhook_endpoint_fails_for_good
from .policies import webhook_next_attempt_at as _retry_at
from .signing import signature_headers

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
_ERROR_LENGTH = 500


class WebhookFailed(Exception):
    """The receiver did not answer 2xx; the outbox retries."""


class WebhookUndeliverable(WebhookFailed):
    """The endpoint is gone or disabled: retrying cannot help."""

    permanent = True


@dataclass(frozen=True)
class WebhookEvent:
    merchant_id: int
    event_type: str
    # The data, or a function making it. The event store keeps every event's data, so it is
    # always made now; a function still lets a caller build events before knowing the data.
    payload: dict[str, Any] | Callable[[], dict[str, Any]]
    dedupe_key: str
    dispute_id: int | None = None
    # Only to this endpoint of the merchant, whatever it subscribes to (the test `ping`).
    endpoint_id: int | None = None


# --- Queueing ------------------------------------------------------------------------------------


def queue_webhooks(*, events: Sequence[WebhookEvent], now: datetime) -> int:
    """Keep each event (api.Event) and write one outbox message per subscribed, enabled
    endpoint: one query for the endpoints of all merchants, one insert of the events and the
    outbox's insert, however many events. Returns the number of messages queued."""
    if not events:
        return 0
    endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        merchant_id__in={event.merchant_id for event in events}, enabled=True
    ):
        assert endpoint.merchant_id is not None  # noqa: S101 - filtered by merchant
        endpoints[endpoint.merchant_id].append(endpoint)
    stored = [
        Event(
            public_id=event_public_id(event.merchant_id, event.dedupe_key),
            merchant_id=event.merchant_id,
            event_type=event.event_type,
            dispute_id=event.dispute_id,
            payload=event.payload() if callable(event.payload) else event.payload,
            created_at=now,
        )
        for event in events
    ]
    # An event queued again (a rerun) has the same id: kept once, and its outbox messages,
    # which carry the same dedupe keys, are written once too.
    Event.objects.bulk_create(stored, ignore_conflicts=True)
    messages = []
    for event, row in zip(events, stored, strict=True):
        wanted = [
            e
            for e in endpoints.get(event.merchant_id, [])
            if (e.pk == event.endpoint_id if event.endpoint_id else event.event_type in e.events)
        ]
        body = event_body(row)
        messages += [
            NewMessage(
                dedupe_key=f"webhook:{endpoint.pk}:{event.dedupe_key}"[:255],
                channel=Channel.WEBHOOK,
                kind=event.event_type,
                recipient=endpoint.url,
                dispute_id=event.dispute_id,
                context={"endpoint_id": endpoint.pk, "webhook_id": row.public_id, "payload": body},
            )
            for endpoint in wanted
        ]
    outbox_write(messages, now=now)
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
    transaction.on_commit(request_delivery)
    return copy


# --- Delivery ------------------------------------------------------------------------------------


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to `pinned` (an IP address already checked), with `host` only in the Host header."""

    def __init__(self, host: str, port: int, *, pinned: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned = pinned

    def _pinned_socket(self) -> socket.socket:
        sys.audit("http.client.connect", self, self.pinned, self.port)
        sock = socket.create_connection((self.pinned, self.port), self.timeout)
        with contextlib.suppress(OSError):  # as http.client: small requests go out at once
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connect(self) -> None:
        self.sock = self._pinned_socket()


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """HTTPS to `pinned`; SNI and the certificate check are for `host`, the name in the URL."""

    default_port = http.client.HTTPS_PORT

    def __init__(
        self,
        host: str,
        port: int,
        *,
        pinned: str,
        timeout: float,
        context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(host, port, pinned=pinned, timeout=timeout)
        self.context = context or ssl.create_default_context()

    def connect(self) -> None:
        sock = self._pinned_socket()
        try:
            self.sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@dataclass(frozen=True)
class _Answer:
    status: int
    error: str = ""


def _post(url: str, body: bytes, headers: dict[str, str]) -> _Answer:
    """One POST, to the address checked for it: the name is resolved here once, and the
    connection goes to that address (a second lookup could answer differently). Redirects are
    answers like any other non-2xx: not followed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    host = parts.hostname.encode("idna").decode("ascii")  # as it goes into Host and SNI
    https = parts.scheme == "https"
    port = parts.port or (http.client.HTTPS_PORT if https else http.client.HTTP_PORT)
    pinned = pin_address(host, port, allow_private=bool(settings.WEBHOOK_ALLOW_PRIVATE_URLS))
    connection: PinnedHTTPConnection = (
        PinnedHTTPSConnection(host, port, pinned=pinned, timeout=TIMEOUT_SECONDS)
        if https
        else PinnedHTTPConnection(host, port, pinned=pinned, timeout=TIMEOUT_SECONDS)
    )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        status = int(response.status)
        if 300 <= status < 400:
            where = response.getheader("Location") or "nowhere"
            return _Answer(status, f"HTTP {status}: redirects are not followed (to {where})")
        return _Answer(status)
    finally:
        connection.close()


def webhook_deliver(message: OutboxMessage) -> None:
    """One attempt, logged; raises WebhookFailed unless the receiver answered 2xx."""
    now = timezone.now()
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
        answer = _post(endpoint.url, body.encode(), headers)
        status_code, error = answer.status, answer.error[:_ERROR_LENGTH]
    except (OSError, ValueError, http.client.HTTPException) as failure:
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


def webhook_next_attempt_at(
    message: OutboxMessage, error: Exception, now: datetime
) -> datetime | None:
    """The webhook channel's retry rule: never for a gone endpoint, else backoff for 3 days."""
    if getattr(error, "permanent", False):
        return None
    return _retry_at(first_queued_at=message.created_at, attempts=message.attempts, now=now)


def _count_failure(endpoint: WebhookEndpoint, *, now: datetime) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif webhook_endpoint_fails_for_good(failing_since=endpoint.failing_since, now=now):
        if endpoint.audience == EndpointAudience.PROVIDER:
            # The provider's ledger endpoint stays on: each push keeps its own 3 days of
            # retries, and the pull feed holds every instruction for catching up.
            logger.error(
                "Provider endpoint %s failing since %s", endpoint.pk, endpoint.failing_since
            )
            return
        _disable(endpoint, now=now)


def _disable(endpoint: WebhookEndpoint, *, now: datetime) -> None:
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
    if merchant is None:  # not a merchant's endpoint: nobody to tell by email
        return
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
                    + recipient_key(email)
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
