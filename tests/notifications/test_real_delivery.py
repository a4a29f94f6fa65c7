"""Delivery through real services: an SMTP server that refuses for a while, a Redis broker that
is down when a case is opened. No mocks: aiosmtpd and a throwaway redis-server on spare ports."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from aiosmtpd.controller import Controller
from django.utils import timezone

from disputes import services
from disputes_portal.celery import app as celery_app
from notifications.models import DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import MembershipFactory, MerchantFactory, open_dispute
from tests.services import celery_worker, free_port, reset_broker_connections, start_redis


class RefusingThenAcceptingHandler:
    """An SMTP server that answers 451 (try later) to the first `refusals` messages."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.received: list[tuple[str, bytes]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refusals > 0:
            self.refusals -= 1
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        for recipient in envelope.rcpt_tos:
            self.received.append((recipient, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server(settings) -> Iterator[RefusingThenAcceptingHandler]:
    handler = RefusingThenAcceptingHandler(refusals=3)
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    yield handler
    controller.stop()


@pytest.mark.django_db
def test_mail_refused_by_smtp_at_first_is_delivered_later_each_once(smtp_server):
    merchant = MerchantFactory()
    MembershipFactory(merchant=merchant)
    dispute = open_dispute(merchant=merchant)  # merchant_new_case + customer_case_opened
    assert OutboxMessage.objects.count() == 2

    first = outbox_deliver_due()
    assert (first.sent, first.retried) == (0, 2)
    assert smtp_server.received == []
    pending = OutboxMessage.objects.filter(status=DeliveryStatus.PENDING)
    assert pending.count() == 2
    assert all("451" in m.last_error for m in pending)

    # Not due again before the backoff: nothing is tried.
    assert outbox_deliver_due().sent == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        outbox_deliver_due()  # the third refusal hits one message, the other is sent
        with time_machine.travel(timezone.now() + timedelta(minutes=5)):
            outbox_deliver_due()
            again = outbox_deliver_due()  # everything sent: a rerun sends nothing
    assert again.sent == 0
    assert OutboxMessage.objects.filter(status=DeliveryStatus.SENT).count() == 2
    recipients = sorted(recipient for recipient, _ in smtp_server.received)
    assert recipients == sorted(
        [dispute.order.customer_email, merchant.memberships.get().user.email]
    )
    assert all(dispute.public_id.encode() in content for _, content in smtp_server.received)


# --- The broker ----------------------------------------------------------------------------------


@pytest.fixture
def redis_port() -> int:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    return free_port()


@pytest.fixture
def real_broker(redis_port) -> Iterator[int]:
    """Celery pointed at a Redis on a spare port; the test decides when it runs."""
    old = {
        "broker_url": celery_app.conf.broker_url,
        "task_always_eager": celery_app.conf.task_always_eager,
        "broker_transport_options": celery_app.conf.broker_transport_options,
        "result_backend": celery_app.conf.result_backend,
    }
    celery_app.conf.update(
        broker_url=f"redis://127.0.0.1:{redis_port}/0",
        # Results let the test wait for the worker's answer instead of sleeping.
        result_backend=f"redis://127.0.0.1:{redis_port}/1",
        task_always_eager=False,
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_step": 0.1},
        task_publish_retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.1},
    )
    reset_broker_connections()
    yield redis_port
    celery_app.conf.update(**old)
    reset_broker_connections()


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_case_opens_and_its_mail_goes_once_the_broker_returns(
    real_broker, tmp_path, mailoutbox
):
    merchant = MerchantFactory()
    MembershipFactory(merchant=merchant)
    # Broker down: the customer's request still succeeds, the case and its mail rows are kept.
    dispute = open_dispute(merchant=merchant)
    assert dispute.pk is not None
    assert OutboxMessage.objects.filter(status=DeliveryStatus.PENDING).count() == 2
    assert mailoutbox == []

    redis = start_redis(real_broker, tmp_path)
    try:
        with celery_worker():
            # What beat does every minute: ask for delivery through the now-working broker.
            deliver = "notifications.deliver_outbox"
            report = celery_app.send_task(deliver, ignore_result=False).get(timeout=20)
            assert report == {"sent": 2, "retried": 0, "failed": 0}
            # Every job again, twice: nothing is sent twice.
            for _ in range(2):
                report = celery_app.send_task(deliver, ignore_result=False).get(timeout=20)
                assert report["sent"] == 0
                services.dispute_escalate_overdue()
                services.dispute_send_due_reminders()
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    assert OutboxMessage.objects.filter(status=DeliveryStatus.SENT).count() == 2
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [dispute.order.customer_email, merchant.memberships.get().user.email]
    )
