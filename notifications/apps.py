from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .emails import email_next_attempt_at, send_email
        from .models import Channel
        from .registry import Sender, register_sender

        register_sender(
            Channel.EMAIL, Sender(send=send_email, next_attempt_at=email_next_attempt_at)
        )
