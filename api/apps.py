from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("Merchant API and webhooks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from billing.signals import statements_issued
        from disputes.signals import events_recorded, instructions_recorded
        from notifications.models import Channel
        from notifications.registry import Sender, register_sender

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
