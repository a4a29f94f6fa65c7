"""Asked by the customer or an ADR body, handled at the desk: the export of everything about
one email (and nothing of anyone else's), the erasure that says what it keeps and why, the
case bundle with its manifest, and legal holds."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from disputes.choices import EventType
from disputes.links import customer_token
from disputes.models import Dispute, DisputeEvent, LegalHold, Order, PersonalDataRequest
from disputes.privacy.chain import MARKER
from disputes.privacy.policies import months_after
from disputes.privacy.retention import apply_retention
from tests.factories import OrderFactory, UserFactory, open_dispute

from .conftest import OPENED, escalated_and_decided

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.usefixtures("support_groups"),
]


def _staff(group: str) -> Any:
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def _zip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _manifest_holds(files: dict[str, bytes]) -> None:
    manifest = json.loads(files["manifest.json"])["sha256"]
    assert set(manifest) == set(files) - {"manifest.json"}
    for name, digest in manifest.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest, name


@pytest.fixture
def two_customers(db: Any) -> dict[str, Any]:
    """Jan: a decided case at one shop, an open case at another, an order without a case.
    Piet: a case at Jan's first shop, on the same day."""
    jan = escalated_and_decided(email="Jan@Mail.example")
    with time_machine.travel(OPENED, tick=False):
        open_case = open_dispute(customer_email="jan@mail.example", message="Jan: second shop.")
        quiet = OrderFactory(customer_email="jan@mail.example", line_summary="Jan's socks")
        piet = open_dispute(
            merchant=jan.dispute.merchant,
            customer_email="piet@mail.example",
            message="Piet Bakker, Kerkweg 9: broken.",
        )
    return {"jan": jan, "open_case": open_case, "quiet": quiet, "piet": piet}


def _export(client: Any, email: str) -> dict[str, bytes]:
    response = client.post(
        reverse("admin:disputes_personal_data"), {"email": email, "action": "export"}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    return _zip(b"".join(response.streaming_content))


def test_the_export_holds_everything_of_the_customer_and_nothing_of_anyone_else(
    client: Any, two_customers: dict[str, Any]
) -> None:
    lead = _staff("support lead")
    client.force_login(lead)
    files = _export(client, "JAN@mail.example")
    _manifest_holds(files)
    index = json.loads(files["index.json"])
    jan = two_customers["jan"].dispute
    assert {c["id"] for c in index["cases"]} == {
        jan.public_id,
        two_customers["open_case"].public_id,
    }
    assert len(index["orders"]) == 3
    assert "Jan's socks" in {o["what_was_ordered"] for o in index["orders"]}
    case = next(c for c in index["cases"] if c["id"] == jan.public_id)
    assert case["customer_statement"].startswith("I am Jan de Vries")
    said = " ".join(e["message"] for e in case["timeline"])
    for words in ("06-12345678", "Jan signed for it", "Jan again: please decide."):
        assert words in said
    assert case["decision"]["reason"] == "The merchant showed no proof of delivery."
    assert case["decision"]["evidence_weighed"]
    assert any(
        i.get("value", "").startswith("3SABC123")
        for e in case["timeline"]
        for i in e["data"].get("items", [])
    )
    # Every document of the case, its file byte for byte.
    documents = case["documents"]
    assert len(documents) == 2
    for document in documents:
        assert hashlib.sha256(files[document["path"]]).hexdigest() == document["sha256"]
    assert index["emails"], "the emails sent to the customer are listed"
    # Nothing of Piet's: not his email, not his words, not his case.
    everything = b"".join(files.values())
    assert b"piet@mail.example" not in everything
    assert b"Kerkweg" not in everything
    assert two_customers["piet"].public_id.encode() not in everything
    # Logged on each case and in the log, under the pseudonym.
    for dispute in (jan, two_customers["open_case"]):
        logged = DisputeEvent.objects.filter(dispute=dispute, event_type=EventType.DATA_EXPORTED)
        assert logged.get().actor_id == str(lead.pk)
    request = PersonalDataRequest.objects.get()
    assert request.kind == "export"
    assert "jan" not in request.pseudonym.lower().split("@")[0]
    assert request.summary == {"cases": 2, "orders": 3, "documents": 2}


def test_personal_data_pages_are_for_leads_only(client: Any, two_customers: dict[str, Any]) -> None:
    client.force_login(_staff("support agent"))
    url = reverse("admin:disputes_personal_data")
    assert client.get(url).status_code == 403
    assert client.post(url, {"email": "jan@mail.example", "action": "export"}).status_code == 403
    client.force_login(_staff("support lead"))
    page = client.get(url)
    assert page.status_code == 200
    assert "13 months after the last case of the order closed" in page.content.decode()


def test_an_erasure_pseudonymises_what_nothing_needs_and_says_what_it_keeps(
    client: Any, two_customers: dict[str, Any]
) -> None:
    jan = two_customers["jan"]
    client.force_login(_staff("support lead"))
    url = reverse("admin:disputes_personal_data")
    with time_machine.travel(jan.closed_at + timedelta(days=5), tick=False):
        plan = client.post(url, {"email": "jan@mail.example", "action": "plan"}).content.decode()
    assert "The merchant may still appeal the decision." in plan
    assert "The case is open: it is still being handled." in plan
    assert not PersonalDataRequest.objects.exists()  # a plan changes nothing

    later = jan.closed_at + timedelta(days=60)
    with time_machine.travel(later, tick=False):
        done = client.post(
            url, {"email": "jan@mail.example", "action": "erase", "confirm": "yes"}
        ).content.decode()
    assert "Erasure carried out" in done
    assert "The case is open: it is still being handled." in done
    assert "fee statements are bookkeeping records" in done
    decided = Dispute.objects.get(pk=jan.dispute.pk)
    assert decided.customer_message == MARKER
    assert decided.order.customer_email.endswith("@pseudonymised.invalid")
    still_open = Dispute.objects.get(pk=two_customers["open_case"].pk)
    assert still_open.customer_message == "Jan: second shop."
    assert Order.objects.get(pk=two_customers["quiet"].pk).customer_email.endswith(".invalid")
    piet = Dispute.objects.get(pk=two_customers["piet"].pk)
    assert piet.order.customer_email == "piet@mail.example"
    log = PersonalDataRequest.objects.get(kind="erasure")
    assert log.summary["cases_pseudonymised"] == [jan.dispute.public_id]
    assert log.summary["orders_pseudonymised"] == 1
    assert "jan@mail.example" not in json.dumps(log.summary)
    # The export still finds what is left of the customer, under the pseudonym.
    files = _export(client, "jan@mail.example")
    assert len(json.loads(files["index.json"])["cases"]) == 2


def test_a_held_case_is_kept_by_an_erasure(client: Any, two_customers: dict[str, Any]) -> None:
    jan = two_customers["jan"]
    lead = _staff("support lead")
    client.force_login(lead)
    desk = reverse("admin:disputes_dispute_desk_action", args=[jan.dispute.pk, "hold"])
    assert client.post(desk, {"hold-reason": "Chargeback arbitration 4411"}).status_code == 302
    assert LegalHold.objects.get(dispute=jan.dispute).placed_by == lead
    page = client.get(reverse("admin:disputes_dispute_change", args=[jan.dispute.pk]))
    assert "Chargeback arbitration 4411" in page.content.decode()
    with time_machine.travel(jan.closed_at + timedelta(days=60), tick=False):
        done = client.post(
            reverse("admin:disputes_personal_data"),
            {"email": "jan@mail.example", "action": "erase", "confirm": "yes"},
        ).content.decode()
    assert "Legal hold: Chargeback arbitration 4411" in done
    assert Dispute.objects.get(pk=jan.dispute.pk).customer_message.startswith("I am Jan")
    lift = reverse("admin:disputes_dispute_desk_action", args=[jan.dispute.pk, "lift_hold"])
    assert client.post(lift, {"lift-reason": "Arbitration closed"}).status_code == 302
    assert LegalHold.objects.get(dispute=jan.dispute).lifted_at is not None
    kinds = list(
        DisputeEvent.objects.filter(dispute=jan.dispute, event_type__startswith="legal_hold")
        .order_by("id")
        .values_list("event_type", "visibility")
    )
    assert kinds == [("legal_hold_placed", "staff"), ("legal_hold_lifted", "staff")]


def test_a_hold_needs_a_reason_and_an_agent_cannot_place_one(
    client: Any, two_customers: dict[str, Any]
) -> None:
    jan = two_customers["jan"].dispute
    url = reverse("admin:disputes_dispute_desk_action", args=[jan.pk, "hold"])
    client.force_login(_staff("support agent"))
    assert client.post(url, {"hold-reason": "x"}).status_code == 403
    client.force_login(_staff("support lead"))
    blank = client.post(url, {"hold-reason": "  "})
    assert blank.status_code == 200
    assert "This field is required." in blank.content.decode()
    assert not LegalHold.objects.exists()


def test_the_case_bundle_holds_the_case_its_documents_and_a_manifest(
    client: Any, two_customers: dict[str, Any]
) -> None:
    jan = two_customers["jan"].dispute
    client.force_login(_staff("support agent"))
    response = client.get(reverse("admin:disputes_dispute_bundle", args=[jan.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    files = _zip(b"".join(response.streaming_content))
    _manifest_holds(files)
    assert files["case.pdf"].startswith(b"%PDF-")
    record = json.loads(files["case.json"])
    assert record["id"] == jan.public_id
    assert record["timeline_chain"]["intact"] is True
    timeline = record["timeline"]
    assert all(b["previous_hash"] == a["hash"] for a, b in pairwise(timeline))
    assert record["timeline_chain"]["head"] == timeline[-1]["hash"]
    assert {d["path"] for d in record["documents"]} <= set(files)
    assert record["decision"]["evidence_weighed"]
    assert DisputeEvent.objects.filter(
        dispute=jan, event_type=EventType.DATA_EXPORTED, data__what="adr_bundle"
    ).exists()


def test_a_customer_link_stops_working_once_the_case_is_pseudonymised(
    client: Any, two_customers: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    jan = two_customers["jan"]
    url = reverse("disputes:customer-case", args=[customer_token(jan.dispute)])
    assert client.get(url).status_code == 200
    with (
        time_machine.travel(months_after(jan.closed_at, 13), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        apply_retention()
    page = client.get(url)
    assert page.status_code != 200 or "I am Jan" not in page.content.decode()
    assert "I am Jan" not in page.content.decode()


def test_the_log_is_found_by_the_customers_email_and_never_shows_it(
    client: Any, two_customers: dict[str, Any]
) -> None:
    client.force_login(_staff("support lead"))
    _export(client, "jan@mail.example")
    log = reverse("admin:disputes_personaldatarequest_changelist")
    page = client.get(log, {"q": "Jan@mail.example"}).content.decode()
    request = PersonalDataRequest.objects.get()
    assert request.pseudonym in page
    assert page.lower().count("jan@mail.example") == 1  # the search box's own value only
    assert request.pseudonym not in client.get(log, {"q": "piet@mail.example"}).content.decode()
    client.force_login(_staff("support agent"))
    assert client.get(log).status_code == 403


def test_the_export_and_the_erasure_take_the_same_queries_for_one_case_or_many(
    db: Any, support_groups: None
) -> None:
    """No query per case, entry or document: a customer with many cases costs no more trips."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from disputes.privacy.erasure import erasure_plan
    from disputes.privacy.export import customer_export
    from tests.factories import staff_actor

    escalated_and_decided(email="one@mail.example")
    for _ in range(3):
        escalated_and_decided(email="many@mail.example")
    actor = staff_actor()
    counts = []
    for email in ("one@mail.example", "many@mail.example"):
        with CaptureQueriesContext(connection) as export_queries:
            customer_export(email=email, actor=actor)
        with CaptureQueriesContext(connection) as plan_queries:
            erasure_plan(email=email)
        counts.append((len(export_queries), len(plan_queries)))
    assert counts[0] == counts[1]


def test_a_wrong_email_is_a_clear_message(client: Any, db: Any, support_groups: None) -> None:
    client.force_login(_staff("support lead"))
    page = client.post(
        reverse("admin:disputes_personal_data"), {"email": "not an email", "action": "export"}
    )
    assert page.status_code == 200
    assert "Enter a valid email address." in page.content.decode()
