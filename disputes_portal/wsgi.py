import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disputes_portal.settings")
application = get_wsgi_application()

from disputes_portal.checks import require_real_secret_key  # noqa: E402 - needs settings

require_real_secret_key()
