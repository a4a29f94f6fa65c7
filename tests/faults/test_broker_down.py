"""The broker (a throwaway Redis) is down while 200 customers open cases through the public pages
and 50 merchant users answer in the portal. Every request succeeds, every case is kept, and once
Redis is back a real Celery worker delivers every email and webhook exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.webhooks.endpoints import webhook_endpoint_create
from disputes.choices import EventType, Reason, State
from disputes.models import Dispute, DisputeEvent
from disputes_portal.celery import app as celery_app
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory
from tests.faults.helpers import (
    celery_pointed_at,
    celery_worker,
    free_port,
    quiet_logger,
    report,
    require_redis_server,
    start_redis,
    stop_process,
)

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

CUSTOMERS = 200
ANSWERS = 50
MERCHANTS = 10
WITH_WEBHOOKS = 4  # merchants with a webhook endpoint for dispute.opened
SLOWEST_REQUEST = 5.0  # seconds: a dead broker must not make a request hang


class WebhookReceiver(ThreadingHTTPServer):
    """A local endpoint that records every delivery it gets and answers 204."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.received: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: WebhookReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received.append((self.headers.get("webhook-id", ""), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet


@pytest.fixture
def webhook_receiver(settings) -> Iterator[WebhookReceiver]:
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receiver is on 127.0.0.1
    server = WebhookReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def broker_down(settings) -> Iterator[int]:
    """Celery pointed at a Redis port where nothing runs yet; the test starts it later."""
    require_redis_server()
    port = free_port()
    with celery_pointed_at(
        f"redis://127.0.0.1:{port}/0", result_backend=f"redis://127.0.0.1:{port}/1"
    ):
        yield port


def timed(durations: list[float], call, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.monotonic()
    response = call(*args, **kwargs)
    durations.append(time.monotonic() - started)
    return response


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_every_request_succeeds_and_everything_is_delivered_once_after(
    broker_down, webhook_receiver, mailoutbox, settings, tmp_path, capsys, caplog
):
    settings.PUBLIC_FORM_RATE_LIMIT = 10 * CUSTOMERS  # every customer comes from 127.0.0.1
    cache.clear()
    merchants = [MerchantFactory() for _ in range(MERCHANTS)]
    users = {m.pk: MembershipFactory(merchant=m).user for m in merchants}
    for merchant in merchants[:WITH_WEBHOOKS]:
        webhook_endpoint_create(
            merchant_id=merchant.pk,
            url=webhook_receiver.url,
            events=["dispute.opened"],
            description="fault test",
            now=timezone.now(),
        )
    orders = [OrderFactory(merchant=merchants[i % MERCHANTS]) for i in range(CUSTOMERS)]

    # --- Redis is down: customers open cases, merchants answer ---------------------------------
    durations: list[float] = []
    statuses: Counter[tuple[str, int]] = Counter()
    with quiet_logger("notifications.services", caplog.handler):
        for order in orders:
            customer = Client()
            found = timed(
                durations,
                customer.post,
                reverse("disputes:find-order"),
                {
                    "shop": order.merchant.slug,
                    "order_number": order.order_number,
                    "email": order.customer_email,
                },
            )
            statuses["find-order", found.status_code] += 1
            assert found.status_code == 302, found.content[:500]
            assert found["Location"] == reverse("disputes:start")
            opened = timed(
                durations,
                customer.post,
                reverse("disputes:open-dispute"),
                {"reason": Reason.NOT_RECEIVED, "message": "The parcel never arrived."},
            )
            statuses["open-dispute", opened.status_code] += 1
            assert opened.status_code == 302, opened.content[:500]
            assert opened["Location"] == reverse("disputes:opened")

        assert Dispute.objects.count() == CUSTOMERS
        answered = list(Dispute.objects.select_related("merchant").order_by("pk")[:ANSWERS])
        portals = {}
        for merchant in merchants:
            portals[merchant.pk] = Client()
            portals[merchant.pk].force_login(users[merchant.pk])
        for dispute in answered:
            response = timed(
                durations,
                portals[dispute.merchant_id].post,
                reverse("portal:case-respond", args=[dispute.public_id]),
                {"answer-refund": "no", "answer-message": "Tracked and delivered to your door."},
            )
            statuses["case-respond", response.status_code] += 1
            assert response.status_code == 302, response.content[:500]
            assert response["Location"] == reverse("portal:case", args=[dispute.public_id])

    requests = sum(statuses.values())
    assert requests == 2 * CUSTOMERS + ANSWERS
    assert max(durations) < SLOWEST_REQUEST
    # Each commit's request for delivery failed fast and said so in the log.
    refused = [r for r in caplog.records if r.getMessage().startswith("Broker unavailable")]
    assert len(refused) >= CUSTOMERS + ANSWERS
    # Every committed case and answer is kept; nothing could be handed to the broker.
    assert Dispute.objects.count() == CUSTOMERS
    assert Dispute.objects.filter(state=State.AWAITING_CUSTOMER).count() == ANSWERS
    assert DisputeEvent.objects.filter(event_type=EventType.OFFER_MADE).count() == ANSWERS
    pending = OutboxMessage.objects.filter(status=DeliveryStatus.PENDING)
    rows = pending.count()
    assert rows == OutboxMessage.objects.count() > 0
    webhook_rows = pending.filter(channel=Channel.WEBHOOK).count()
    assert webhook_rows == CUSTOMERS * WITH_WEBHOOKS // MERCHANTS  # one per opened case
    assert mailoutbox == []
    assert webhook_receiver.received == []

    # --- Redis is back: a real worker delivers what the outbox kept ----------------------------
    redis = start_redis(broker_down, tmp_path)
    rounds = 0
    try:
        with celery_worker():
            while OutboxMessage.objects.filter(status=DeliveryStatus.PENDING).exists():
                rounds += 1
                assert rounds <= 20, "the outbox does not drain"
                result = celery_app.send_task("notifications.deliver_outbox", ignore_result=False)
                delivered = result.get(timeout=60)
                assert delivered["retried"] == delivered["failed"] == 0
            # What beat would do next: ask again; nothing is sent twice.
            again = celery_app.send_task("notifications.deliver_outbox", ignore_result=False)
            assert again.get(timeout=60) == {"sent": 0, "retried": 0, "failed": 0}
    finally:
        stop_process(redis)

    emails = OutboxMessage.objects.filter(channel=Channel.EMAIL)
    assert not OutboxMessage.objects.exclude(status=DeliveryStatus.SENT).exists()
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {1}
    sent_ids = Counter(int(message.extra_headers["X-Outbox-Id"]) for message in mailoutbox)
    assert set(sent_ids.values()) == {1}  # no email twice
    assert set(sent_ids) == set(emails.values_list("pk", flat=True))  # and none missing
    webhook_ids = Counter(webhook_id for webhook_id, _ in webhook_receiver.received)
    assert set(webhook_ids.values()) == {1}
    expected_webhooks = {
        m.context["webhook_id"] for m in OutboxMessage.objects.filter(channel=Channel.WEBHOOK)
    }
    assert set(webhook_ids) == expected_webhooks
    assert len(expected_webhooks) == webhook_rows

    report(
        capsys,
        f"broker down: {requests} requests ({CUSTOMERS} cases opened, {ANSWERS} answers; "
        f"slowest {max(durations):.2f} s), {rows} outbox rows kept, then {rounds} delivery "
        f"rounds: {len(mailoutbox)} emails and {len(webhook_receiver.received)} webhooks, "
        "each once",
    )
