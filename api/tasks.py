from celery import shared_task

from disputes.api_files import api_uploads_delete_stale
from disputes.api_idempotency import idempotency_records_delete_expired


@shared_task(name="api.cleanup", ignore_result=True)
def cleanup() -> dict[str, int]:
    from django.utils import timezone

    now = timezone.now()
    return {
        "idempotency_records": idempotency_records_delete_expired(now=now),
        "uploads": api_uploads_delete_stale(now=now),
    }
