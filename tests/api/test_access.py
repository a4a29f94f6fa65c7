"""Who may call what: every operation declares a scope, and a key acts only for the merchants
its owner acts for. The walkers below read the operations from the API itself, so a new
operation that is not classified here fails the suite."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_create
from api.models import Event, KeyOwner
from api.scopes import ALLOWED_SCOPES, LEGACY_SCOPES, Scope
from api.v1 import api as v1
from api.webhooks.endpoints import webhook_endpoint_create
from disputes.models import PlatformPartner
from tests.factories import MerchantFactory, OrderFactory

from .case_documents import case_with_documents

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Op:
    method: str
    scope: Scope
    merchant: str  # "required", "optional" or "none": whether it acts for one merchant
    # "dispute", "statement", "order", "slug", "document", "endpoint", "event": what its path
    # names
    args: str = ""


OPERATIONS: dict[str, Op] = {
    "disputes": Op("get", Scope.DISPUTES_READ, "required"),
    "dispute": Op("get", Scope.DISPUTES_READ, "required", "dispute"),
    "dispute-events": Op("get", Scope.DISPUTES_READ, "required", "dispute"),
    "dispute-respond": Op("post", Scope.DISPUTES_WRITE, "required", "dispute"),
    "dispute-accept": Op("post", Scope.DISPUTES_WRITE, "required", "dispute"),
    "dispute-messages": Op("post", Scope.DISPUTES_WRITE, "required", "dispute"),
    "dispute-evidence": Op("post", Scope.DISPUTES_WRITE, "required", "dispute"),
    "files": Op("post", Scope.DISPUTES_WRITE, "required"),
    "dispute-files": Op("get", Scope.DISPUTES_READ, "required", "dispute"),
    "file-content": Op("get", Scope.DISPUTES_READ, "required", "document"),
    "webhook-endpoints": Op("post", Scope.WEBHOOKS_WRITE, "required"),
    "webhook-endpoints-list": Op("get", Scope.WEBHOOKS_READ, "required"),
    "webhook-endpoint": Op("get", Scope.WEBHOOKS_READ, "required", "endpoint"),
    "webhook-endpoint-patch": Op("patch", Scope.WEBHOOKS_WRITE, "required", "endpoint"),
    "webhook-endpoint-delete": Op("delete", Scope.WEBHOOKS_WRITE, "required", "endpoint"),
    "webhook-endpoint-rotate-secret": Op("post", Scope.WEBHOOKS_WRITE, "required", "endpoint"),
    "webhook-endpoint-test": Op("post", Scope.WEBHOOKS_WRITE, "required", "endpoint"),
    "events": Op("get", Scope.EVENTS_READ, "required"),
    "event": Op("get", Scope.EVENTS_READ, "required", "event"),
    "fee-statements": Op("get", Scope.FEES_READ, "required"),
    "fee-statement": Op("get", Scope.FEES_READ, "required", "statement"),
    "merchants": Op("post", Scope.MERCHANTS_WRITE, "none"),
    "merchants-list": Op("get", Scope.MERCHANTS_READ, "none"),
    "merchant": Op("get", Scope.MERCHANTS_READ, "none", "slug"),
    "merchant-patch": Op("patch", Scope.MERCHANTS_WRITE, "none", "slug"),
    "orders": Op("post", Scope.ORDERS_WRITE, "required"),
    "orders-list": Op("get", Scope.ORDERS_READ, "required"),
    "orders-batch": Op("post", Scope.ORDERS_WRITE, "required"),
    "order": Op("get", Scope.ORDERS_READ, "required", "order"),
    "order-patch": Op("patch", Scope.ORDERS_WRITE, "required", "order"),
    "payment-instructions": Op("get", Scope.INSTRUCTIONS_READ, "optional"),
    "test-open": Op("post", Scope.TEST_WRITE, "required", "order"),
    "test-reply": Op("post", Scope.TEST_WRITE, "required", "dispute"),
    "test-advance": Op("post", Scope.TEST_WRITE, "required", "dispute"),
}
# The operations that existed before keys had scopes: a key from then can still call each.
BEFORE_SCOPES = {
    "disputes",
    "dispute",
    "dispute-events",
    "dispute-respond",
    "dispute-accept",
    "dispute-messages",
    "dispute-evidence",
    "files",
    "fee-statements",
    "fee-statement",
}


def declared() -> dict[str, tuple[str, Scope | None, str]]:
    found = {}
    for _prefix, router in v1._routers:
        for view in router.path_operations.values():
            for operation in view.operations:
                (auth,) = operation.auth_callbacks
                found[operation.url_name] = (
                    operation.methods[0].lower(),
                    getattr(auth, "scope", None),
                    getattr(auth, "merchant_context", None),
                )
    return found


def test_every_operation_is_classified_with_the_scope_it_declares():
    operations = declared()
    assert set(operations) == set(OPERATIONS), "classify the new operation in OPERATIONS"
    for name, (method, scope, merchant) in operations.items():
        expected = OPERATIONS[name]
        assert (method, scope, merchant) == (expected.method, expected.scope, expected.merchant)


def test_an_operation_without_a_declared_scope_is_refused_to_every_key():
    from api.v1.auth import ApiKeyAuth

    assert ApiKeyAuth(None).scope is None  # the API's default auth
    assert v1.auth[0].scope is None  # type: ignore[index,union-attr]


@pytest.fixture
def world(db):  # type: ignore[no-untyped-def]
    partner = PlatformPartner.objects.create(name="ShopPlatform", slug="shopplatform")
    merchant = MerchantFactory(platform_partner=partner, test_mode=True)
    order = OrderFactory(merchant=merchant)
    case = case_with_documents(merchant)  # opens the case: its events are kept
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url="http://127.0.0.1:9/hook",  # never delivered: the test's transaction never commits
        events=["dispute.opened"],
        description="",
        now=timezone.now(),
    )
    return {
        "partner": partner,
        "merchant": merchant,
        "order": order,
        "dispute": case.dispute,
        "document": f"doc_{case.customers.pk}",
        "endpoint": endpoint,
        "event": Event.objects.filter(merchant=merchant).first(),
        "other_partner": PlatformPartner.objects.create(name="Other", slug="other"),
        "other_merchant": MerchantFactory(),
    }


def url_for(name: str, world: dict) -> str:  # type: ignore[type-arg]
    args = {
        "": [],
        "dispute": [world["dispute"].public_id],
        "statement": [1],
        "order": [world["order"].order_number],
        "slug": [world["merchant"].slug],
        "document": [world["document"]],
        "endpoint": [world["endpoint"].pk],
        "event": [world["event"].public_id],
    }[OPERATIONS[name].args]
    return reverse(f"api-v1:{name}", args=args)


def call(client: Client, name: str, world: dict, merchant: str | None) -> object:  # type: ignore[type-arg]
    headers = {"X-Merchant": merchant} if merchant else {}
    method = getattr(client, OPERATIONS[name].method)
    if OPERATIONS[name].method == "get":
        return method(url_for(name, world), headers=headers)
    return method(url_for(name, world), "{}", content_type="application/json", headers=headers)


def key(scopes: set[Scope] | frozenset[Scope], **owner: object) -> Client:
    new = api_key_create(name="t", scopes=sorted(scopes), now=timezone.now(), **owner)  # type: ignore[arg-type]
    return Client(HTTP_AUTHORIZATION=f"Bearer {new.key}")


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_key_without_the_scope_gets_403_naming_it(world, name):
    scope = OPERATIONS[name].scope
    client = key(ALLOWED_SCOPES[KeyOwner.OPERATOR] - {scope}, operator=True)
    response = call(client, name, world, world["merchant"].slug)
    assert response.status_code == 403, response.content  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == "missing_scope"
    assert scope.value in error["message"]


# Who the key belongs to, and whether it may act for `world["merchant"]` named in X-Merchant.
OWNERS = {
    "operator": (lambda w: {"operator": True}, True),
    "partner that onboarded it": (lambda w: {"partner": w["partner"]}, True),
    "another partner": (lambda w: {"partner": w["other_partner"]}, False),
    "the merchant itself": (lambda w: {"merchant": w["merchant"]}, True),
    "another merchant": (lambda w: {"merchant": w["other_merchant"]}, False),
}


@pytest.mark.parametrize("owner", sorted(OWNERS))
@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_a_key_acts_only_for_the_merchants_its_owner_acts_for(world, name, owner):
    make_owner, may_act = OWNERS[owner]
    owner_args = make_owner(world)
    kind = next(
        k
        for k, arg in (("operator", "operator"), ("partner", "partner"), ("merchant", "merchant"))
        if arg in owner_args
    )
    allowed = ALLOWED_SCOPES[KeyOwner(kind)]
    client = key(allowed, **owner_args)
    operation = OPERATIONS[name]
    response = call(client, name, world, world["merchant"].slug)
    status = response.status_code  # type: ignore[attr-defined]
    if operation.scope not in allowed:
        assert status == 403
        assert response.json()["error"]["code"] == "missing_scope"
    elif not may_act and not (operation.merchant == "none" and not operation.args):
        # Refused outright (403) or, for objects named in the path, not found (404): never
        # another merchant's data. (Onboarding and the merchant list name no merchant: each
        # key lists and creates only its owner's.)
        assert status in (403, 404), (status, response.content)  # type: ignore[attr-defined]
    else:
        assert status not in (401, 403, 404) or (
            status == 404 and operation.args == "statement"  # no statement 1 in this world
        ), (status, response.content)  # type: ignore[attr-defined]


def test_a_key_from_before_scopes_still_does_all_it_did():
    world_merchant = MerchantFactory()
    client = key(LEGACY_SCOPES, merchant=world_merchant)
    for name in BEFORE_SCOPES:
        assert OPERATIONS[name].scope in LEGACY_SCOPES, name
    response = client.get(reverse("api-v1:disputes"))
    assert response.status_code == 200
    refused = client.get(reverse("api-v1:orders-list"))
    assert refused.status_code == 403
    assert "orders:read" in refused.json()["error"]["message"]


def test_the_operator_must_name_the_merchant_it_acts_for():
    client = key(ALLOWED_SCOPES[KeyOwner.OPERATOR], operator=True)
    response = client.get(reverse("api-v1:orders-list"))
    assert response.status_code == 400 or response.status_code == 422, response.content
    assert response.json()["error"]["field"] == "X-Merchant"
    unknown = client.get(reverse("api-v1:orders-list"), headers={"X-Merchant": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "X-Merchant"


def test_the_instruction_feed_is_the_operators_alone():
    assert Scope.INSTRUCTIONS_READ not in ALLOWED_SCOPES[KeyOwner.PARTNER]
    assert Scope.INSTRUCTIONS_READ not in ALLOWED_SCOPES[KeyOwner.MERCHANT]
    with pytest.raises(ValueError, match="instructions:read"):
        api_key_create(
            name="x", merchant=MerchantFactory(), scopes=["instructions:read"], now=timezone.now()
        )
