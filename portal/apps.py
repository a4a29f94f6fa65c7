from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The merchant portal: pages only, no models of its own."""

    name = "portal"
    verbose_name = _("Merchant portal")

    def ready(self) -> None:
        from notifications.emails import register_context_processor

        from .emails import invitation_link_context, password_link_context

        register_context_processor(password_link_context)
        register_context_processor(invitation_link_context)
