from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisputesConfig(AppConfig):
    name = "disputes"
    verbose_name = _("Disputes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import disputes_portal.checks  # noqa: F401 - registers the project's deploy checks
        from notifications.emails import register_context_processor

        from .email_display import display_context

        register_context_processor(display_context)
