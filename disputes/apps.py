from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class DisputesConfig(AppConfig):
    name = "disputes"
    default = True  # INSTALLED_APPS names the admin's config below by its full path
    verbose_name = _("Disputes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import disputes_portal.checks  # noqa: F401 - registers the project's deploy checks
        from notifications.emails import register_context_processor

        from .email_display import display_context
        from .privacy import policies  # noqa: F401 - registers the retention policy's check

        register_context_processor(display_context)


class SupportDeskAdminConfig(admin_apps.AdminConfig):
    """The admin app with the support desk's site (lockout, second factor) as `admin.site`."""

    default = False
    default_site = "disputes.support_desk.site.SupportDeskSite"
