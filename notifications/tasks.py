from celery import shared_task

from .services import outbox_deliver_due


@shared_task(name="notifications.deliver_outbox", ignore_result=True)
def deliver_outbox() -> dict[str, int]:
    report = outbox_deliver_due()
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed}
