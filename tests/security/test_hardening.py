"""Findings of the penetration test (issue #19) that are fixed, each through the interface that
showed it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.signing import Signer
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_create
from api.models import WebhookEndpoint
from disputes.choices import MemberRole
from disputes.links import customer_case_path
from disputes.models import Merchant, PlatformPartner
from notifications.emails import render_email
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory, open_dispute

pytestmark = pytest.mark.django_db


def owner_portal(merchant) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(MembershipFactory(merchant=merchant, role=MemberRole.OWNER).user)
    return client


def test_a_date_far_in_the_future_is_a_clear_message_not_a_server_error():
    merchant = MerchantFactory()
    open_dispute(merchant=merchant)
    portal = owner_portal(merchant)
    page = portal.get(reverse("portal:queue"), {"opened_to": "9999-12-31"})
    assert page.status_code == 200
    assert "Enter a date before the year 2100." in page.content.decode()
    export = portal.get(reverse("portal:queue-export"), {"opened_to": "9999-12-31"})
    assert export.status_code == 200


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_quoted_as_text(lead):
    merchant = MerchantFactory()
    open_dispute(order=OrderFactory(merchant=merchant, order_number=f"{lead}CMD|calc"))
    export = owner_portal(merchant).get(reverse("portal:queue-export"))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[1][1] == f"'{lead}CMD|calc"
    assert "no-store" in export["Cache-Control"]


def test_the_webhook_form_keeps_an_endpoint_switched_off_when_asked(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    merchant = MerchantFactory()
    owner_portal(merchant).post(
        reverse("portal:api-webhook-create"),
        {"url": "https://hooks.shop.example/in", "events": ["dispute.opened"]},  # box unticked
    )
    assert WebhookEndpoint.objects.get(merchant=merchant).enabled is False


def test_a_partner_reusing_an_idempotency_key_for_two_merchants_gets_a_conflict():
    partner = PlatformPartner.objects.create(name="Platform", slug="platform")
    first = MerchantFactory(platform_partner=partner)
    second = MerchantFactory(platform_partner=partner)
    key = api_key_create(name="p", partner=partner, now=timezone.now()).key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    placed = (timezone.now() - timedelta(days=2)).replace(microsecond=0).isoformat()
    body = {
        "order_number": "ORD-1",
        "placed_at": placed,
        "amount": "10.00",
        "currency": "EUR",
        "customer_email": "kim@mail.example",
    }

    def send(merchant):  # type: ignore[no-untyped-def]
        return api.post(
            "/api/v1/orders",
            body,
            content_type="application/json",
            secure=True,
            headers={"X-Merchant": merchant.slug, "Idempotency-Key": "same-key"},
        )

    assert send(first).status_code in (200, 201)
    replay_elsewhere = send(second)
    assert replay_elsewhere.status_code == 409
    assert replay_elsewhere.json()["error"]["code"] == "idempotency_key_reused"
    assert not second.orders.exists()


def test_portal_pages_and_documents_are_not_kept_by_any_cache():
    merchant = MerchantFactory()
    page = owner_portal(merchant).get(reverse("portal:queue"))
    assert "no-store" in page["Cache-Control"]


def test_a_rotated_secret_key_keeps_the_customer_links_already_sent(settings):
    dispute = open_dispute()
    link = customer_case_path(dispute)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-long-random-secret-key-for-the-rotation-test-0123456789"
    settings.SECRET_KEY_FALLBACKS = [old]
    assert Client().get(link).status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert Client().get(link).status_code == 404
    assert Signer().sign("x")  # signing uses the new key


def test_a_url_the_customer_wrote_is_text_in_the_merchants_html_email(settings):
    settings.SITE_URL = "https://portal.example"
    email = render_email(
        "merchant_customer_replied",
        {
            "case_id": "DP-AAAA-BBBB-CCCC",
            "order_number": "1",
            "message": "See https://evil.example/login and reply.",
            "case_url": "https://portal.example/portal/cases/DP-AAAA-BBBB-CCCC/",
        },
        language="en",
        time_zone="UTC",
    )
    assert 'href="https://evil.example' not in email.html
    assert "https://evil.example/login" in email.html
    assert 'href="https://portal.example/portal/cases/DP-AAAA-BBBB-CCCC/"' in email.html


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/api/v1/files", b"--x\r\n", "multipart/form-data"),  # no boundary
        ("/api/v1/orders", b"--x\r\n", "multipart/form-data"),
        ("/api/v1/orders/batch", b'{"orders": "' + b"a" * 13_000_000 + b'"}', "application/json"),
    ],
)
def test_malformed_api_bodies_get_the_apis_json_error(path, body, content_type):
    merchant = MerchantFactory()
    key = api_key_create(name="t", merchant=merchant, now=timezone.now()).key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}", raise_request_exception=False)
    response = api.generic("POST", path, body, content_type=content_type, secure=True)
    assert response.status_code in (400, 413, 415, 422)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"]


@pytest.mark.parametrize("invisible", ["\u200b\u200b", "\u200d", "\u2060 \ufeff", "\u202e"])
def test_a_message_of_invisible_characters_is_no_message(invisible):
    from disputes import services
    from disputes.errors import MissingMessage
    from tests.factories import merchant_actor

    dispute = open_dispute()
    with pytest.raises(MissingMessage):
        services.dispute_add_message(
            dispute=dispute, actor=merchant_actor(dispute.merchant), message=invisible
        )


def test_bidi_controls_are_removed_from_a_message():
    from disputes import services
    from tests.factories import merchant_actor

    dispute = open_dispute()
    services.dispute_add_message(
        dispute=dispute, actor=merchant_actor(dispute.merchant), message="pay \u202eexe.pdf"
    )
    assert dispute.events.get(event_type="message").message == "pay exe.pdf"


@pytest.mark.parametrize("address", ["own\u200ber@shop.example", "owner@shop\u202e.example"])
def test_a_team_address_with_invisible_characters_is_refused(address):
    merchant = MerchantFactory()
    response = owner_portal(merchant).post(
        reverse("portal:team"), {"email": address, "role": "agent"}
    )
    page = response.content.decode()
    # Refused by the address check or, first, as no valid address at all.
    assert "invisible or look-alike characters" in page or "valid email address" in page
    assert merchant.memberships.count() == 1


def test_the_compose_file_trusts_no_forwarded_address_while_gunicorn_is_published():
    from pathlib import Path

    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    assert "TRUSTED_PROXY_COUNT: ${TRUSTED_PROXY_COUNT:-0}" in compose
    assert '"8000:8000"' in compose  # published directly: nothing in front adds the header


@pytest.mark.parametrize(
    "address",
    ["own\u200ber@trail.example", "owner@trail.example\u202e", "\uff4fwner@trail.example"],
)
def test_onboarding_refuses_an_owner_address_with_invisible_or_look_alike_characters(address):
    key = api_key_create(name="op", operator=True, now=timezone.now()).key
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post(
        "/api/v1/merchants",
        {
            "name": "Trail",
            "slug": "trail",
            "country": "NL",
            "time_zone": "Europe/Amsterdam",
            "currency": "EUR",
            "owner_email": address,
        },
        content_type="application/json",
    )
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"]["code"] == "address_not_accepted"
    assert not get_user_model().objects.filter(username__icontains="trail.example").exists()
    assert not Merchant.objects.filter(slug="trail").exists()
