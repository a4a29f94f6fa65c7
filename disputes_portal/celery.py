"""Celery app: configured from Django settings under the CELERY_ namespace."""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "disputes_portal.settings")

app = Celery("disputes_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_development_key(**kwargs: Any) -> None:
    from disputes_portal.checks import require_real_secret_key

    require_real_secret_key()
