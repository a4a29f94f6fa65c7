from celery import shared_task
from django.utils import timezone

from .events import events_delete_expired
from .idempotency import idempotency_records_delete_expired
from .uploads import api_uploads_delete_stale


@shared_task(name="api.cleanup", ignore_result=True)
def cleanup() -> dict[str, int]:
    """Beat runs it every SLOW_JOB_SECONDS (CELERY_BEAT_SCHEDULE "api-cleanup"): expired
    idempotency records, uploads never attached to a case, and events past the 30 days the
    events feed keeps them (a batch per statement)."""
    now = timezone.now()
    return {
        "idempotency_records": idempotency_records_delete_expired(now=now),
        "uploads": api_uploads_delete_stale(now=now),
        "events": events_delete_expired(now=now),
    }
