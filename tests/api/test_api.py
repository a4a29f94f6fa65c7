"""The merchant REST API: every endpoint, every error status, idempotency, tenant isolation."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from api.keys import api_key_create, api_key_revoke, hash_key
from api.models import ApiKey, ApiUpload, Event, IdempotencyRecord
from api.webhooks.endpoints import webhook_endpoint_create
from disputes.choices import EventType, Program, Reason, State, Visibility
from disputes.models import Dispute, DisputeEvent, PlatformPartner
from disputes.uploads import MAX_FILE_SIZE
from tests.billing.factories import issued_statement
from tests.documents import PDF
from tests.factories import MerchantFactory, open_dispute

from .case_documents import case_with_documents


def post(client: Client, url: str, body: dict, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def upload(client: Client, content: bytes = PDF, name: str = "receipt.pdf"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/files", {"file": SimpleUploadedFile(name, content)})


def error_of(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "field"}
    return body["error"]


# --- Reading -------------------------------------------------------------------------------------


def test_the_case_shows_amounts_as_strings_with_currency_and_due_at_in_utc(api, merchant):
    dispute = open_dispute(merchant=merchant)
    body = api.get(f"/api/v1/disputes/{dispute.public_id}").json()
    assert body["id"] == dispute.public_id
    assert body["disputed_amount"] == {"value": "100.00", "currency": "EUR"}
    assert body["order"]["amount"] == {"value": "100.00", "currency": "EUR"}
    assert body["due_at"].endswith("Z")
    assert body["state"] == State.AWAITING_MERCHANT
    assert body["next_actor"] == "merchant"
    assert body["outcome"] is None


def test_case_ids_are_forgiving_like_the_portal(api, merchant):
    dispute = open_dispute(merchant=merchant)
    assert api.get(f"/api/v1/disputes/{dispute.public_id.lower()}").status_code == 200


def test_the_list_pages_by_signed_cursor_newest_first(api, merchant):
    now = timezone.now()
    opened = [open_dispute(merchant=merchant, now=now - timedelta(hours=h)) for h in range(5)]
    first = api.get("/api/v1/disputes", {"limit": 2}).json()
    assert [d["id"] for d in first["data"]] == [d.public_id for d in opened[:2]]
    second = api.get("/api/v1/disputes", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = api.get("/api/v1/disputes", {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [d["id"] for d in second["data"] + third["data"]] == [d.public_id for d in opened[2:]]
    assert third["next_cursor"] is None


def test_the_list_filters(api, merchant):
    now = timezone.now()
    payment = open_dispute(merchant=merchant, now=now - timedelta(days=1))
    protection = open_dispute(
        merchant=merchant, program=Program.BUYER_PROTECTION, reason=Reason.NOT_RECEIVED
    )
    open_dispute(merchant=MerchantFactory())  # someone else's: never listed

    def ids(**params: str) -> set[str]:
        return {d["id"] for d in api.get("/api/v1/disputes", params).json()["data"]}

    assert ids() == {payment.public_id, protection.public_id}
    assert ids(program=Program.BUYER_PROTECTION) == {protection.public_id}
    assert ids(state=State.AWAITING_MERCHANT, reason=Reason.NOT_RECEIVED) == ids()
    first_due = min([payment, protection], key=lambda d: d.due_at)
    assert ids(due_before=first_due.due_at.isoformat()) == set()
    assert ids(due_before=(first_due.due_at + timedelta(seconds=1)).isoformat()) == {
        first_due.public_id
    }
    assert ids(updated_since=(now + timedelta(days=1)).isoformat()) == set()


def test_a_tampered_cursor_is_a_400(api):
    response = api.get("/api/v1/disputes", {"cursor": "not-ours"})
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "invalid_cursor",
        "message": "The cursor is not one this API gave out.",
        "field": "cursor",
    }


def test_events_are_the_merchants_timeline(api, merchant):
    dispute = open_dispute(merchant=merchant)
    DisputeEvent.objects.create(
        dispute=dispute,
        event_type=EventType.MESSAGE,
        actor_kind="staff",
        message="internal note",
        visibility=Visibility.STAFF,
        created_at=timezone.now(),
    )
    body = api.get(f"/api/v1/disputes/{dispute.public_id}/events").json()
    assert [e["type"] for e in body["data"]] == [EventType.OPENED]
    assert body["data"][0]["actor"] == "customer"
    assert body["data"][0]["created_at"].endswith("Z")


def test_fee_statements(api, merchant):
    statement = issued_statement(merchant)
    issued_statement(MerchantFactory())
    listed = api.get("/api/v1/fees/statements").json()["data"]
    assert [s["id"] for s in listed] == [statement.pk]
    detail = api.get(f"/api/v1/fees/statements/{statement.pk}").json()
    assert detail["total"] == {"value": "0.00", "currency": "EUR"}
    assert detail["lines"] == []


# --- Writing -------------------------------------------------------------------------------------


def test_respond_with_a_partial_refund_and_a_document(api, merchant):
    dispute = open_dispute(merchant=merchant)
    file_id = upload(api).json()["id"]
    response = post(
        api,
        f"/api/v1/disputes/{dispute.public_id}/respond",
        {"refund": "partial", "amount": "12.50", "message": "Half back", "files": [file_id]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["refund_offer_amount"] == {"value": "12.50", "currency": "EUR"}
    assert response.json()["state"] == State.AWAITING_CUSTOMER
    event = dispute.events.get(event_type=EventType.OFFER_MADE)
    assert event.actor_id.startswith("api:dpk_live_")
    assert [a.original_name for a in event.attachments.all()] == ["receipt.pdf"]
    assert not ApiUpload.objects.exists()  # used: the case keeps its own copy


def test_accept_a_payment_dispute(api, merchant):
    dispute = open_dispute(merchant=merchant)
    response = post(api, f"/api/v1/disputes/{dispute.public_id}/accept", {})
    assert response.status_code == 200
    assert response.json()["state"] == State.RESOLVED


def test_messages_reach_the_customer_and_evidence_only_support(api, merchant):
    dispute = open_dispute(merchant=merchant)
    url = f"/api/v1/disputes/{dispute.public_id}"
    assert post(api, f"{url}/messages", {"message": "Tracking: 123"}).status_code == 200
    assert post(api, f"{url}/evidence", {"message": "Signed receipt"}).status_code == 200
    visibility = dict(
        dispute.events.filter(
            event_type__in=[EventType.MESSAGE, EventType.EVIDENCE_ADDED]
        ).values_list("message", "visibility")
    )
    assert visibility == {"Tracking: 123": Visibility.BOTH, "Signed receipt": Visibility.MERCHANT}


def test_upload_returns_a_file_id(api):
    response = upload(api)
    assert response.status_code == 201
    assert response.json()["id"].startswith("file_")
    assert response.json()["content_type"] == "application/pdf"


# --- Errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [({}, "missing"), ({"HTTP_AUTHORIZATION": "Bearer dpk_live_nope"}, "unknown")],
)
def test_no_valid_key_is_a_401(db, headers, reason):
    response = Client(**headers).get("/api/v1/disputes")
    assert response.status_code == 401, reason
    assert error_of(response)["code"] == "unauthorized"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_key_is_a_401(api, merchant):
    key = ApiKey.objects.get(merchant=merchant)
    assert api.get("/api/v1/disputes").status_code == 200
    api_key_revoke(api_key=key, now=timezone.now())
    assert api.get("/api/v1/disputes").status_code == 401


def test_a_merchant_key_naming_another_merchant_is_a_403(api):
    other = MerchantFactory()
    response = api.get("/api/v1/disputes", headers={"X-Merchant": other.slug})
    assert response.status_code == 403
    assert error_of(response)["code"] == "merchant_not_allowed"


def test_invalid_json_is_a_400(api, merchant):
    dispute = open_dispute(merchant=merchant)
    response = api.post(
        f"/api/v1/disputes/{dispute.public_id}/messages", "{", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_an_unknown_case_is_a_404(api):
    response = api.get("/api/v1/disputes/DP-0000-0000-0000")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "not_found",
        "message": "No such case.",
        "field": "dispute_id",
    }


def test_an_action_the_state_does_not_allow_is_a_409(api, merchant):
    dispute = open_dispute(merchant=merchant)
    url = f"/api/v1/disputes/{dispute.public_id}/respond"
    assert post(api, url, {"refund": "full", "message": "Refunded"}).status_code == 200
    response = post(api, url, {"refund": "full", "message": "Again"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "transition_not_allowed"


def test_a_passed_deadline_is_a_409(api, merchant):
    dispute = open_dispute(merchant=merchant, now=timezone.now() - timedelta(days=30))
    response = post(api, f"/api/v1/disputes/{dispute.public_id}/accept", {})
    assert response.status_code == 409
    assert error_of(response)["code"] == "deadline_passed"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"refund": "partial", "amount": "abc", "message": "x"}, "invalid_amount", "amount"),
        ({"refund": "maybe", "message": "x"}, "invalid", "refund"),
        ({"refund": "full", "message": "   "}, "message_required", "message"),
        (
            {"refund": "full", "message": "x", "files": ["file_" + "0" * 32]},
            "invalid_choice",
            "files",
        ),
        ({"refund": "full"}, "invalid", "message"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field(api, merchant, body, code, field):
    dispute = open_dispute(merchant=merchant)
    response = post(api, f"/api/v1/disputes/{dispute.public_id}/respond", body)
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert (error["code"], error["field"]) == (code, field)
    assert Dispute.objects.get(pk=dispute.pk).state == State.AWAITING_MERCHANT


def test_accepting_a_buyer_protection_case_is_a_422(api, merchant):
    dispute = open_dispute(merchant=merchant, program=Program.BUYER_PROTECTION)
    response = post(api, f"/api/v1/disputes/{dispute.public_id}/accept", {})
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_choice"


def test_a_file_that_is_not_a_document_is_a_415(api):
    response = upload(api, b"MZ\x90\x00 not a pdf", "invoice.pdf")
    assert response.status_code == 415
    assert error_of(response)["code"] == "upload_rejected"


def test_a_file_over_10_mb_is_a_413(api):
    response = upload(api, b"%PDF-" + b"0" * MAX_FILE_SIZE)
    assert response.status_code == 413
    assert error_of(response)["code"] == "file_too_large"


def test_the_rate_limit_is_per_key_with_retry_after(api, merchant, settings):
    settings.API_RATE_LIMIT = 2
    assert api.get("/api/v1/disputes").status_code == 200
    assert api.get("/api/v1/disputes").status_code == 200
    response = api.get("/api/v1/disputes")
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 60
    other_key = api_key_create(name="other", merchant=merchant, now=timezone.now()).key
    assert (
        Client(HTTP_AUTHORIZATION=f"Bearer {other_key}").get("/api/v1/disputes").status_code == 200
    )


# --- Idempotency ---------------------------------------------------------------------------------


def test_the_same_key_and_body_replays_the_first_response(api, merchant):
    dispute = open_dispute(merchant=merchant)
    url = f"/api/v1/disputes/{dispute.public_id}/messages"
    first = post(api, url, {"message": "Hello"}, **{"Idempotency-Key": "k1"})
    # Same JSON, other spacing and key order: the same request.
    again = api.post(
        url,
        '{  "message" :  "Hello" }',
        content_type="application/json",
        headers={"Idempotency-Key": "k1"},
    )
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert dispute.events.filter(event_type=EventType.MESSAGE).count() == 1


def test_the_same_key_with_another_body_is_a_409(api, merchant):
    dispute = open_dispute(merchant=merchant)
    url = f"/api/v1/disputes/{dispute.public_id}/messages"
    post(api, url, {"message": "Hello"}, **{"Idempotency-Key": "k1"})
    response = post(api, url, {"message": "Other"}, **{"Idempotency-Key": "k1"})
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_key_reused"
    assert dispute.events.filter(event_type=EventType.MESSAGE).count() == 1


def test_a_refusal_is_replayed_too_and_keys_expire_after_24_hours(api, merchant):
    dispute = open_dispute(merchant=merchant, program=Program.BUYER_PROTECTION)
    url = f"/api/v1/disputes/{dispute.public_id}/accept"
    first = post(api, url, {}, **{"Idempotency-Key": "k"})
    assert first.status_code == 422
    assert post(api, url, {}, **{"Idempotency-Key": "k"}).json() == first.json()
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert post(api, url, {"message": "new"}, **{"Idempotency-Key": "k"}).status_code == 422


def test_uploads_are_idempotent_too(api):
    first = api.post(
        "/api/v1/files",
        {"file": SimpleUploadedFile("a.pdf", PDF)},
        headers={"Idempotency-Key": "u"},
    )
    again = api.post(
        "/api/v1/files",
        {"file": SimpleUploadedFile("a.pdf", PDF)},
        headers={"Idempotency-Key": "u"},
    )
    assert first.json() == again.json()
    assert ApiUpload.objects.count() == 1


# --- Tenant isolation ----------------------------------------------------------------------------

FOREIGN = {
    "disputes": None,  # lists only the key's own merchant (test_the_list_filters)
    "fee-statements": None,  # lists only the key's own merchant (test_fee_statements)
    "dispute": ("get", lambda o: o["dispute"].public_id),
    "dispute-events": ("get", lambda o: o["dispute"].public_id),
    "dispute-respond": ("post", lambda o: o["dispute"].public_id),
    "dispute-accept": ("post", lambda o: o["dispute"].public_id),
    "dispute-messages": ("post", lambda o: o["dispute"].public_id),
    "dispute-evidence": ("post", lambda o: o["dispute"].public_id),
    "fee-statement": ("get", lambda o: o["statement"].pk),
    "files": None,  # creates a file of the key's own merchant; ids of others: test below
    "order": ("get", lambda o: o["dispute"].order.order_number),
    # Every operation also runs through the owner walker in test_access.py (operator,
    # partners and merchants acting for a merchant that is, or is not, theirs).
    "order-patch": None,  # PATCH; its lookup is the one of "order" above
    "orders": None,  # creates the key's own merchant's order
    "orders-batch": None,
    "orders-list": None,  # lists only the key's own merchant (test_orders_api.py)
    "merchants": None,  # merchants:* scopes are not for merchant keys (test_access.py)
    "merchants-list": None,
    "merchant": None,
    "merchant-patch": None,
    "payment-instructions": None,  # the operator's scope only (test_access.py)
    "test-open": None,  # a live merchant's key is refused before any lookup (test_test_mode)
    "test-reply": None,
    "test-advance": None,
    "dispute-files": ("get", lambda o: o["dispute"].public_id),
    "file-content": ("get", lambda o: o["document"]),
    "webhook-endpoints": None,  # creates the key's own merchant's endpoint
    "webhook-endpoints-list": None,  # lists only the key's own (test_webhook_endpoints_api.py)
    "webhook-endpoint": ("get", lambda o: o["endpoint"].pk),
    "webhook-endpoint-patch": ("patch", lambda o: o["endpoint"].pk),
    "webhook-endpoint-delete": ("delete", lambda o: o["endpoint"].pk),
    "webhook-endpoint-rotate-secret": ("post", lambda o: o["endpoint"].pk),
    "webhook-endpoint-test": ("post", lambda o: o["endpoint"].pk),
    "events": None,  # the key's own merchant's feed (test_events_feed.py)
    "event": ("get", lambda o: o["event"].public_id),
}
NOT_OPERATIONS = {"api-root", "openapi-json", "openapi-view"}


def api_url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns, namespace):  # type: ignore[no-untyped-def]
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "api-v1" and pattern.name:
                names.add(pattern.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_api_url_is_classified_for_tenant_isolation():
    assert api_url_names() - NOT_OPERATIONS == set(FOREIGN)


@pytest.mark.parametrize("name", sorted(n for n, spec in FOREIGN.items() if spec))
def test_another_merchants_objects_are_not_found(api, name):
    theirs = case_with_documents(MerchantFactory())
    foreign = theirs.dispute
    endpoint = webhook_endpoint_create(
        merchant_id=foreign.merchant_id,
        url="http://127.0.0.1:9/hook",
        events=["dispute.opened"],
        description="",
        now=timezone.now(),
    )
    objects = {
        "dispute": foreign,
        "statement": issued_statement(foreign.merchant),
        "document": f"doc_{theirs.customers.pk}",
        "endpoint": endpoint,
        "event": Event.objects.filter(merchant_id=foreign.merchant_id).first(),
    }
    method, arg = FOREIGN[name]  # type: ignore[misc]
    url = reverse(f"api-v1:{name}", args=[arg(objects)])
    body = {"refund": "full", "message": "mine now", "files": [], "enabled": False}
    if method == "post":
        response = post(api, url, body)
    elif method == "get":
        response = api.get(url)
    else:
        response = getattr(api, method)(url, body, content_type="application/json")
    assert response.status_code == 404, (name, response.content)
    assert error_of(response)["code"] == "not_found"
    assert Dispute.objects.get(pk=foreign.pk).state == State.AWAITING_MERCHANT
    endpoint.refresh_from_db()  # still there, unchanged
    assert endpoint.enabled


def test_another_merchants_file_ids_are_unknown(api, merchant):
    other_key = api_key_create(name="t", merchant=MerchantFactory(), now=timezone.now()).key
    theirs = upload(Client(HTTP_AUTHORIZATION=f"Bearer {other_key}")).json()["id"]
    dispute = open_dispute(merchant=merchant)
    response = post(
        api, f"/api/v1/disputes/{dispute.public_id}/messages", {"message": "x", "files": [theirs]}
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == "files"


# --- Partner keys --------------------------------------------------------------------------------


@pytest.fixture
def partner_client(db):  # type: ignore[no-untyped-def]
    partner = PlatformPartner.objects.create(name="ShopPlatform", slug="shopplatform")
    key = api_key_create(name="p", partner=partner, now=timezone.now()).key
    return partner, Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def test_a_partner_key_acts_for_its_merchants_named_in_the_header(partner_client):
    partner, client = partner_client
    onboarded = MerchantFactory(platform_partner=partner)
    dispute = open_dispute(merchant=onboarded)
    url = f"/api/v1/disputes/{dispute.public_id}"
    assert client.get(url, headers={"X-Merchant": onboarded.slug}).status_code == 200
    assert client.get(url, {"merchant": onboarded.slug}).status_code == 200


def test_a_partner_key_must_name_a_merchant(partner_client):
    _partner, client = partner_client
    response = client.get("/api/v1/disputes")
    assert response.status_code == 400
    assert error_of(response)["code"] == "merchant_required"


def test_a_partner_key_cannot_act_for_other_merchants(partner_client):
    _partner, client = partner_client
    stranger = MerchantFactory()
    dispute = open_dispute(merchant=stranger)
    response = client.get(
        f"/api/v1/disputes/{dispute.public_id}", headers={"X-Merchant": stranger.slug}
    )
    assert response.status_code == 403


# --- Keys ----------------------------------------------------------------------------------------


def test_keys_are_stored_hashed_and_last_use_written_once_a_minute(api, merchant, api_key):
    key = ApiKey.objects.get(merchant=merchant)
    assert key.key_hash == hash_key(api_key)
    assert api_key not in key.prefix + key.key_hash
    api.get("/api/v1/disputes")
    first_use = ApiKey.objects.get(pk=key.pk).last_used_at
    api.get("/api/v1/disputes")
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first_use


def test_the_command_prints_a_key_once(merchant):
    out = io.StringIO()
    call_command("create_api_key", merchant=merchant.slug, stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    assert key.startswith("dpk_live_")
    assert ApiKey.objects.get(merchant=merchant).key_hash == hash_key(key)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/disputes")
    assert response.status_code == 200


def test_the_schema_and_docs_are_served(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/disputes/{dispute_id}/respond" in schema["paths"]
    assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_racing_the_first_request_with_the_same_key_takes_effect_once(api_key, merchant):
    from collections import Counter

    from notifications.models import OutboxMessage
    from tests.disputes.test_deadline_jobs import run_together

    rounds, statuses = 15, Counter()
    for i in range(rounds):
        dispute = open_dispute(merchant=merchant)
        url = f"/api/v1/disputes/{dispute.public_id}/respond"
        body = {"refund": "none", "message": "We cannot refund this."}

        def send(url=url, key=f"race-{i}", body=body):
            client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
            return client.post(
                url, body, content_type="application/json", headers={"Idempotency-Key": key}
            ).status_code

        results = run_together(send, send)
        statuses.update(results)
        # One succeeds; the other replays it or is told the first is still in progress.
        assert sorted(results) in ([200, 200], [200, 409]), results
        assert dispute.events.filter(event_type=EventType.OFFER_MADE).count() == 1
        assert (
            OutboxMessage.objects.filter(dispute=dispute, kind="customer_offer_made").count() == 1
        )
    print(f"\n{rounds} rounds of a request racing its retry: statuses {dict(statuses)}")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("delete", "/api/v1/orders", 405, "method_not_allowed"),
        ("get", "/api/v1/orders/batch", 405, "method_not_allowed"),
        ("get", "/api/v1/no-such-thing", 404, "not_found"),
    ],
)
def test_an_unknown_path_or_method_answers_in_the_json_error_shape(api, method, path, status, code):
    response = getattr(api, method)(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    if status == 405:
        assert "POST" in response["Allow"]
        assert "POST" in response.json()["error"]["message"]


def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
