"""End to end over real HTTP: the example provider client (examples/provider_client.py) against
pytest-django's live server on PostgreSQL, a customer following the order's signed link through
the public pages, the deadline sweep and a support decision, then the payment instructions read
from the feed, compared with the database and the ledger check, and pushed signed to the
client's receiver on a loopback port.

The clock is never travelled (the live server shares the process clock): the later moments of
the sweep and the decision are passed to the services as `now=`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_create
from api.models import EndpointAudience, WebhookEndpoint
from api.webhooks.endpoints import webhook_endpoint_create, webhook_endpoint_rotate_secret
from disputes import services
from disputes.choices import PaymentState, State
from disputes.models import Dispute, Merchant, Order, PaymentInstruction
from examples.provider_client import (
    InvalidWebhook,
    PortalClient,
    PortalError,
    WebhookReceiver,
    main,
    verify_webhook,
)
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import decision_marks, staff_actor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CASE_ID = re.compile(r"<strong>(DP-[A-Z0-9-]+)</strong>")
CASE_PATH = re.compile(r'href="(/c/[^"/]+/)"')
MERCHANT_EVENTS = [
    "dispute.opened",
    "dispute.customer_replied",
    "dispute.escalated",
    "dispute.decided",
    "dispute.resolved",
]


@pytest.fixture
def portal(live_server: Any, settings: Any) -> str:
    cache.clear()  # rate limits: the live server shares this process's cache
    settings.SITE_URL = live_server.url  # customer links point at the live server
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # the receivers listen on 127.0.0.1
    return str(live_server.url)


@pytest.fixture
def operator_key() -> str:
    return api_key_create(name="provider", operator=True, now=timezone.now()).key


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    # The secret is set once the endpoint exists (it is made with the endpoint).
    receiver = WebhookReceiver("whsec_" + "A" * 32).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def merchant_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver("whsec_" + "A" * 32, path="/case-events").start()
    yield receiver
    receiver.stop()


def register_provider_endpoint(url: str) -> WebhookEndpoint:
    """As the operator's staff does it: the admin's "provider endpoint" form."""
    admin = get_user_model().objects.create_superuser("ops@provider.example", "ops@x.example", "pw")
    browser = Client()
    browser.force_login(admin)
    response = browser.post(
        reverse("admin:api_providerendpoint_add"),
        {"url": url, "description": "ledger", "enabled": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get(url=url)
    assert endpoint.audience == EndpointAudience.PROVIDER
    assert endpoint.merchant_id is None
    assert endpoint.secret.startswith("whsec_")
    return endpoint


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {page.url}"
    return found.group(1)


def open_case_as_customer(customer_url: str, *, message: str) -> tuple[str, str]:
    """Follow the order's signed link, choose "dispute the payment" and send the form;
    the case id and the path of the customer's private case page."""
    with httpx.Client(follow_redirects=True, timeout=30) as customer:
        start = customer.get(customer_url)
        assert start.status_code == 200
        assert start.url.path == reverse("disputes:start")
        assert reverse("disputes:open-dispute") in start.text
        form = customer.get(str(start.url.join(reverse("disputes:open-dispute"))))
        assert form.status_code == 200
        done = customer.post(
            str(form.url),
            data={
                "csrfmiddlewaretoken": _csrf(form),
                "reason": "not_received",
                "message": message,
            },
        )
        assert done.status_code == 200
        assert done.url.path == reverse("disputes:opened"), done.text[:2000]
        case_id, case_path = CASE_ID.search(done.text), CASE_PATH.search(done.text)
        assert case_id
        assert case_path
        return case_id.group(1), case_path.group(1)


def reply_as_customer(base_url: str, case_path: str, reply: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, follow_redirects=True, timeout=30) as customer:
        page = customer.get(case_path)
        assert page.status_code == 200
        assert f'value="{reply}"' in page.text
        return customer.post(
            f"{case_path}reply/",
            data={"csrfmiddlewaretoken": _csrf(page), "reply-reply": reply, "reply-message": ""},
        )


def verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)  # CommandError (exit 1) on any difference
    return out.getvalue()


def test_a_provider_integration_end_to_end(
    portal: str,
    operator_key: str,
    receiver: WebhookReceiver,
    merchant_receiver: WebhookReceiver,
) -> None:
    provider_endpoint = register_provider_endpoint(receiver.url)
    receiver.secret = provider_endpoint.secret
    client = PortalClient(portal, operator_key)

    # --- onboarding, with contract terms -------------------------------------------------------
    merchant_out = client.onboard_merchant(
        slug="trail-co",
        name="Trail & Co",
        country="NL",
        currency="EUR",
        owner_email="owner@trail-co.example",
        terms={"dispute_window_days": 14, "dispute_window_day_count": "working"},
    )
    assert merchant_out["terms"]["dispute_window_days"] == 14
    assert merchant_out["terms"]["dispute_window_day_count"] == "working"
    assert merchant_out["test_mode"] is False
    # The same onboarding sent again (a lost answer) gets the first answer, not a 409.
    assert (
        client.onboard_merchant(
            slug="trail-co",
            name="Trail & Co",
            country="NL",
            currency="EUR",
            owner_email="owner@trail-co.example",
            terms={"dispute_window_days": 14, "dispute_window_day_count": "working"},
        )
        == merchant_out
    )
    merchant = Merchant.objects.get(slug="trail-co")
    events_endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url=merchant_receiver.url,
        events=MERCHANT_EVENTS,
        description="shop system",
        now=timezone.now(),
    )
    merchant_receiver.secret = events_endpoint.secret

    # --- the order feed ------------------------------------------------------------------------
    placed = (timezone.now() - timedelta(hours=2)).astimezone(UTC).isoformat()
    orders = [
        {
            "order_number": "A-1",
            "placed_at": placed,
            "amount": "89.95",
            "currency": "EUR",
            "customer_email": "ann@mail.example",
            "line_summary": "1 trail shoe, size 42",
        },
        {
            "order_number": "A-2",
            "placed_at": placed,
            "amount": "49.00",
            "currency": "EUR",
            "customer_email": "bob@mail.example",
            "is_invoice": False,
        },
        {
            "order_number": "A-3",
            "placed_at": placed,
            "amount": "-5",
            "currency": "EUR",
            "customer_email": "cy@mail.example",
        },
    ]
    report = client.push_orders("trail-co", orders)
    assert report.numbers("created") == ["A-1", "A-2"]
    assert [(e["order_number"], e["error"]["field"]) for e in report.errors] == [("A-3", "amount")]
    again = client.push_orders("trail-co", orders[:2])
    assert again.counts() == {"unchanged": 2}
    shipped = client.update_order(
        "trail-co",
        "A-1",
        shipments=[{"carrier": "PostNL", "tracking_number": "3SABC", "shipped_at": placed}],
    )
    assert shipped["status"] == "updated"
    listed = {order["order_number"]: order for order in client.orders("trail-co", limit=1)}
    assert set(listed) == {"A-1", "A-2"}
    assert listed["A-1"]["payment_state"] == "active"
    assert listed["A-2"]["payment_state"] == "paid"
    assert all(
        order["customer_url"].startswith(portal + "/open/link/") for order in listed.values()
    )

    # --- two customers open cases through their links --------------------------------------------
    case_1, case_path_1 = open_case_as_customer(
        listed["A-1"]["customer_url"], message="The parcel never came."
    )
    case_2, _ = open_case_as_customer(listed["A-2"]["customer_url"], message="Nothing arrived.")
    assert client.order("trail-co", "A-1")["open_case"] == case_1
    with pytest.raises(PortalError) as refused:
        client.update_order("trail-co", "A-1", amount="80.00")
    assert (refused.value.status, refused.value.code) == (409, "order_has_open_case")
    # The case keeps the terms in force when it opened: 14 working days.
    dispute_1 = Dispute.objects.get(public_id=case_1)
    assert dispute_1.terms is not None
    assert dispute_1.terms.dispute_window_days == 14

    # --- the merchant answers with its own key ---------------------------------------------------
    merchant_key = api_key_create(
        name="shop",
        merchant=merchant,
        scopes=["disputes:read", "disputes:write"],
        now=timezone.now(),
    ).key
    shop = PortalClient(portal, merchant_key)
    assert {case["id"] for case in shop.disputes(None)} == {case_1, case_2}
    answered = shop.respond(
        None,
        case_1,
        refund="partial",
        amount="30.00",
        message="Sorry: 30.00 back for the delay.",
        idempotency_key=f"respond-{case_1}",
    )
    assert answered["state"] == "awaiting_customer"
    with pytest.raises(PortalError) as refused:
        list(shop.orders("trail-co"))
    assert (refused.value.status, refused.value.code) == (403, "missing_scope")
    assert "orders:read" in refused.value.message

    # --- the customer accepts on their private case page -----------------------------------------
    replied = reply_as_customer(portal, case_path_1, "received_refund")
    assert replied.status_code == 200
    dispute_1.refresh_from_db()
    assert (dispute_1.state, dispute_1.settled_amount) == (State.RESOLVED, Decimal("30.00"))

    # --- the other case passes its deadline; support decides -----------------------------------
    dispute_2 = Dispute.objects.get(public_id=case_2)
    assert dispute_2.due_at is not None
    after_deadline = dispute_2.due_at + timedelta(minutes=1)
    assert services.dispute_escalate_overdue(now=after_deadline) == 1
    escalated = client.request("GET", f"/disputes/{case_2}", merchant="trail-co")
    assert escalated["state"] == "escalated"
    # Mid-way the provider's secret is rotated: the old one signs beside the new for 24 hours.
    webhook_endpoint_rotate_secret(endpoint=provider_endpoint, now=timezone.now())
    provider_endpoint.refresh_from_db()
    receiver.secret = [provider_endpoint.secret]
    services.dispute_decide(
        dispute=dispute_2,
        **decision_marks(dispute_2),
        actor=staff_actor(),
        outcome="customer",
        reason="No proof of delivery.",
        now=after_deadline + timedelta(hours=1),
    )

    # --- the instruction feed, against the database and the ledger ------------------------------
    feed = list(client.consume_instructions(0, limit=2))  # small pages: the cursor is used
    rows = list(PaymentInstruction.objects.select_related("order").order_by("sequence"))
    assert [i["sequence"] for i in feed] == [row.sequence for row in rows] == [1, 2, 3, 4, 5]
    assert [(i["type"], i["order_number"], i["amount"]["value"]) for i in feed] == [
        ("pause_invoice", "A-1", "89.95"),
        ("cancel_invoice", "A-1", "30.00"),
        ("reactivate_invoice", "A-1", "59.95"),
        ("fee_charged", "A-2", "7.50"),
        ("charge_back", "A-2", "49.00"),
    ]
    for instruction, row in zip(feed, rows, strict=True):
        assert instruction["id"] == row.public_id
        assert instruction["type"] == row.kind
        assert instruction["order_number"] == row.order.order_number
        assert Decimal(instruction["amount"]["value"]) == row.amount
        assert instruction["amount"]["currency"] == row.currency == "EUR"
        assert instruction["merchant"] == "trail-co"
        assert instruction["livemode"] is True
        assert instruction["case_id"] == (case_1 if row.order.order_number == "A-1" else case_2)
    assert client.last_sequence == 5
    assert list(client.consume_instructions()) == []  # from the remembered sequence
    payment = dict(Order.objects.values_list("order_number", "payment_state"))
    assert payment == {"A-1": PaymentState.ACTIVE, "A-2": PaymentState.CHARGED_BACK}
    assert "agree" in verify_ledger()

    # --- the signed pushes ---------------------------------------------------------------------
    # Live requests delivered theirs after commit; the later moments' rows are due later.
    outbox_deliver_due(now=after_deadline + timedelta(days=1))
    pending = OutboxMessage.objects.filter(
        channel__in=[Channel.INSTRUCTION, Channel.WEBHOOK], status=DeliveryStatus.PENDING
    )
    assert not pending.exists(), list(pending.values("kind", "last_error"))
    assert receiver.rejected == 0
    pushed = [delivery.payload for delivery in receiver.deliveries]
    assert {p["type"] for p in pushed} == {"payment_instruction.created"}
    assert {p["data"]["id"] for p in pushed} == {i["id"] for i in feed}
    assert [p["data"] for p in pushed if p["data"]["sequence"] == 5] == [feed[4]]
    per_order: dict[str, list[int]] = defaultdict(list)
    for payload in pushed:
        per_order[payload["data"]["order_number"]].append(payload["data"]["sequence"])
    assert per_order == {"A-1": [1, 2, 3], "A-2": [4, 5]}
    # A forged delivery is refused; the shop's case events arrived signed, too.
    forged = httpx.post(
        receiver.url,
        content=b'{"type":"payment_instruction.created","data":{"id":"pi_x"}}',
        headers={
            "webhook-id": "msg_forged",
            "webhook-timestamp": str(int(datetime.now(UTC).timestamp())),
            "webhook-signature": "v1,AAAA",
        },
    )
    assert forged.status_code == 401
    with pytest.raises(InvalidWebhook):
        verify_webhook(provider_endpoint.secret, {"webhook-id": "x"}, b"{}")
    assert merchant_receiver.rejected == 0
    case_events = [
        (d.payload["type"], d.payload["data"]["dispute"]["id"])
        for d in merchant_receiver.deliveries
    ]
    assert sorted(set(case_events)) == sorted(
        {
            ("dispute.opened", case_1),
            ("dispute.opened", case_2),
            ("dispute.customer_replied", case_1),
            ("dispute.resolved", case_1),
            ("dispute.escalated", case_2),
            ("dispute.decided", case_2),
        }
    )
    client.close()
    shop.close()


def test_the_demo_drives_a_test_merchant(
    portal: str, operator_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--base-url", portal, "--key", operator_key, "demo", "--merchant", "sandbox"]) == 0
    out = capsys.readouterr().out
    assert "onboarded sandbox" in out
    assert "'created': 2" in out
    assert "'error': 1" in out
    merchant = Merchant.objects.get(slug="sandbox")
    assert merchant.test_mode
    case = Dispute.objects.get(merchant=merchant)
    assert case.state == State.ESCALATED
    rows = list(PaymentInstruction.objects.filter(merchant=merchant).order_by("sequence"))
    assert [(row.kind, row.livemode) for row in rows] == [
        ("pause_invoice", False),
        ("fee_charged", False),
    ]
    assert f"#{rows[1].sequence} fee_charged 7.50 EUR sandbox" in out

    # The rest of test mode: the merchant answers, the test customer accepts.
    client = PortalClient(portal, operator_key)
    paid_order = Order.objects.get(merchant=merchant, is_invoice=False).order_number
    opened = client.request(
        "POST",
        f"/test/orders/{paid_order}/disputes",
        merchant="sandbox",
        json_body={"program": "payment_dispute", "reason": "faulty", "message": "Torn sole."},
    )
    client.respond("sandbox", opened["id"], refund="full", message="Refunded in full.")
    closed = client.request(
        "POST",
        f"/test/disputes/{opened['id']}/customer-reply",
        merchant="sandbox",
        json_body={"reply": "received_refund"},
    )
    assert (closed["state"], closed["outcome"]) == ("resolved", "agreement")
    latest = list(client.consume_instructions(rows[1].sequence, merchant="sandbox"))
    assert [(i["type"], i["amount"]["value"], i["livemode"]) for i in latest] == [
        ("refund", "49.00", False)
    ]
    assert "agree" in verify_ledger()
    # A live merchant's cases cannot be driven this way.
    client.onboard_merchant(slug="live-shop", name="Live", country="NL", currency="EUR")
    with pytest.raises(PortalError) as refused:
        client.request(
            "POST",
            "/test/orders/X-1/disputes",
            merchant="live-shop",
            json_body={"program": "payment_dispute", "reason": "faulty", "message": "x"},
        )
    assert (refused.value.status, refused.value.code) == (403, "not_a_test_merchant")
    client.close()
