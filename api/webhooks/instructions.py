"""The provider's push of payment instructions: signed like merchant webhooks, through the
outbox, retried, and in sequence per order (a later instruction of an order waits until the
earlier ones are delivered)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from disputes.models import PaymentInstruction
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from notifications.outbox import NewMessage
from notifications.registry import DeliveryDeferred
from notifications.services import outbox_write

from ..models import EndpointAudience, WebhookEndpoint
from .delivery import webhook_deliver

EVENT_TYPE = "payment_instruction.created"
# How long a later instruction waits before it looks again at the earlier one of its order.
WAIT_FOR_EARLIER = timedelta(seconds=15)


def queue_instruction_pushes(
    sender: object, *, instructions: Sequence[PaymentInstruction], now: datetime, **kwargs: Any
) -> None:
    """Receiver of `instructions_recorded`: one outbox message per provider endpoint."""
    endpoints = list(
        WebhookEndpoint.objects.filter(audience=EndpointAudience.PROVIDER, enabled=True)
    )
    if not endpoints:
        return
    from ..schemas import api_json
    from ..v1.instructions import instruction_out  # the payload is the feed's shape

    messages = []
    for instruction in instructions:
        data = api_json(instruction_out(instruction))
        messages += [
            NewMessage(
                dedupe_key=f"instruction:{endpoint.pk}:{instruction.public_id}",
                channel=Channel.INSTRUCTION,
                kind=EVENT_TYPE,
                recipient=endpoint.url,
                dispute_id=instruction.dispute_id,
                context={
                    "endpoint_id": endpoint.pk,
                    "webhook_id": f"msg_{uuid.uuid4().hex}",
                    "order_id": instruction.order_id,
                    "sequence": instruction.sequence,
                    "payload": {"type": EVENT_TYPE, "timestamp": now.isoformat(), "data": data},
                },
            )
            for endpoint in endpoints
        ]
    outbox_write(messages, now=now)


def instruction_deliver(message: OutboxMessage) -> None:
    """The instruction channel's sender: an earlier instruction of the same order still on its
    way to this endpoint goes first; otherwise one signed attempt, as a webhook."""
    context = message.context
    earlier = OutboxMessage.objects.filter(
        channel=Channel.INSTRUCTION,
        status=DeliveryStatus.PENDING,
        context__endpoint_id=context.get("endpoint_id"),
        context__order_id=context.get("order_id"),
        context__sequence__lt=context.get("sequence"),
    ).exists()
    if earlier:
        raise DeliveryDeferred(timezone.now() + WAIT_FOR_EARLIER)
    webhook_deliver(message)
