"""Webhooks delivered to a real HTTP server on 127.0.0.1, verified with our own reading of the
Standard Webhooks format (not the code under test)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from api.models import WebhookAttempt, WebhookEndpoint
from api.webhooks.delivery import queue_webhook
from api.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_rotate_secret
from api.webhooks.policies import webhook_next_attempt_at, webhook_retry_delay
from disputes import services
from disputes.choices import MemberRole
from notifications.models import DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import MembershipFactory, customer_actor, open_dispute
from tests.services import WebhookReceiver, webhook_receiver


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Independent check: any "v1,<sig>" in the header matching HMAC-SHA256 of id.ts.body."""
    key = base64.b64decode(secret.split("_", 1)[1]) if secret.startswith("whsec_") else secret
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [part.split(",", 1) for part in headers["webhook-signature"].split(" ")]
    return any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in given)


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    with webhook_receiver() as found:
        yield found


EVENTS = ["dispute.opened", "dispute.customer_replied", "fee.statement_issued"]


def endpoint_for(merchant, url: str) -> WebhookEndpoint:  # type: ignore[no-untyped-def]
    return webhook_endpoint_create(
        merchant_id=merchant.pk, url=url, events=EVENTS, description="", now=timezone.now()
    )


def test_a_new_case_is_delivered_signed(merchant, receiver):
    state, url = receiver
    endpoint = endpoint_for(merchant, url)
    dispute = open_dispute(merchant=merchant)
    outbox_deliver_due()
    ((headers, body),) = state.received
    assert verify_standard_webhook(endpoint.secret, headers, body)
    payload = json.loads(body)
    assert headers["webhook-id"].startswith("evt_")
    assert headers["webhook-id"] == payload["id"]  # the event's id, as the events feed has it
    assert payload["type"] == "dispute.opened"
    assert payload["data"]["dispute"]["id"] == dispute.public_id
    assert payload["data"]["dispute"]["disputed_amount"] == {"value": "100.00", "currency": "EUR"}
    assert WebhookAttempt.objects.get().status_code == 200


def test_only_subscribed_events_of_the_merchant_are_sent(merchant, receiver):
    state, url = receiver
    endpoint_for(merchant, url)
    open_dispute()  # another merchant's case
    dispute = open_dispute(merchant=merchant)
    services.dispute_add_message(dispute=dispute, actor=customer_actor(dispute), message="Hi")
    services.dispute_escalate_overdue(now=dispute.due_at)  # not subscribed
    outbox_deliver_due(now=dispute.due_at)
    types = [json.loads(body)["type"] for _h, body in state.received]
    assert sorted(types) == ["dispute.customer_replied", "dispute.opened"]


def test_billing_can_queue_a_statement_event(merchant, receiver):
    state, url = receiver
    endpoint_for(merchant, url)
    now = timezone.now()
    queue_webhook(merchant.pk, "fee.statement_issued", {"statement": {"id": 1}}, "s:1", now)
    queue_webhook(merchant.pk, "fee.statement_issued", {"statement": {"id": 1}}, "s:1", now)
    outbox_deliver_due()
    assert len(state.received) == 1


def test_during_a_rotation_both_secrets_sign(merchant, receiver):
    state, url = receiver
    endpoint = endpoint_for(merchant, url)
    old = endpoint.secret
    webhook_endpoint_rotate_secret(endpoint=endpoint, now=timezone.now())
    queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:1", timezone.now())
    outbox_deliver_due()
    ((headers, body),) = state.received
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify_standard_webhook(old, headers, body)
    assert verify_standard_webhook(endpoint.secret, headers, body)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:2", timezone.now())
        outbox_deliver_due()
    headers, body = state.received[1]
    assert not verify_standard_webhook(old, headers, body)
    assert verify_standard_webhook(endpoint.secret, headers, body)


def test_failures_are_retried_with_backoff_and_logged(merchant, receiver):
    state, url = receiver
    state.statuses = [500, 500, 200]
    endpoint_for(merchant, url)
    start = timezone.now()
    queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:1", start)
    outbox_deliver_due(now=start)
    message = OutboxMessage.objects.get(channel="webhook")
    assert message.next_attempt_at == start + webhook_retry_delay(1)
    outbox_deliver_due(now=message.next_attempt_at - timedelta(seconds=1))  # not due yet
    assert len(state.received) == 1
    outbox_deliver_due(now=message.next_attempt_at)
    message.refresh_from_db()
    outbox_deliver_due(now=message.next_attempt_at)
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT
    assert [a.status_code for a in WebhookAttempt.objects.order_by("at", "id")] == [500, 500, 200]
    ids = {headers["webhook-id"] for headers, _b in state.received}
    assert len(ids) == 1  # the same message id on every retry
    assert WebhookEndpoint.objects.get().failing_since is None


def test_retries_back_off_exponentially_and_stop_after_three_days():
    start = timezone.now()
    delays = [webhook_retry_delay(n) for n in range(1, 6)]
    assert delays == sorted(delays)
    assert delays[1] == 2 * delays[0]
    late = start + timedelta(days=2, hours=23)
    assert webhook_next_attempt_at(first_queued_at=start, attempts=20, now=late) == start + (
        timedelta(days=3)
    )
    after = start + timedelta(days=3)
    assert webhook_next_attempt_at(first_queued_at=start, attempts=21, now=after) is None


def test_an_endpoint_failing_for_three_days_is_disabled_and_owners_told(merchant, receiver):
    state, url = receiver
    state.statuses = [500]
    owner = MembershipFactory(merchant=merchant, role=MemberRole.OWNER)
    MembershipFactory(merchant=merchant, role=MemberRole.AGENT)
    endpoint_for(merchant, url)
    start = timezone.now()
    queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:1", start)
    moment = start
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(60):
            outbox_deliver_due(now=moment)
            message = OutboxMessage.objects.get(channel="webhook")
            if message.status != DeliveryStatus.PENDING:
                break
            moment = message.next_attempt_at
            clock.move_to(moment)
        endpoint = WebhookEndpoint.objects.get()
        assert message.status == DeliveryStatus.FAILED
        assert not endpoint.enabled
        assert timezone.now() - start == timedelta(days=3)
        outbox_deliver_due(now=timezone.now())
    assert len(state.received) == WebhookAttempt.objects.count() > 5
    notice = OutboxMessage.objects.get(kind="merchant_webhook_disabled")
    assert notice.recipient == owner.user.email
    assert any(url in m.body for m in mail.outbox)
    # Nothing more is queued for a disabled endpoint.
    assert queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:2", timezone.now()) == 0


# --- Portal --------------------------------------------------------------------------------------


@pytest.fixture
def owner_portal(client, merchant):  # type: ignore[no-untyped-def]
    membership = MembershipFactory(merchant=merchant, role=MemberRole.OWNER)
    client.force_login(membership.user)
    return client


def test_owners_create_and_revoke_keys_in_the_portal(owner_portal, merchant):
    page = owner_portal.post(
        reverse("portal:api-key-create"),
        {"name": "backend", "scopes": ["disputes:read", "disputes:write"]},
    )
    key = page.context["new_key"]
    assert key.startswith("dpk_live_")
    assert key in page.content.decode()
    api_key = merchant.api_keys.get()
    assert api_key.scopes == ["disputes:read", "disputes:write"]
    listing = owner_portal.get(reverse("portal:api-index")).content.decode()
    assert key not in listing
    assert "<code>disputes:write</code>" in listing
    refused = owner_portal.post(reverse("portal:api-key-create"), {"name": "x", "scopes": []})
    assert refused.context["key_form"].errors["scopes"]
    sneaky = owner_portal.post(
        reverse("portal:api-key-create"), {"name": "x", "scopes": ["instructions:read"]}
    )
    assert sneaky.context["key_form"].errors["scopes"]
    assert merchant.api_keys.count() == 1
    owner_portal.post(reverse("portal:api-key-revoke", args=[api_key.pk]), {"confirmed": "yes"})
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None


def test_agents_cannot_manage_the_api(client, merchant):
    agent = MembershipFactory(merchant=merchant, role=MemberRole.AGENT)
    client.force_login(agent.user)
    assert client.get(reverse("portal:api-index")).status_code == 403


def test_owners_add_an_endpoint_see_deliveries_and_resend(owner_portal, merchant, receiver):
    state, url = receiver
    response = owner_portal.post(
        reverse("portal:api-webhook-create"),
        {"url": url, "events": ["fee.statement_issued"], "enabled": "on"},
    )
    endpoint = WebhookEndpoint.objects.get(merchant=merchant)
    assert response.url == reverse("portal:api-webhook", args=[endpoint.pk])
    queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:1", timezone.now())
    outbox_deliver_due()
    page = owner_portal.get(response.url).content.decode()
    assert "HTTP 200" in page
    message = OutboxMessage.objects.get(channel="webhook")
    owner_portal.post(reverse("portal:api-webhook-resend", args=[endpoint.pk, message.pk]))
    outbox_deliver_due()
    assert len(state.received) == 2
    assert state.received[0][0]["webhook-id"] == state.received[1][0]["webhook-id"]


def test_private_addresses_are_refused_outside_tests(owner_portal, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = owner_portal.post(
        reverse("portal:api-webhook-create"),
        {"url": "http://127.0.0.1:8000/x", "events": ["dispute.opened"]},
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_issuing_a_statement_queues_fee_statement_issued():
    from datetime import UTC, datetime

    from billing.services import statements_issue_month
    from notifications.models import OutboxMessage
    from tests.factories import MerchantFactory

    merchant = MerchantFactory()
    webhook_endpoint_create(
        merchant_id=merchant.pk,
        url="http://127.0.0.1:9/hook",
        events=["fee.statement_issued"],
        description="",
        now=datetime(2026, 3, 1, tzinfo=UTC),
    )
    open_dispute(merchant=merchant, reason="unauthorized", now=datetime(2026, 3, 5, tzinfo=UTC))
    statements_issue_month(now=datetime(2026, 4, 1, 2, 0, tzinfo=UTC))
    statements_issue_month(now=datetime(2026, 4, 2, 2, 0, tzinfo=UTC))  # a rerun queues nothing
    sent = OutboxMessage.objects.filter(channel="webhook", kind="fee.statement_issued")
    assert sent.count() == 1
    assert sent.get().context["payload"]["data"]["total"] == "7.50"
