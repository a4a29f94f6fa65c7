"""A case with a document of each kind of visibility, for the documents API's tests."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils import timezone

from disputes import services
from disputes.choices import ActorKind, EventType, Visibility
from disputes.models import Attachment, Dispute, DisputeEvent, Merchant
from tests.documents import PDF, check_one
from tests.factories import customer_actor, merchant_actor, open_dispute


@dataclass(frozen=True)
class CaseDocuments:
    dispute: Dispute
    customers: Attachment  # a message to both sides
    merchants: Attachment  # the merchant's own message to the customer
    merchant_evidence: Attachment  # for support, which the merchant sees
    customer_for_support: Attachment  # the customer's to support only: hidden from the merchant
    support_only: Attachment  # on a staff-only timeline entry: hidden from the merchant


def case_with_documents(merchant: Merchant) -> CaseDocuments:
    dispute = open_dispute(merchant=merchant)
    customer = customer_actor(dispute)
    merchant_user = merchant_actor(merchant)

    def newest() -> Attachment:
        return Attachment.objects.filter(dispute=dispute).latest("id")

    services.dispute_add_message(
        dispute=dispute,
        actor=customer,
        message="My photo of the empty box.",
        documents=[check_one("empty box.pdf", PDF)],
    )
    customers = newest()
    services.dispute_add_message(
        dispute=dispute,
        actor=merchant_user,
        message="The carrier's receipt.",
        documents=[check_one("receipt.pdf", PDF)],
    )
    merchants = newest()
    services.dispute_add_message(
        dispute=dispute,
        actor=merchant_user,
        message="Signed delivery note, for support.",
        documents=[check_one("delivery-note.pdf", PDF)],
        for_support=True,
    )
    merchant_evidence = newest()
    services.dispute_add_message(
        dispute=dispute,
        actor=customer,
        message="For support only.",
        documents=[check_one("bank statement.pdf", PDF)],
        for_support=True,
    )
    customer_for_support = newest()
    note = DisputeEvent.objects.create(
        dispute=dispute,
        event_type=EventType.MESSAGE,
        actor_kind=ActorKind.STAFF,
        visibility=Visibility.STAFF,
        message="Internal note",
        created_at=timezone.now(),
    )
    support_only = Attachment(
        dispute=dispute,
        event=note,
        original_name="internal.pdf",
        content_type="application/pdf",
        size=len(PDF),
        sha256="0" * 64,
        uploaded_by=ActorKind.STAFF,
    )
    support_only.file.save("internal.pdf", ContentFile(PDF), save=True)
    return CaseDocuments(
        dispute, customers, merchants, merchant_evidence, customer_for_support, support_only
    )
