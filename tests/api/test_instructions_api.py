"""Payment instructions out: the pull feed in sequence, and the signed push to the provider's
endpoint, verified with the Standard Webhooks reference package, in sequence per order."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import IntegrityError, InternalError, transaction
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from api.keys import api_key_create
from api.models import EndpointAudience, WebhookEndpoint
from api.webhooks.endpoints import provider_endpoint_create, webhook_endpoint_rotate_secret
from disputes import services
from disputes.choices import InstructionKind, Outcome
from disputes.models import PaymentInstruction
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import (
    MerchantFactory,
    OrderFactory,
    decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db) -> Client:  # type: ignore[no-untyped-def]
    key = api_key_create(name="op", operator=True, now=timezone.now()).key
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def decided_for_the_customer(merchant=None):  # type: ignore[no-untyped-def]
    """An invoice: paused when opened, the fee charged at escalation, cancelled when decided."""
    dispute = open_dispute(merchant=merchant or MerchantFactory())
    escalated_at = dispute.due_at + timedelta(minutes=1)
    services.dispute_escalate_overdue(now=escalated_at)
    dispute.refresh_from_db()
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="The parcel was never delivered.",
        now=escalated_at + timedelta(days=1),
    )
    dispute.refresh_from_db()
    return dispute


def last_instruction_at():  # type: ignore[no-untyped-def]
    return PaymentInstruction.objects.order_by("-sequence").values_list("created_at", flat=True)[0]


def test_the_feed_lists_every_instruction_in_sequence_from_a_cursor(operator):
    dispute = decided_for_the_customer()
    page = operator.get("/api/v1/payment-instructions").json()
    kinds = [item["type"] for item in page["data"]]
    assert kinds == [
        InstructionKind.PAUSE_INVOICE,
        InstructionKind.FEE_CHARGED,
        InstructionKind.CANCEL_INVOICE,
    ]
    sequences = [item["sequence"] for item in page["data"]]
    assert sequences == list(range(sequences[0], sequences[0] + 3))
    first = page["data"][0]
    assert first["order_number"] == dispute.order.order_number
    assert first["merchant"] == dispute.merchant.slug
    assert first["case_id"] == dispute.public_id
    assert first["amount"] == {"value": "100.00", "currency": "EUR"}
    assert first["event_id"] is not None
    assert first["livemode"] is True
    assert first["id"].startswith("pi_")
    rest = operator.get("/api/v1/payment-instructions", {"after": sequences[0]}).json()
    assert [item["sequence"] for item in rest["data"]] == sequences[1:]
    one = operator.get("/api/v1/payment-instructions", {"limit": 1}).json()
    assert one["next_after"] == sequences[0]
    empty = operator.get("/api/v1/payment-instructions", {"after": sequences[-1]}).json()
    assert empty == {"data": [], "next_after": None}


def test_the_feed_can_be_narrowed_to_one_merchant_in_a_fixed_number_of_queries(
    operator, django_assert_max_num_queries
):
    mine = decided_for_the_customer()
    decided_for_the_customer()
    with django_assert_max_num_queries(6):
        page = operator.get(
            "/api/v1/payment-instructions", headers={"X-Merchant": mine.merchant.slug}
        ).json()
    assert {item["merchant"] for item in page["data"]} == {mine.merchant.slug}
    assert len(page["data"]) == 3


def test_an_instruction_is_never_changed_or_deleted(operator):
    decided_for_the_customer()
    instruction = PaymentInstruction.objects.first()
    assert instruction is not None
    with pytest.raises(TypeError, match="never changed"):
        instruction.save()
    with pytest.raises(TypeError):
        PaymentInstruction.objects.all().delete()


@pytest.mark.postgres
def test_the_database_refuses_to_change_an_instruction(operator):
    decided_for_the_customer()
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        PaymentInstruction.objects.all()._raw_delete(using="default")  # type: ignore[attr-defined]


# --- The signed push ----------------------------------------------------------------------------


class Provider:
    """The provider's endpoint: answers with `statuses` in turn (the last one from then on)."""

    def __init__(self) -> None:
        self.statuses = [200]
        self.received: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def provider(settings) -> Iterator[tuple[Provider, str]]:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/ledger"
    server.shutdown()
    server.server_close()


def verified(secret: str, headers: dict[str, str], body: bytes) -> dict:  # type: ignore[type-arg]
    payload: dict = Webhook(secret).verify(body, headers)  # type: ignore[type-arg]
    return payload


def test_every_instruction_is_pushed_signed_as_the_feed_shows_it(operator, provider):
    state, url = provider
    endpoint = provider_endpoint_create(url=url, description="ledger", now=timezone.now())
    decided_for_the_customer()
    outbox_deliver_due(now=last_instruction_at() + timedelta(minutes=1))
    feed = operator.get("/api/v1/payment-instructions").json()["data"]
    pushed = [verified(endpoint.secret, headers, body) for headers, body in state.received]
    for item, push in zip(feed, pushed, strict=True):
        assert push["data"] == item, (push["data"], item)
    assert {p["type"] for p in pushed} == {"payment_instruction.created"}
    with pytest.raises(WebhookVerificationError):
        verified("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", *state.received[0])
    again = outbox_deliver_due(now=last_instruction_at() + timedelta(days=1))
    assert again.sent == 0  # each instruction once per endpoint


def test_during_a_rotation_the_old_and_the_new_secret_both_verify(provider):
    state, url = provider
    endpoint = provider_endpoint_create(url=url, description="ledger", now=timezone.now())
    old = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, now=timezone.now())
    open_dispute()
    outbox_deliver_due()
    ((headers, body),) = state.received
    assert verified(old, headers, body)["data"]["type"] == InstructionKind.PAUSE_INVOICE
    assert verified(endpoint.secret, headers, body)


def test_a_later_instruction_of_an_order_waits_for_the_earlier_one(provider):
    state, url = provider
    provider_endpoint_create(url=url, description="ledger", now=timezone.now())
    state.statuses = [503, 200]
    dispute = open_dispute()  # the invoice paused
    services.dispute_accept(dispute=dispute, actor=merchant_actor(dispute.merchant))  # cancelled
    start = timezone.now()
    outbox_deliver_due(now=start)
    # the first failed; the later one was held back, not sent out of order
    assert len(state.received) == 1
    messages = OutboxMessage.objects.filter(channel=Channel.INSTRUCTION).order_by(
        "context__sequence"
    )
    assert [m.attempts for m in messages] == [1, 0]
    for minutes in (10, 20, 30):
        outbox_deliver_due(now=start + timedelta(minutes=minutes))
    kinds = [json.loads(body)["data"]["type"] for _headers, body in state.received]
    assert kinds == [
        InstructionKind.PAUSE_INVOICE,
        InstructionKind.PAUSE_INVOICE,
        InstructionKind.CANCEL_INVOICE,
    ]
    assert set(messages.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_failing_provider_endpoint_stays_on(provider):
    state, url = provider
    endpoint = provider_endpoint_create(url=url, description="ledger", now=timezone.now())
    state.statuses = [500]
    open_dispute()
    moment = timezone.now()
    for _attempt in range(12):
        moment += timedelta(hours=12)
        outbox_deliver_due(now=moment)
    endpoint.refresh_from_db()
    assert endpoint.enabled is True
    assert endpoint.failing_since is not None


def test_staff_register_a_provider_endpoint_in_the_admin_and_see_its_secret(admin_client, provider):
    _state, url = provider
    response = admin_client.post(
        "/admin/api/providerendpoint/add/", {"url": url, "description": "ledger", "enabled": "on"}
    )
    assert response.status_code == 302, response.content[:1000]
    endpoint = WebhookEndpoint.objects.get(audience=EndpointAudience.PROVIDER)
    assert endpoint.merchant is None
    page = admin_client.get(f"/admin/api/providerendpoint/{endpoint.pk}/change/")
    assert endpoint.secret in page.content.decode()


def test_a_test_merchants_instructions_are_marked_not_live(operator):
    decided_for_the_customer(MerchantFactory(test_mode=True))
    page = operator.get("/api/v1/payment-instructions").json()["data"]
    assert page
    assert {item["livemode"] for item in page} == {False}


def test_an_order_paid_at_checkout_is_charged_back_not_cancelled(operator):
    order = OrderFactory(is_invoice=False, payment_state="paid")
    dispute = open_dispute(order=order)
    services.dispute_escalate_overdue(now=dispute.due_at + timedelta(minutes=1))
    dispute.refresh_from_db()
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="Not delivered.",
    )
    kinds = [item["type"] for item in operator.get("/api/v1/payment-instructions").json()["data"]]
    assert kinds == [InstructionKind.FEE_CHARGED, InstructionKind.CHARGE_BACK]
