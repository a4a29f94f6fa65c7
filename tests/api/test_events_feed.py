"""The event store and GET /events: every webhook event of a merchant, kept 30 days whether or
not an endpoint subscribes, the same object its deliveries carry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from api.events import EVENT_KEPT_FOR, events_delete_expired
from api.keys import api_key_create
from api.models import Event
from api.tasks import cleanup
from api.webhooks.delivery import WebhookEvent, queue_webhook, queue_webhooks
from api.webhooks.endpoints import webhook_endpoint_create
from disputes import services
from notifications.models import Channel, OutboxMessage
from tests.factories import MerchantFactory, customer_actor, open_dispute

pytestmark = pytest.mark.django_db

FEED = reverse("api-v1:events")


def feed(api: Client, **params: object) -> dict:  # type: ignore[type-arg]
    response = api.get(FEED, params)
    assert response.status_code == 200, response.content
    return response.json()  # type: ignore[no-any-return]


def test_every_event_is_kept_without_any_endpoint(api, merchant):
    dispute = open_dispute(merchant=merchant)
    services.dispute_add_message(dispute=dispute, actor=customer_actor(dispute), message="Hi")
    assert not OutboxMessage.objects.filter(channel=Channel.WEBHOOK).exists()
    data = feed(api)["data"]
    assert [e["type"] for e in data] == ["dispute.opened", "dispute.customer_replied"]
    opened = data[0]
    assert opened["id"].startswith("evt_")
    assert opened["data"]["dispute"]["id"] == dispute.public_id
    assert opened["data"]["event"]["type"] == "opened"
    assert set(opened) == {"id", "type", "timestamp", "data"}


def test_a_delivery_carries_the_event_as_the_feed_shows_it(api, merchant):
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url="http://127.0.0.1:9/h",
        events=["dispute.opened"],
        description="",
        now=timezone.now(),
    )
    open_dispute(merchant=merchant)
    message = OutboxMessage.objects.get(channel=Channel.WEBHOOK)
    assert message.context["endpoint_id"] == endpoint.pk
    (event,) = feed(api)["data"]
    assert message.context["webhook_id"] == event["id"]
    # The body as delivered (JSON-encoded from the stored context) equals the feed's object.
    assert json.loads(json.dumps(message.context["payload"])) == event
    assert api.get(reverse("api-v1:event", args=[event["id"]])).json() == event


def test_the_feed_pages_by_keyset_after_an_event_id(api, merchant):
    for number in range(7):
        queue_webhook(
            merchant.pk, "fee.statement_issued", {"n": number}, f"s:{number}", timezone.now()
        )
    first = feed(api, limit=3)
    assert [e["data"]["n"] for e in first["data"]] == [0, 1, 2]
    assert first["next_after"] == first["data"][-1]["id"]
    second = feed(api, limit=3, after=first["next_after"])
    assert [e["data"]["n"] for e in second["data"]] == [3, 4, 5]
    third = feed(api, limit=3, after=second["next_after"])
    assert [e["data"]["n"] for e in third["data"]] == [6]
    empty = feed(api, limit=3, after=third["next_after"])
    assert empty == {"data": [], "next_after": None}
    # New events come after the last id the consumer kept.
    queue_webhook(merchant.pk, "fee.statement_issued", {"n": 7}, "s:7", timezone.now())
    assert [e["data"]["n"] for e in feed(api, after=third["next_after"])["data"]] == [7]


def test_the_feed_filters_by_type_and_by_case(api, merchant):
    one = open_dispute(merchant=merchant)
    two = open_dispute(merchant=merchant)
    services.dispute_add_message(dispute=two, actor=customer_actor(two), message="Hi")
    queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:1", timezone.now())
    opened = feed(api, type="dispute.opened")["data"]
    assert [e["data"]["dispute"]["id"] for e in opened] == [one.public_id, two.public_id]
    of_two = feed(api, dispute=two.public_id)["data"]
    assert [e["type"] for e in of_two] == ["dispute.opened", "dispute.customer_replied"]
    both = feed(api, dispute=two.public_id, type="dispute.customer_replied")["data"]
    assert len(both) == 1
    assert [e["type"] for e in feed(api, type="fee.statement_issued")["data"]] == [
        "fee.statement_issued"
    ]
    # The filters page like the whole feed.
    page = feed(api, type="dispute.opened", limit=1)
    rest = feed(api, type="dispute.opened", after=page["next_after"])
    assert [e["id"] for e in page["data"] + rest["data"]] == [e["id"] for e in opened]
    refused = api.get(FEED, {"type": "dispute.nope"})
    assert refused.status_code == 422


def test_unknown_cursors_cases_and_events_are_refused(api, merchant):
    theirs = MerchantFactory()
    their_case = open_dispute(merchant=theirs)
    their_event = Event.objects.get(merchant=theirs)
    response = api.get(FEED, {"after": their_event.public_id})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_cursor",
        "message": response.json()["error"]["message"],
        "field": "after",
    }
    assert api.get(FEED, {"after": "evt_nope"}).status_code == 422
    response = api.get(FEED, {"dispute": their_case.public_id})
    assert response.status_code == 404
    response = api.get(reverse("api-v1:event", args=[their_event.public_id]))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert feed(api)["data"] == []


def test_the_feed_needs_events_read(merchant):
    key = api_key_create(
        name="k", merchant=merchant, scopes=["disputes:read"], now=timezone.now()
    ).key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    for url in (FEED, reverse("api-v1:event", args=["evt_" + "0" * 32])):
        response = client.get(url)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "missing_scope"
        assert "events:read" in response.json()["error"]["message"]


def test_a_test_merchants_events_are_kept_the_same():
    sandbox = MerchantFactory(test_mode=True)
    client = Client(
        HTTP_AUTHORIZATION="Bearer "
        + api_key_create(name="k", merchant=sandbox, now=timezone.now()).key
    )
    dispute = open_dispute(merchant=sandbox)
    services.dispute_escalate_overdue(now=dispute.due_at + timedelta(seconds=1))
    types = [e["type"] for e in feed(client)["data"]]
    assert types == ["dispute.opened", "dispute.escalated"]


def test_an_event_queued_twice_is_kept_once_with_one_id(merchant):
    now = timezone.now()
    queue_webhook(merchant.pk, "fee.statement_issued", {"id": 1}, "s:1", now)
    queue_webhook(merchant.pk, "fee.statement_issued", {"id": 1}, "s:1", now)
    assert Event.objects.count() == 1


def test_events_are_written_set_based(merchant, django_assert_num_queries):
    """However many events: the endpoints, one insert of the events, the outbox's insert."""
    others = [MerchantFactory() for _ in range(3)]
    for shop in [merchant, *others]:
        webhook_endpoint_create(
            merchant_id=shop.pk,
            url="http://127.0.0.1:9/h",
            events=["fee.statement_issued"],
            description="",
            now=timezone.now(),
        )

    def queue(count: int, prefix: str) -> int:
        events = [
            WebhookEvent(shop.pk, "fee.statement_issued", {"n": n}, f"{prefix}:{shop.pk}:{n}")
            for n in range(count)
            for shop in [merchant, *others]
        ]
        with CaptureQueriesContext(connection) as captured:
            queue_webhooks(events=events, now=timezone.now())
        return len(captured)

    assert queue(2, "a") == queue(50, "b") == 3
    assert Event.objects.count() == 4 * 52


def test_events_are_kept_for_30_days(api, merchant):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        queue_webhook(merchant.pk, "fee.statement_issued", {"n": 0}, "s:0", timezone.now())
    with time_machine.travel(start + timedelta(days=20), tick=False):
        queue_webhook(merchant.pk, "fee.statement_issued", {"n": 1}, "s:1", timezone.now())
    with time_machine.travel(start + EVENT_KEPT_FOR - timedelta(seconds=1), tick=False):
        assert cleanup.run()["events"] == 0
        assert len(feed(api)["data"]) == 2
    with time_machine.travel(start + EVENT_KEPT_FOR + timedelta(seconds=1), tick=False):
        assert cleanup.run()["events"] == 1
        assert [e["data"]["n"] for e in feed(api)["data"]] == [1]
    with time_machine.travel(start + timedelta(days=51), tick=False):
        assert cleanup.run()["events"] == 1
        assert feed(api)["data"] == []


def test_the_retention_job_deletes_in_batches(merchant):
    old = timezone.now() - EVENT_KEPT_FOR - timedelta(days=1)
    for number in range(7):
        queue_webhook(merchant.pk, "fee.statement_issued", {}, f"s:{number}", old)
    queue_webhook(merchant.pk, "fee.statement_issued", {}, "s:new", timezone.now())
    with CaptureQueriesContext(connection) as captured:
        assert events_delete_expired(now=timezone.now(), batch_size=3) == 7
    deletes = [q for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3
    assert Event.objects.count() == 1


def test_the_feed_costs_the_same_queries_for_any_page(api, merchant, django_assert_num_queries):
    for number in range(30):
        queue_webhook(
            merchant.pk, "fee.statement_issued", {"n": number}, f"s:{number}", timezone.now()
        )
    first = feed(api, limit=2)  # the key is kept by the worker from here on
    with django_assert_num_queries(1):
        feed(api, limit=2)
    with django_assert_num_queries(1):
        assert len(feed(api, limit=25)["data"]) == 25
    # A cursor adds its look-up.
    with django_assert_num_queries(2):
        feed(api, limit=25, after=first["next_after"])
