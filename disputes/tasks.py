"""Beat jobs: thin wrappers, each one idempotent service call."""

from celery import shared_task
from django.utils import timezone

from disputes_portal.locks import one_at_a_time

from . import services
from .order_import import import_reports_delete_stale
from .privacy import retention


@shared_task(name="disputes.escalate_overdue_merchant_windows", ignore_result=True)
@one_at_a_time("disputes.escalate_overdue_merchant_windows")
def escalate_overdue_merchant_windows() -> int:
    return services.dispute_escalate_overdue()


@shared_task(name="disputes.close_overdue_customer_windows", ignore_result=True)
@one_at_a_time("disputes.close_overdue_customer_windows")
def close_overdue_customer_windows() -> int:
    return services.dispute_close_overdue_customer_windows()


@shared_task(name="disputes.expire_information_requests", ignore_result=True)
@one_at_a_time("disputes.expire_information_requests")
def expire_information_requests() -> int:
    return services.dispute_expire_information_requests()


@shared_task(name="disputes.queue_due_reminders", ignore_result=True)
@one_at_a_time("disputes.queue_due_reminders")
def queue_due_reminders() -> int:
    return services.dispute_send_due_reminders()


@shared_task(name="disputes.send_protection_checkins", ignore_result=True)
@one_at_a_time("disputes.send_protection_checkins")
def send_protection_checkins() -> int:
    return services.order_send_protection_checkins()


@shared_task(name="disputes.expire_protection", ignore_result=True)
@one_at_a_time("disputes.expire_protection")
def expire_protection() -> int:
    return services.order_expire_protection()


@shared_task(name="disputes.expire_returns", ignore_result=True)
@one_at_a_time("disputes.expire_returns")
def expire_returns() -> int:
    return services.dispute_expire_returns()


@shared_task(name="disputes.send_protection_ending_notices", ignore_result=True)
@one_at_a_time("disputes.send_protection_ending_notices")
def send_protection_ending_notices() -> int:
    return services.order_send_protection_ending_notices()


@shared_task(name="disputes.delete_stale_import_reports", ignore_result=True)
def delete_stale_import_reports() -> int:
    return import_reports_delete_stale(now=timezone.now())


@shared_task(name="disputes.apply_retention", ignore_result=True)
@one_at_a_time("disputes.apply_retention")
def apply_retention() -> dict[str, int]:
    return retention.apply_retention().as_dict()
