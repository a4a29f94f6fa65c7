"""A case as JSON is built once (api.schemas.dispute_json) from plain values: it must stay what
its documented schema renders, and the list, which reads rows and no model, must give each case
exactly as GET /disputes/{id} and the webhooks do."""

from __future__ import annotations

import io

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from api.keys import api_key_create
from api.schemas import DisputeDetailOut, DisputeListOut, api_json, dispute_detail_json
from disputes.choices import State
from disputes.models import Dispute, Merchant


def _listed(client: Client) -> list[dict]:  # type: ignore[type-arg]
    items, cursor = [], ""
    while True:
        response = client.get(
            "/api/v1/disputes", {"limit": 100, "cursor": cursor} if cursor else {"limit": 100}
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json; charset=utf-8"
        page = response.json()
        assert api_json(DisputeListOut.model_validate(page)) == page  # the documented shape
        items += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


@pytest.mark.django_db
def test_every_case_of_the_demo_data_lists_as_one_case_and_the_schema_render_it():
    with time_machine.travel(timezone.now(), tick=False):
        call_command("seed_demo", stdout=io.StringIO())
        seen: set[str] = set()
        for merchant in Merchant.objects.filter(disputes__isnull=False).distinct():
            key = api_key_create(name="shape", merchant=merchant, now=timezone.now()).key
            client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
            for item in _listed(client):
                one = client.get(f"/api/v1/disputes/{item['id']}").json()
                case = Dispute.objects.select_related(
                    "order", "terms", "merchant", "assigned_to"
                ).get(public_id=item["id"])
                detail = dispute_detail_json(case)
                assert one == detail
                assert api_json(DisputeDetailOut.model_validate(detail)) == detail
                assert item == {
                    k: v
                    for k, v in detail.items()
                    if k not in ("evidence_checklist", "decision_record")
                }
                seen.add(item["state"])
    assert seen >= set(State.values) - {State.OPENED}
