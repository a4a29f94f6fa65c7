"""/merchants: onboarding shops with contract terms, versioned; a case keeps its terms."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from api.keys import api_key_create
from disputes.choices import Program, Reason
from disputes.models import ContractTerms, Merchant, MerchantMembership
from notifications.models import OutboxMessage
from tests.factories import MerchantFactory, OrderFactory, open_dispute

pytestmark = pytest.mark.django_db

SHOP = {
    "name": "Trail & Co",
    "slug": "trail-co",
    "country": "NL",
    "time_zone": "Europe/Amsterdam",
    "currency": "EUR",
    "language": "nl",
    "owner_email": "owner@trail.example",
    "terms": {"dispute_window_days": 14, "dispute_window_day_count": "working"},
}


@pytest.fixture
def operator(db) -> Client:  # type: ignore[no-untyped-def]
    key = api_key_create(name="op", operator=True, now=timezone.now()).key
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def send(client: Client, method: str, url: str, body: dict, **headers: str):  # type: ignore[no-untyped-def,type-arg]
    return getattr(client, method)(url, body, content_type="application/json", headers=headers)


def test_the_operator_onboards_a_shop_with_terms_and_its_owner_is_invited(operator):
    response = send(operator, "post", "/api/v1/merchants", SHOP)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "trail-co"
    assert body["test_mode"] is False
    assert body["terms"]["dispute_window_days"] == 14
    assert body["terms"]["dispute_window_day_count"] == "working"
    assert body["terms"]["protection_window_days"] == 5
    assert body["terms"]["fee_plan"] == "standard"
    merchant = Merchant.objects.get(slug="trail-co")
    assert MerchantMembership.objects.filter(merchant=merchant, user__email=SHOP["owner_email"])
    invitation = OutboxMessage.objects.get(kind="merchant_invitation")
    assert invitation.recipient == SHOP["owner_email"]


def test_the_same_slug_twice_is_a_conflict(operator):
    send(operator, "post", "/api/v1/merchants", SHOP)
    again = send(operator, "post", "/api/v1/merchants", SHOP)
    assert again.status_code == 409
    assert again.json()["error"]["field"] == "slug"
    assert Merchant.objects.filter(slug="trail-co").count() == 1


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"dispute_window_days": 13}, "dispute_window_days"),
        ({"dispute_window_days": 22}, "dispute_window_days"),
        ({"protection_window_days": 7}, "protection_window_days"),
        ({"dispute_window_day_count": "lunar"}, "dispute_window_day_count"),
        ({"fee_plan": "no-such-plan"}, "currency"),
    ],
)
def test_terms_outside_the_programs_bounds_are_refused(operator, terms, field):
    response = send(operator, "post", "/api/v1/merchants", {**SHOP, "terms": terms})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == field
    assert not Merchant.objects.filter(slug="trail-co").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country": "Netherlands"}, "country"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"currency": "JPY"}, "currency"),  # no fee schedule prices it
        ({"language": "xx"}, "language"),
        ({"slug": "Not A Slug"}, "slug"),
    ],
)
def test_bad_details_are_refused_with_their_field(operator, change, field):
    response = send(operator, "post", "/api/v1/merchants", {**SHOP, **change})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["field"] == field


def test_new_terms_start_later_and_a_case_keeps_the_terms_it_was_opened_under(operator):
    send(operator, "post", "/api/v1/merchants", SHOP)
    merchant = Merchant.objects.get(slug="trail-co")
    dispute = open_dispute(merchant=merchant, program=Program.PAYMENT_DISPUTE)
    # 14 working days: more than 14 calendar days, fewer than 21 (no holidays that long)
    assert dispute.due_at is not None
    assert timedelta(days=15) < dispute.due_at - dispute.opened_at < timedelta(days=21)
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    response = send(
        operator,
        "patch",
        "/api/v1/merchants/trail-co",
        {"terms": {"dispute_window_days": 21, "valid_from": tomorrow.isoformat()}},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["terms"]["dispute_window_days"] == 14  # still in force today
    assert [t["dispute_window_days"] for t in body["upcoming_terms"]] == [21]

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        later = open_dispute(merchant=merchant, reason=Reason.FAULTY)
        key = api_key_create(name="m", merchant=merchant, now=timezone.now()).key
        shop = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        old_case = shop.get(f"/api/v1/disputes/{dispute.public_id}").json()
        new_case = shop.get(f"/api/v1/disputes/{later.public_id}").json()
    assert old_case["terms"]["merchant_window_days"] == 14
    assert old_case["terms"]["merchant_window_day_count"] == "working"
    assert new_case["terms"]["merchant_window_days"] == 21
    assert new_case["terms"]["merchant_window_day_count"] == "calendar"
    assert (later.due_at - later.opened_at) >= timedelta(days=21)


def test_terms_in_the_past_or_before_the_latest_version_are_refused(operator):
    send(operator, "post", "/api/v1/merchants", SHOP)
    yesterday = (timezone.now() - timedelta(days=1)).date()
    response = send(
        operator,
        "patch",
        "/api/v1/merchants/trail-co",
        {"terms": {"valid_from": yesterday.isoformat()}},
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "valid_from"
    assert ContractTerms.objects.filter(merchant__slug="trail-co").count() == 1


def test_a_merchant_with_orders_keeps_its_currency_and_its_mode(operator):
    send(operator, "post", "/api/v1/merchants", {**SHOP, "test_mode": True})
    OrderFactory(merchant=Merchant.objects.get(slug="trail-co"))
    for change, field in (({"currency": "SEK"}, "currency"), ({"test_mode": False}, "test_mode")):
        response = send(operator, "patch", "/api/v1/merchants/trail-co", change)
        assert response.status_code == 422, response.content
        assert response.json()["error"]["field"] == field
    assert Merchant.objects.get(slug="trail-co").test_mode is True


def test_a_partner_onboards_and_sees_only_its_own_merchants(db):
    from disputes.models import PlatformPartner

    partner = PlatformPartner.objects.create(name="ShopPlatform", slug="shopplatform")
    key = api_key_create(name="p", partner=partner, now=timezone.now()).key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    MerchantFactory(slug="someone-else")
    assert send(client, "post", "/api/v1/merchants", SHOP).status_code == 201
    assert Merchant.objects.get(slug="trail-co").platform_partner == partner
    listed = client.get("/api/v1/merchants").json()
    assert [m["slug"] for m in listed["data"]] == ["trail-co"]
    assert client.get("/api/v1/merchants/someone-else").status_code == 404
    assert send(client, "patch", "/api/v1/merchants/someone-else", {"name": "x"}).status_code == 404
    # and it acts for the new merchant straight away
    orders = client.get("/api/v1/orders", headers={"X-Merchant": "trail-co"})
    assert orders.status_code == 200


def test_the_merchant_list_pages_with_a_cursor_in_a_fixed_number_of_queries(
    operator, django_assert_max_num_queries
):
    for number in range(7):
        MerchantFactory(slug=f"shop-{number:02}")
    seen: list[str] = []
    cursor = None
    while True:
        with django_assert_max_num_queries(6):
            page = operator.get(
                "/api/v1/merchants", {"limit": 3, **({"cursor": cursor} if cursor else {})}
            ).json()
        seen += [m["slug"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == 7
    bad = operator.get("/api/v1/merchants", {"cursor": "abc"})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "cursor"


def test_first_terms_can_start_later_and_the_defaults_apply_until_then(operator):
    later = (timezone.now() + timedelta(days=10)).date().isoformat()
    body = send(
        operator,
        "post",
        "/api/v1/merchants",
        {**SHOP, "terms": {"dispute_window_days": 14, "valid_from": later}},
    ).json()
    assert body["terms"]["dispute_window_days"] == 21
    assert [t["valid_from"] for t in body["upcoming_terms"]] == [later]
