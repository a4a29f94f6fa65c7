from celery import shared_task
from django.utils import timezone

from .idempotency import idempotency_records_delete_expired
from .uploads import api_uploads_delete_stale


@shared_task(name="api.cleanup", ignore_result=True)
def cleanup() -> dict[str, int]:
    now = timezone.now()
    return {
        "idempotency_records": idempotency_records_delete_expired(now=now),
        "uploads": api_uploads_delete_stale(now=now),
    }
