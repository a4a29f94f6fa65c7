"""GET /disputes/{id}/files and GET /files/{id}/content through HTTP: what the merchant may
see of a case's documents, served as downloads that cannot run anything."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from api.keys import api_key_create
from disputes.models import Attachment
from disputes.views.documents import DOCUMENT_CSP
from tests.documents import PDF
from tests.factories import MerchantFactory

from .case_documents import case_with_documents

pytestmark = pytest.mark.django_db


def files_url(dispute) -> str:  # type: ignore[no-untyped-def]
    return reverse("api-v1:dispute-files", args=[dispute.public_id])


def content_url(document_id: str) -> str:
    return reverse("api-v1:file-content", args=[document_id])


def test_a_case_lists_the_documents_the_merchant_sees(api, merchant):
    case = case_with_documents(merchant)
    response = api.get(files_url(case.dispute))
    assert response.status_code == 200
    data = response.json()["data"]
    assert [d["id"] for d in data] == [
        f"doc_{case.customers.pk}",
        f"doc_{case.merchants.pk}",
        f"doc_{case.merchant_evidence.pk}",
    ]
    first = data[0]
    assert first == {
        "id": f"doc_{case.customers.pk}",
        "name": "empty box.pdf",
        "content_type": "application/pdf",
        "size": len(PDF),
        "uploaded_by": "customer",
        "evidence_item": None,
        "event_id": case.customers.event_id,
        "for_support": False,
        "created_at": first["created_at"],
    }
    assert [d["uploaded_by"] for d in data] == ["customer", "merchant", "merchant"]
    assert [d["for_support"] for d in data] == [False, False, True]


def test_the_document_ids_are_the_timelines_attachment_ids(api, merchant):
    case = case_with_documents(merchant)
    timeline = api.get(reverse("api-v1:dispute-events", args=[case.dispute.public_id])).json()
    in_timeline = {f"doc_{a['id']}" for event in timeline["data"] for a in event["attachments"]}
    listed = {d["id"] for d in api.get(files_url(case.dispute)).json()["data"]}
    assert listed == in_timeline


def test_a_document_downloads_as_an_attachment_that_cannot_run(api, merchant):
    case = case_with_documents(merchant)
    response = api.get(content_url(f"doc_{case.customers.pk}"))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="empty box.pdf"'
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == DOCUMENT_CSP


def test_documents_the_merchant_does_not_see_are_unknown(api, merchant):
    case = case_with_documents(merchant)
    for hidden in (case.customer_for_support, case.support_only):
        response = api.get(content_url(f"doc_{hidden.pk}"))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert api.get(content_url("doc_999999999")).status_code == 404
    assert api.get(content_url("file_abc")).status_code == 422  # not a document id


def test_another_merchants_case_and_documents_are_404(api):
    theirs = case_with_documents(MerchantFactory())
    assert api.get(files_url(theirs.dispute)).status_code == 404
    response = api.get(content_url(f"doc_{theirs.customers.pk}"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_reading_documents_needs_disputes_read(merchant):
    case = case_with_documents(merchant)
    key = api_key_create(
        name="w", merchant=merchant, scopes=["disputes:write"], now=timezone.now()
    ).key
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    for url in (files_url(case.dispute), content_url(f"doc_{case.customers.pk}")):
        response = client.get(url)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "missing_scope"
        assert "disputes:read" in response.json()["error"]["message"]


def test_an_erased_document_is_not_listed_and_its_download_is_gone(api, merchant):
    case = case_with_documents(merchant)
    Attachment.objects.filter(pk=case.customers.pk).update(erased_at=timezone.now())
    listed = [d["id"] for d in api.get(files_url(case.dispute)).json()["data"]]
    assert f"doc_{case.customers.pk}" not in listed
    assert len(listed) == 2
    response = api.get(content_url(f"doc_{case.customers.pk}"))
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "document_erased"
    assert response.json()["error"]["field"] == "file_id"


def test_the_list_costs_two_queries_however_many_documents(
    api, merchant, django_assert_num_queries
):
    small = case_with_documents(merchant)
    large = case_with_documents(merchant)
    for _ in range(3):
        case_with_documents(merchant)
    from disputes import services
    from tests.documents import check_one
    from tests.factories import customer_actor

    for number in range(4):
        services.dispute_add_message(
            dispute=large.dispute,
            actor=customer_actor(large.dispute),
            message="More",
            documents=[check_one(f"more-{number}.pdf", PDF)],
        )
    api.get(files_url(small.dispute))  # the key is kept by the worker from here on
    # The case, then its documents.
    with django_assert_num_queries(2):
        assert len(api.get(files_url(small.dispute)).json()["data"]) == 3
    with django_assert_num_queries(2):
        assert len(api.get(files_url(large.dispute)).json()["data"]) == 7
