"""Merchant API keys, idempotency records, uploads waiting to be attached, webhook endpoints."""

from __future__ import annotations

from datetime import datetime

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


class ApiKey(models.Model):
    """A secret that acts for one merchant, or for the merchants one platform partner onboarded.

    Only the SHA-256 of the key is kept; the key itself is shown once, when it is made.
    """

    name = models.CharField(_("name"), max_length=100)
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
                condition=Q(merchant__isnull=False, partner__isnull=True)
                | Q(merchant__isnull=True, partner__isnull=False),
                name="api_key_one_owner",
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
    """Where a merchant wants dispute events sent, signed per Standard Webhooks."""

    merchant = models.ForeignKey(
        "disputes.Merchant", on_delete=models.CASCADE, related_name="webhook_endpoints"
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
