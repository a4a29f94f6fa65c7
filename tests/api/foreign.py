"""Another merchant's API objects, for the portal's tenant-isolation test."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from api.keys import api_key_create
from api.models import WebhookEndpoint
from api.webhooks.delivery import queue_webhook


def api_key_args(objects: dict[str, Any]) -> list[int]:
    merchant = objects["dispute"].merchant
    return [api_key_create(name="theirs", merchant=merchant, now=timezone.now()).api_key.pk]


def _endpoint(objects: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        merchant=objects["dispute"].merchant,
        url="http://127.0.0.1:9/hook",
        events=["fee.statement_issued"],
        secret="whsec_dGVzdA==",
        created_at=timezone.now(),
    )


def webhook_args(objects: dict[str, Any]) -> list[int]:
    return [_endpoint(objects).pk]


def delivery_args(objects: dict[str, Any]) -> list[int]:
    from notifications.models import OutboxMessage

    endpoint = _endpoint(objects)
    queue_webhook(endpoint.merchant_id, "fee.statement_issued", {}, "t", timezone.now())
    message = OutboxMessage.objects.filter(context__endpoint_id=endpoint.pk).get()
    return [endpoint.pk, message.pk]
