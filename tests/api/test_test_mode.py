"""Test mode: for a test merchant's orders an integrator plays the customer and the clock and
sees every webhook and instruction; test merchants never reach fees, statements or figures."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from api.keys import api_key_create
from billing.models import FeeLine, Statement
from billing.services import statements_issue_due
from disputes.choices import State
from disputes.models import Dispute
from disputes.reports import escalation_rate
from tests.factories import MerchantFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(db):  # type: ignore[no-untyped-def]
    merchant = MerchantFactory(test_mode=True)
    OrderFactory(merchant=merchant, order_number="T-1")
    key = api_key_create(name="k", merchant=merchant, now=timezone.now()).key
    return merchant, Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client: Client, url: str, body: object | None = None):  # type: ignore[no-untyped-def]
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def test_an_integrator_walks_a_case_through_every_step(sandbox):
    _merchant, client = sandbox
    opened = post(
        client,
        "/api/v1/test/orders/T-1/disputes",
        {"program": "payment_dispute", "reason": "not_received", "message": "Never came."},
    )
    assert opened.status_code == 201, opened.content
    case_id = opened.json()["id"]
    assert opened.json()["state"] == State.AWAITING_MERCHANT
    offered = post(
        client,
        f"/api/v1/disputes/{case_id}/respond",
        {"refund": "partial", "amount": "40.00", "message": "Half back?"},
    )
    assert offered.status_code == 200, offered.content
    replied = post(
        client,
        f"/api/v1/test/disputes/{case_id}/customer-reply",
        {"reply": "reject_partial", "message": "No."},
    )
    assert replied.status_code == 200, replied.content
    assert replied.json()["state"] == State.ESCALATED
    instructions = [i.kind for i in Dispute.objects.get(public_id=case_id).instructions.all()]
    assert instructions[0] == "pause_invoice"


def test_advance_runs_the_deadline_sweep_for_that_case(sandbox):
    _merchant, client = sandbox
    case_id = post(
        client,
        "/api/v1/test/orders/T-1/disputes",
        {"program": "payment_dispute", "reason": "not_received", "message": "Never came."},
    ).json()["id"]
    advanced = post(client, f"/api/v1/test/disputes/{case_id}/advance")
    assert advanced.status_code == 200, advanced.content
    assert advanced.json()["state"] == State.ESCALATED
    again = post(client, f"/api/v1/test/disputes/{case_id}/advance")
    assert again.status_code == 409
    assert again.json()["error"]["message"]


def test_a_test_merchant_is_never_billed_nor_counted(sandbox):
    merchant, client = sandbox
    case_id = post(
        client,
        "/api/v1/test/orders/T-1/disputes",
        {"program": "payment_dispute", "reason": "not_received", "message": "Never came."},
    ).json()["id"]
    post(client, f"/api/v1/test/disputes/{case_id}/advance")
    assert not FeeLine.objects.filter(merchant=merchant).exists()
    statements_issue_due(now=timezone.now() + timedelta(days=40))
    assert not Statement.objects.filter(merchant=merchant).exists()
    assert Dispute.objects.get(public_id=case_id).state == State.ESCALATED
    this_month = escalation_rate(now=timezone.now(), months=1)[-1]
    assert (this_month.disputes_opened, this_month.escalated) == (0, 0)


def test_a_live_merchants_cases_cannot_be_driven(api, merchant):
    OrderFactory(merchant=merchant, order_number="L-1")
    refused = post(
        api,
        "/api/v1/test/orders/L-1/disputes",
        {"program": "payment_dispute", "reason": "not_received", "message": "Never came."},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_a_test_merchant"
    assert not Dispute.objects.exists()
