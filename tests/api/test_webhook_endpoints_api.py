"""/webhook-endpoints through HTTP: a merchant's own endpoints, made, changed, given a new
secret and deleted, and a test `ping` delivered signed to a real HTTP server on 127.0.0.1 by
the outbox, verified with the `standardwebhooks` package."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.keys import api_key_create
from api.models import Event, WebhookAttempt, WebhookEndpoint
from api.scopes import ALLOWED_SCOPES, DEFAULT_SCOPES, Scope
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import MerchantFactory
from tests.services import WebhookReceiver, webhook_receiver

pytestmark = pytest.mark.django_db

LIST = reverse("api-v1:webhook-endpoints")


def one(endpoint_id: int) -> str:
    return reverse("api-v1:webhook-endpoint", args=[endpoint_id])


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    """A real HTTP server on a loopback port, answering 200 to every POST."""
    with webhook_receiver() as found:
        yield found


def create(api: Client, url: str, **fields: object):  # type: ignore[no-untyped-def]
    body = {"url": url, "events": ["dispute.opened"], **fields}
    return api.post(LIST, body, content_type="application/json")


def test_merchant_keys_get_the_webhook_and_event_scopes_by_default():
    for scope in (Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE, Scope.EVENTS_READ):
        assert scope in DEFAULT_SCOPES["merchant"]
        assert scope in ALLOWED_SCOPES["merchant"]
    key = api_key_create(name="k", merchant=MerchantFactory(), now=timezone.now())
    assert {"webhooks:read", "webhooks:write", "events:read"} <= set(key.api_key.scopes)


def test_create_shows_the_secret_once_then_list_and_get_do_not(api, merchant):
    response = create(api, "https://shop.example/hooks", description="orders", enabled=True)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["url"] == "https://shop.example/hooks"
    assert created["events"] == ["dispute.opened"]
    assert created["enabled"] is True
    assert created["disabled_reason"] is None
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.merchant == merchant
    assert endpoint.secret == created["secret"]
    listed = api.get(LIST).json()["data"]
    assert [e["id"] for e in listed] == [endpoint.pk]
    assert "secret" not in listed[0]
    shown = api.get(one(endpoint.pk)).json()
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}


def test_urls_are_checked_as_the_portal_checks_them(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:8000/x", "http://[::ffff:10.0.0.1]/", "ftp://shop.example/"):
        response = create(api, url)
        assert response.status_code == 422, url
        assert response.json()["error"]["code"] == "invalid_url"
        assert response.json()["error"]["field"] == "url"
    assert not WebhookEndpoint.objects.exists()


def test_unknown_events_and_empty_lists_are_refused(api):
    assert create(api, "https://shop.example/h", events=["dispute.nope"]).status_code == 422
    assert create(api, "https://shop.example/h", events=[]).status_code == 422
    assert not WebhookEndpoint.objects.exists()


def test_update_changes_only_what_is_sent(api, settings):
    endpoint_id = create(api, "https://shop.example/a", description="first").json()["id"]
    response = api.patch(
        one(endpoint_id),
        {"events": ["dispute.escalated", "dispute.opened"], "enabled": False},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    changed = response.json()
    assert changed["url"] == "https://shop.example/a"
    assert changed["description"] == "first"
    assert changed["events"] == ["dispute.escalated", "dispute.opened"]
    assert changed["enabled"] is False
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    refused = api.patch(
        one(endpoint_id), {"url": "http://10.1.2.3/x"}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert WebhookEndpoint.objects.get().url == "https://shop.example/a"


def test_enabling_a_failing_endpoint_clears_the_failure(api, merchant):
    endpoint_id = create(api, "https://shop.example/a").json()["id"]
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        enabled=False, disabled_reason="failing", failing_since=timezone.now()
    )
    shown = api.get(one(endpoint_id)).json()
    assert shown["disabled_reason"] == "failing"
    assert shown["failing_since"] is not None
    enabled = api.patch(one(endpoint_id), {"enabled": True}, content_type="application/json")
    assert enabled.json()["disabled_reason"] is None
    assert enabled.json()["failing_since"] is None


def test_rotation_keeps_the_old_secret_signing_for_24_hours(api, receiver):
    state, url = receiver
    created = create(api, url).json()
    rotated = api.post(reverse("api-v1:webhook-endpoint-rotate-secret", args=[created["id"]]))
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["secret"] != created["secret"]
    assert new["previous_secret_expires_at"] is not None
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.previous_secret == created["secret"]
    assert endpoint.previous_secret_expires_at - timezone.now() > timedelta(hours=23, minutes=59)
    api.post(reverse("api-v1:webhook-endpoint-test", args=[created["id"]]))
    outbox_deliver_due()
    ((headers, body),) = state.received
    for secret in (created["secret"], new["secret"]):
        Webhook(secret).verify(body, headers)


def test_delete_removes_the_endpoint_and_drops_what_waits_for_it(api, receiver):
    state, url = receiver
    endpoint_id = create(api, url).json()["id"]
    api.post(reverse("api-v1:webhook-endpoint-test", args=[endpoint_id]))
    response = api.delete(one(endpoint_id))
    assert response.status_code == 204
    assert not WebhookEndpoint.objects.exists()
    message = OutboxMessage.objects.get(channel=Channel.WEBHOOK)
    assert message.status == DeliveryStatus.FAILED
    outbox_deliver_due()
    assert state.received == []
    assert api.get(one(endpoint_id)).status_code == 404
    assert api.delete(one(endpoint_id)).status_code == 404
    assert Event.objects.filter(event_type="ping").count() == 1  # the feed keeps it


def test_the_test_event_is_a_signed_ping_through_the_outbox(api, merchant, receiver):
    state, url = receiver
    created = create(api, url, events=["fee.statement_issued"]).json()  # not subscribed to ping
    response = api.post(reverse("api-v1:webhook-endpoint-test", args=[created["id"]]))
    assert response.status_code == 202, response.content
    event_id = response.json()["event_id"]
    assert event_id.startswith("evt_")
    message = OutboxMessage.objects.get(channel=Channel.WEBHOOK)  # the same path as every webhook
    assert message.kind == "ping"
    assert state.received == []  # nothing leaves before the outbox sends it
    outbox_deliver_due()
    ((headers, body),) = state.received
    payload = Webhook(created["secret"]).verify(body, headers)
    assert headers["webhook-id"] == event_id
    assert payload["id"] == event_id
    assert payload["type"] == "ping"
    assert payload["data"] == {"endpoint_id": created["id"]}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    assert WebhookAttempt.objects.get().status_code == 200
    # The delivered webhook's id finds its event, the same object.
    found = api.get(reverse("api-v1:event", args=[headers["webhook-id"]]))
    assert found.status_code == 200
    assert found.json() == json.loads(body)


def test_a_disabled_endpoint_gets_no_test_event(api):
    endpoint_id = create(api, "https://shop.example/a", enabled=False).json()["id"]
    response = api.post(reverse("api-v1:webhook-endpoint-test", args=[endpoint_id]))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "endpoint_disabled"
    assert not OutboxMessage.objects.exists()
    assert not Event.objects.exists()


def test_a_replayed_test_request_sends_one_ping(api, receiver):
    state, url = receiver
    endpoint_id = create(api, url).json()["id"]
    path = reverse("api-v1:webhook-endpoint-test", args=[endpoint_id])
    first = api.post(path, headers={"Idempotency-Key": "ping-1"})
    again = api.post(path, headers={"Idempotency-Key": "ping-1"})
    assert again["Idempotent-Replayed"] == "true"
    assert first.json() == again.json()
    outbox_deliver_due()
    assert len(state.received) == 1


def test_a_merchant_has_at_most_20_endpoints(api):
    for number in range(20):
        assert create(api, f"https://shop.example/{number}").status_code == 201
    refused = create(api, "https://shop.example/21")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_endpoints"


def test_another_merchants_endpoint_is_404_and_untouched(api):
    theirs = WebhookEndpoint.objects.create(
        merchant=MerchantFactory(),
        url="https://theirs.example/h",
        events=["dispute.opened"],
        secret="whsec_dGVzdA==",
        created_at=timezone.now(),
    )
    assert api.get(LIST).json()["data"] == []
    for response in (
        api.get(one(theirs.pk)),
        api.patch(one(theirs.pk), {"enabled": False}, content_type="application/json"),
        api.delete(one(theirs.pk)),
        api.post(reverse("api-v1:webhook-endpoint-rotate-secret", args=[theirs.pk])),
        api.post(reverse("api-v1:webhook-endpoint-test", args=[theirs.pk])),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.enabled
    assert theirs.secret == "whsec_dGVzdA=="
    assert not OutboxMessage.objects.exists()


def test_provider_endpoints_are_not_a_merchants(api):
    from api.webhooks.endpoints import provider_endpoint_create

    provider = provider_endpoint_create(
        url="https://ledger.example/", description="", now=timezone.now()
    )
    assert api.get(LIST).json()["data"] == []
    assert api.get(one(provider.pk)).status_code == 404


def test_reading_needs_webhooks_read_and_changing_webhooks_write(merchant):
    def client(*scopes: str) -> Client:
        key = api_key_create(name="k", merchant=merchant, scopes=list(scopes), now=timezone.now())
        return Client(HTTP_AUTHORIZATION=f"Bearer {key.key}")

    reader = client("webhooks:read")
    writer = client("webhooks:write")
    assert reader.get(LIST).status_code == 200
    refused = create(reader, "https://shop.example/a")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "missing_scope"
    assert "webhooks:write" in refused.json()["error"]["message"]
    assert create(writer, "https://shop.example/a").status_code == 201
    listing = writer.get(LIST)
    assert listing.status_code == 403
    assert "webhooks:read" in listing.json()["error"]["message"]


def test_the_list_costs_one_query_however_many_endpoints(api, django_assert_num_queries):
    create(api, "https://shop.example/0")
    api.get(LIST)  # the key is kept by the worker from here on
    with django_assert_num_queries(1):
        api.get(LIST)
    for number in range(1, 15):
        create(api, f"https://shop.example/{number}")
    with django_assert_num_queries(1):
        assert len(api.get(LIST).json()["data"]) == 15


def test_a_test_merchants_endpoints_work_the_same(receiver):
    state, url = receiver
    sandbox = MerchantFactory(test_mode=True)
    key = api_key_create(name="k", merchant=sandbox, now=timezone.now()).key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    created = create(client, url).json()
    client.post(reverse("api-v1:webhook-endpoint-test", args=[created["id"]]))
    outbox_deliver_due()
    ((headers, body),) = state.received
    assert Webhook(created["secret"]).verify(body, headers)["type"] == "ping"


def test_a_ping_older_than_five_minutes_is_refused_by_the_receiver(api, receiver):
    """The timestamp signed is the attempt's: a delivery replayed later fails verification."""
    state, url = receiver
    created = create(api, url).json()
    api.post(reverse("api-v1:webhook-endpoint-test", args=[created["id"]]))
    outbox_deliver_due()
    ((headers, body),) = state.received
    later = time_machine.travel(timezone.now() + timedelta(minutes=10))
    with later, pytest.raises(WebhookVerificationError):
        Webhook(created["secret"]).verify(body, headers)
