"""/orders: the order feed, one or a thousand at a time, idempotent on the order number; every
bad input a JSON error with its field, never a 500 and never a half-written order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from api.keys import api_key_create
from disputes.choices import PaymentState, ProtectionStatus, Reason, State
from disputes.models import Dispute, Order
from tests.factories import MerchantFactory, open_dispute

pytestmark = pytest.mark.django_db


PLACED = (timezone.now() - timedelta(days=2)).replace(microsecond=0)
NOW_UTC = timezone.now()


def an_order(number: str = "A-1", **fields: object) -> dict:  # type: ignore[type-arg]
    return {
        "order_number": number,
        "placed_at": PLACED.isoformat(),
        "amount": "89.95",
        "currency": "EUR",
        "customer_email": "ann@mail.example",
        "customer_language": "nl",
        "is_invoice": True,
        "protection_tier": "none",
        "shipments": [{"carrier": "PostNL", "tracking_number": "3S1", "shipped_at": None}],
        "line_summary": "1 trail shoe",
        **fields,
    }


def post(client: Client, url: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def patch(client: Client, url: str, body: object):  # type: ignore[no-untyped-def]
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_one_order_is_created_then_unchanged_then_updated(api, merchant):
    first = post(api, "/api/v1/orders", an_order())
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "created"
    order = first.json()["order"]
    assert order["amount"] == {"value": "89.95", "currency": "EUR"}
    assert order["payment_state"] == PaymentState.ACTIVE
    assert order["shipments"][0]["carrier"] == "PostNL"
    assert order["customer_url"].startswith("http")
    again = post(api, "/api/v1/orders", an_order())
    assert (again.status_code, again.json()["status"]) == (200, "unchanged")
    changed = post(api, "/api/v1/orders", an_order(line_summary="2 trail shoes"))
    assert (changed.status_code, changed.json()["status"]) == (200, "updated")
    assert Order.objects.get(merchant=merchant).line_summary == "2 trail shoes"


def test_a_batch_answers_each_item_in_order_and_stores_only_the_good_ones(api, merchant):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    batch = {
        "orders": [
            an_order("A-1"),
            an_order("A-2", placed_at=future),
            an_order("A-3", amount="-5.00"),
            an_order("A-4", currency="JPY", amount="9000"),
            an_order("A-5", customer_email="not an email"),
            an_order("A-1", amount="10.00"),
            {"order_number": "A-7"},
            an_order("A-8", amount=12.5),
            "not an object",
        ]
    }
    response = post(api, "/api/v1/orders/batch", batch)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [(r["order_number"], r["status"]) for r in results] == [
        ("A-1", "created"),
        ("A-2", "error"),
        ("A-3", "error"),
        ("A-4", "error"),
        ("A-5", "error"),
        ("A-1", "error"),
        ("A-7", "error"),
        ("A-8", "created"),
        ("", "error"),
    ]
    fields = [r["error"]["field"] if r["status"] == "error" else None for r in results]
    assert fields[1:7] == [
        "placed_at",
        "amount",
        "currency",
        "customer_email",
        "order_number",
        "placed_at",
    ]
    codes = {r["order_number"]: r["error"]["code"] for r in results if r["status"] == "error"}
    assert codes["A-4"] == "currency_not_priced"
    assert results[5]["error"]["code"] == "duplicate_in_batch"
    assert all(r["error"]["message"] for r in results if r["status"] == "error")
    assert set(Order.objects.filter(merchant=merchant).values_list("order_number", flat=True)) == {
        "A-1",
        "A-8",
    }
    assert Order.objects.get(order_number="A-1").amount == Decimal("89.95")
    assert Order.objects.get(order_number="A-8").amount == Decimal("12.50")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"order_number": ["A-1"]}, "order_number"),
        ({"order_number": True}, "order_number"),
        ({"is_invoice": "maybe"}, "is_invoice"),
        ({"line_summary": ["shoe"]}, "line_summary"),
        ({"amount": {"value": "1.00"}}, "amount"),
        ({"placed_at": 1767225600}, "placed_at"),
        ({"shipments": "PostNL"}, "shipments"),
        ({"shipments": [{"carrier": "DHL", "shipped_at": "yesterday"}]}, "shipments"),
        ({"protection_tier": "gold"}, "protection_tier"),
        ({"customer_language": "xx"}, "customer_language"),
    ],
)
def test_a_batch_item_of_the_wrong_type_is_refused_with_its_field(api, fields, field):
    response = post(api, "/api/v1/orders/batch", {"orders": [an_order("T-1", **fields)]})
    assert response.status_code == 200, response.content
    (result,) = response.json()["results"]
    assert (result["status"], result["error"]["field"]) == ("error", field)
    assert not Order.objects.exists()


def test_the_same_batch_sent_twice_is_unchanged_the_second_time(api):
    batch = {"orders": [an_order(f"B-{n}", amount=f"{n}.00") for n in range(1, 51)]}
    first = post(api, "/api/v1/orders/batch", batch).json()["results"]
    second = post(api, "/api/v1/orders/batch", batch).json()["results"]
    assert {r["status"] for r in first} == {"created"}
    assert {r["status"] for r in second} == {"unchanged"}


@pytest.mark.postgres  # SQLite splits a bulk insert by its limit on query parameters
def test_a_batch_costs_a_fixed_number_of_queries(api, django_assert_max_num_queries):
    small = {"orders": [an_order(f"S-{n}") for n in range(5)]}
    large = {"orders": [an_order(f"L-{n}") for n in range(500)]}
    with django_assert_max_num_queries(20) as few:
        post(api, "/api/v1/orders/batch", small)
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        post(api, "/api/v1/orders/batch", large)


def test_more_than_a_thousand_orders_or_megabytes_of_json_are_refused(api, merchant):
    too_many = post(api, "/api/v1/orders/batch", {"orders": [an_order("X")] * 1001})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["field"] == "orders"
    huge = {"orders": [an_order("Y", line_summary="x" * 1990)] * 800, "padding": "x" * 5_000_000}
    response = post(api, "/api/v1/orders/batch", huge)
    assert response.status_code == 413, response.content[:300]
    assert response.json()["error"]["code"] == "too_large"
    assert not Order.objects.filter(merchant=merchant).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", None),
        ([], None),
        ({"orders": "no"}, "orders"),
    ],
)
def test_a_batch_that_is_not_a_batch_gets_a_json_error(api, body, field):
    raw = body if isinstance(body, str) else json.dumps(body)
    response = api.post("/api/v1/orders/batch", raw, content_type="application/json")
    assert response.status_code in (400, 422), response.content
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert error["field"] == field


def test_an_unknown_merchant_in_the_header_is_not_found(db):
    key = api_key_create(name="op", operator=True, now=timezone.now()).key
    operator = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = post(operator, "/api/v1/orders", an_order(), **{"X-Merchant": "nobody"})
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "X-Merchant"
    assert not Order.objects.exists()


def test_an_order_with_an_open_case_keeps_its_amount_and_currency(api, merchant):
    post(api, "/api/v1/orders", an_order())
    order = Order.objects.get(merchant=merchant)
    open_dispute(order=order)
    response = post(api, "/api/v1/orders", an_order(amount="10.00"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("order_has_open_case", "amount")
    assert "open case" in error["message"]
    refused = patch(api, f"/api/v1/orders/{order.order_number}", {"currency": "SEK"})
    assert refused.status_code == 409
    assert Order.objects.get(pk=order.pk).amount == Decimal("89.95")
    shipped = patch(
        api,
        f"/api/v1/orders/{order.order_number}",
        {"shipments": [{"carrier": "DHL", "tracking_number": "JJD1"}]},
    )
    assert shipped.status_code == 200, shipped.content
    assert shipped.json()["order"]["open_case"] == Dispute.objects.get().public_id


def test_patch_reports_a_payment_a_cancellation_and_a_refund_outside_the_portal(api, merchant):
    post(api, "/api/v1/orders", an_order("P-1"))
    post(api, "/api/v1/orders", an_order("P-2"))
    post(api, "/api/v1/orders", an_order("P-3", is_invoice=False))
    now = timezone.now().isoformat()
    paid = patch(api, "/api/v1/orders/P-1", {"paid_at": now}).json()["order"]
    assert paid["payment_state"] == PaymentState.PAID
    cancelled = patch(api, "/api/v1/orders/P-2", {"cancelled_at": now}).json()["order"]
    assert cancelled["payment_state"] == PaymentState.CANCELLED
    refunded = patch(api, "/api/v1/orders/P-3", {"refunded_outside_amount": "89.95"})
    assert refunded.json()["order"]["payment_state"] == PaymentState.REFUNDED
    too_much = patch(api, "/api/v1/orders/P-3", {"refunded_outside_amount": "100.00"})
    assert too_much.status_code == 422
    assert too_much.json()["error"]["field"] == "refunded_outside_amount"
    missing = patch(api, "/api/v1/orders/NOPE", {"line_summary": "x"})
    assert missing.status_code == 404


def test_protection_is_chosen_at_checkout_and_only_basic_becomes_plus(api):
    post(api, "/api/v1/orders", an_order("T-1", protection_tier="basic"))
    upgraded = patch(api, "/api/v1/orders/T-1", {"protection_tier": "plus"})
    assert upgraded.status_code == 200
    assert upgraded.json()["order"]["protection"]["tier"] == "plus"
    assert upgraded.json()["order"]["protection"]["status"] == ProtectionStatus.ACTIVE
    post(api, "/api/v1/orders", an_order("T-2"))
    refused = patch(api, "/api/v1/orders/T-2", {"protection_tier": "plus"})
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "protection_tier"


def test_the_list_filters_and_pages_with_a_cursor_without_n_plus_one(
    api, merchant, django_assert_max_num_queries
):
    base = timezone.now() - timedelta(days=10)
    orders = [
        an_order(f"L-{n:02}", placed_at=(base + timedelta(hours=n)).isoformat()) for n in range(12)
    ]
    post(api, "/api/v1/orders/batch", {"orders": orders})
    open_dispute(order=Order.objects.get(order_number="L-03"))
    MerchantFactory()  # another shop's orders never show
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        with django_assert_max_num_queries(8):
            page = api.get("/api/v1/orders", params).json()
        seen += [o["order_number"] for o in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"L-{n:02}" for n in reversed(range(12))]
    with_case = api.get("/api/v1/orders", {"open_case": "true"}).json()["data"]
    assert [o["order_number"] for o in with_case] == ["L-03"]
    window = api.get(
        "/api/v1/orders",
        {
            "placed_from": (base + timedelta(hours=2)).isoformat(),
            "placed_before": (base + timedelta(hours=4)).isoformat(),
        },
    ).json()["data"]
    assert [o["order_number"] for o in window] == ["L-03", "L-02"]
    bad = api.get("/api/v1/orders", {"cursor": "forged"})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "cursor"


def test_the_customer_link_opens_a_case_without_typing_shop_number_and_email(api, client):
    post(api, "/api/v1/orders", an_order("C-1"))
    url = api.get("/api/v1/orders/C-1").json()["customer_url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    landing = client.get("/" + path)
    assert landing.status_code == 302
    opened = client.post(
        "/open/dispute/",
        {"reason": Reason.NOT_RECEIVED, "message": "The parcel never came."},
    )
    assert opened.status_code == 302, opened.content[:500]
    dispute = Dispute.objects.get()
    assert dispute.order.order_number == "C-1"
    assert dispute.state == State.AWAITING_MERCHANT
    # The link a second time: the case is open, its link goes to the customer's address.
    again = client.get("/" + path)
    assert again.status_code == 200
    assert Dispute.objects.count() == 1


def test_a_forged_or_expired_customer_link_opens_nothing(api, client, settings, time_machine):
    post(api, "/api/v1/orders", an_order("C-2"))
    url = api.get("/api/v1/orders/C-2").json()["customer_url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert client.get(path[:-3] + "xyz/").status_code == 404
    time_machine.move_to(timezone.now() + settings.CUSTOMER_LINK_MAX_AGE + timedelta(minutes=1))
    expired = client.get(path)
    assert expired.status_code == 404
    assert not Dispute.objects.exists()


def test_the_customer_pages_state_the_shops_own_window_and_whether_an_invoice_pauses(
    api, merchant, client
):
    from dataclasses import replace

    from disputes.contracts import contract_terms_add
    from disputes.policies import DEFAULT_TERMS, DayCount

    contract_terms_add(
        merchant=merchant,
        terms=replace(
            DEFAULT_TERMS, dispute_window_days=14, dispute_window_day_count=DayCount.WORKING
        ),
        valid_from=None,
        now=timezone.now(),
    )
    post(api, "/api/v1/orders", an_order("W-1", is_invoice=False))
    url = api.get("/api/v1/orders/W-1").json()["customer_url"]
    client.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    start = " ".join(client.get("/open/order/").content.decode().split())
    assert "14 working days" in start
    assert "invoice is paused" not in start
    form = " ".join(client.get("/open/dispute/").content.decode().split())
    assert "14 working days" in form
    assert "invoice is paused" not in form


def test_shipment_times_come_back_in_utc_like_every_other_time(api, merchant):
    shipped = (PLACED + timedelta(hours=5)).astimezone(timezone.get_fixed_timezone(60))
    shipments = [{"carrier": "DHL", "tracking_number": "JD1", "shipped_at": shipped.isoformat()}]
    post(api, "/api/v1/orders", an_order(shipments=shipments))
    order = api.get("/api/v1/orders/A-1").json()
    out = order["shipments"][0]
    assert datetime.fromisoformat(out["shipped_at"]) == shipped
    assert out["shipped_at"][-1] == order["placed_at"][-1]  # the same UTC spelling
    assert out["delivered_at"] is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_writers_of_the_same_new_orders_both_succeed_and_store_each_once():
    """A feed's retry racing its first try: both answer, each order is created exactly once."""
    from disputes.orders import OrderStatus, orders_upsert
    from tests.disputes.test_deadline_jobs import run_together

    merchant = MerchantFactory()
    for round_ in range(10):
        batch = [an_order(f"R{round_}-{n}", shipments=[]) for n in range(300)]

        def write(batch=batch):
            return [r.status for r in orders_upsert(merchant=merchant, items=batch, now=NOW_UTC)]

        first, second = run_together(write, write)
        assert not isinstance(first, Exception), first
        assert not isinstance(second, Exception), second
        for a, b in zip(first, second, strict=True):
            assert {a, b} == {OrderStatus.CREATED, OrderStatus.UNCHANGED}
    assert Order.objects.filter(merchant=merchant).count() == 10 * 300


def test_amounts_come_back_with_their_currencys_decimals(api):
    from billing.models import FeeSchedule

    FeeSchedule.objects.create(
        currency="JPY", valid_from=PLACED.date(), standard_fee=Decimal("1200"), elevated_fee=0
    )
    created = post(api, "/api/v1/orders", an_order("Y-1", currency="JPY", amount="9000"))
    assert created.status_code == 201, created.content
    assert created.json()["order"]["amount"] == {"value": "9000", "currency": "JPY"}
    euro = post(api, "/api/v1/orders", an_order("E-1", amount="12.5"))
    assert euro.json()["order"]["amount"] == {"value": "12.50", "currency": "EUR"}
