from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _demo_webhook_endpoint(sender: object, *, merchants: Any, now: Any, **kwargs: Any) -> None:
    """A webhook endpoint on each demo shop, switched off and on this machine's discard port:
    the integrations page shows one, and no delivery leaves the machine until its owner points
    it at a receiver of their own and switches it on."""
    from .models import WEBHOOK_EVENTS, WebhookEndpoint
    from .webhooks.signing import new_secret

    for merchant in merchants:
        WebhookEndpoint.objects.create(
            merchant_id=merchant.pk,
            url="http://127.0.0.1:9/webhooks",
            events=sorted(WEBHOOK_EVENTS),
            description="Demo endpoint, switched off: point it at your receiver, then enable it",
            secret=new_secret(),
            enabled=False,
            created_at=now,
        )


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Merchant API and webhooks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.signals import statements_issued
        from disputes.signals import (
            demo_seeded,
            events_recorded,
            instructions_recorded,
            personal_data_removed,
        )
        from notifications.models import Channel
        from notifications.registry import Sender, register_sender

        from .events import events_forget_cases
        from .webhooks.delivery import webhook_deliver, webhook_next_attempt_at
        from .webhooks.events import queue_dispute_webhooks, queue_statement_webhooks
        from .webhooks.instructions import instruction_deliver, queue_instruction_pushes

        register_sender(
            Channel.WEBHOOK, Sender(send=webhook_deliver, next_attempt_at=webhook_next_attempt_at)
        )
        register_sender(
            Channel.INSTRUCTION,
            Sender(send=instruction_deliver, next_attempt_at=webhook_next_attempt_at),
        )
        instructions_recorded.connect(
            queue_instruction_pushes, dispatch_uid="api.instruction_pushes"
        )
        events_recorded.connect(queue_dispute_webhooks, dispatch_uid="api.dispute_webhooks")
        statements_issued.connect(queue_statement_webhooks, dispatch_uid="api.statement_webhooks")
        demo_seeded.connect(_demo_webhook_endpoint, dispatch_uid="api.demo_webhook_endpoint")
        personal_data_removed.connect(events_forget_cases, dispatch_uid="api.events_forget_cases")
