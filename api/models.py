"""API keys, idempotency records, uploads waiting to be attached, webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

WEBHOOK_EVENTS = (
    "dispute.opened",
    "dispute.reminder",
    "dispute.customer_replied",
    "dispute.escalated",
    "dispute.information_requested",
    "dispute.decided",
    "dispute.resolved",
    "dispute.reopened",
    "fee.statement_issued",
)


class KeyOwner(models.TextChoices):
    """Who an API key acts for."""

    OPERATOR = "operator", _("Operator: every merchant")
    PARTNER = "partner", _("Platform partner: the merchants it onboarded")
    MERCHANT = "merchant", _("Merchant: itself")


class EndpointAudience(models.TextChoices):
    MERCHANT = "merchant", _("A merchant's system: case events")
    PROVIDER = "provider", _("The provider's ledger: payment instructions")


class ApiKey(models.Model):
    """A secret that acts for the operator (every merchant), for the merchants one platform
    partner onboarded, or for one merchant; it may do what its scopes allow (api/scopes.py).

    Only the SHA-256 of the key is kept; the key itself is shown once, when it is made.
    """

    name = models.CharField(_("name"), max_length=100)
    owner_kind = models.CharField(
        _("acts for"), max_length=16, choices=KeyOwner.choices, default=KeyOwner.MERCHANT
    )
    scopes = models.JSONField(_("scopes"), default=list)
    merchant = models.ForeignKey(
        "disputes.Merchant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    partner = models.ForeignKey(
        "disputes.PlatformPartner",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_keys",
    )
    prefix = models.CharField(_("key starts with"), max_length=24)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"))
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(owner_kind="merchant", merchant__isnull=False, partner__isnull=True)
                | Q(owner_kind="partner", merchant__isnull=True, partner__isnull=False)
                | Q(owner_kind="operator", merchant__isnull=True, partner__isnull=True),
                name="api_key_owner_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an Idempotency-Key; replayed for 24 hours."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    # NULL while the first request is still being handled.
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.api_key_id}:{self.key}"


def upload_path(instance: ApiUpload, filename: str) -> str:
    return f"api-uploads/{instance.merchant_id}/{instance.public_id}"


class ApiUpload(models.Model):
    """A checked document sent to POST /files, waiting to be attached to a case by id."""

    public_id = models.CharField(max_length=40, unique=True)
    merchant = models.ForeignKey(
        "disputes.Merchant", on_delete=models.CASCADE, related_name="api_uploads"
    )
    file = models.FileField(upload_to=upload_path)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.public_id


class WebhookEndpoint(models.Model):
    """Where a merchant wants its case events sent, or where the provider wants the payment
    instructions pushed (no merchant; registered in the admin); signed per Standard Webhooks."""

    audience = models.CharField(
        max_length=16, choices=EndpointAudience.choices, default=EndpointAudience.MERCHANT
    )
    merchant = models.ForeignKey(
        "disputes.Merchant",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
    )
    url = models.URLField(_("URL"), max_length=300)
    events = models.JSONField(_("events"), default=list)
    description = models.CharField(_("description"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    secret = models.CharField(max_length=100)
    # After a rotation the old secret still signs (next to the new one) until it expires.
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success; three days of failures disable it.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["merchant", "enabled"], name="webhook_endpoint_merchant")]
        constraints = [
            models.CheckConstraint(
                condition=Q(audience="merchant", merchant__isnull=False)
                | Q(audience="provider", merchant__isnull=True),
                name="webhook_endpoint_audience",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: datetime) -> list[str]:
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and self.previous_secret_expires_at > now
        ):
            secrets.append(self.previous_secret)
        return secrets


class ProviderEndpointManager(models.Manager["ProviderEndpoint"]):
    def get_queryset(self) -> models.QuerySet[ProviderEndpoint]:
        return super().get_queryset().filter(audience=EndpointAudience.PROVIDER)


class ProviderEndpoint(WebhookEndpoint):
    """The provider's endpoints for payment instructions, as the admin registers them."""

    objects: ClassVar[ProviderEndpointManager] = ProviderEndpointManager()

    class Meta:
        proxy = True
        verbose_name = _("provider endpoint")
        verbose_name_plural = _("provider endpoints (payment instructions)")


class WebhookAttempt(models.Model):
    """One HTTP attempt to deliver a webhook message, kept for the portal's delivery log."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    message = models.ForeignKey(
        "notifications.OutboxMessage", on_delete=models.CASCADE, related_name="webhook_attempts"
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["endpoint", "at"], name="webhook_attempt_endpoint")]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.status_code or self.error[:40]}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class PayloadField(models.JSONField):
    """A JSON field bulk-inserted as one parameter per row. Django's bulk insert on PostgreSQL
    otherwise sends each column as one array, and psycopg quotes every ~2 KB payload into that
    array's literal with regular expressions: 0.41 s for a sweep batch of 1 500 events, 0.24 s
    this way (make bench)."""

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"


class Event(models.Model):
    """What happened for a merchant, as its webhooks carry it: kept for the events feed
    (GET /events) whether or not an endpoint subscribes, for EVENT_KEPT_FOR (api/events.py).

    Written with the webhooks' outbox messages, in the same transaction; `public_id` is the
    `webhook-id` of every delivery of the event and the `id` in its body.
    """

    public_id = models.CharField(max_length=40, unique=True)
    # No index of its own: the feed's indexes lead with the merchant. Every index is paid for
    # on each event a sweep writes (make bench).
    merchant = models.ForeignKey(
        "disputes.Merchant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    event_type = models.CharField(_("type"), max_length=64)
    # The case it is about, if any; the event goes with the case.
    dispute = models.ForeignKey(
        "disputes.Dispute", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The body's `data`, as delivered.
    payload = PayloadField()
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["id"]
        indexes = [
            # The feed's three reads, each a keyset on id within the merchant.
            models.Index(fields=["merchant", "id"], name="api_event_merchant"),
            models.Index(fields=["merchant", "event_type", "id"], name="api_event_merchant_type"),
            models.Index(fields=["merchant", "dispute", "id"], name="api_event_merchant_case"),
            # The retention job reads the oldest events by id (the primary key): no index on
            # created_at to keep up on every insert.
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.event_type}"
