"""A case as a record for people outside the portal: the customer's export and the bundle for
an ADR body both write it as JSON (one builder, so they never disagree)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Prefetch

from ..models import Attachment, DecisionAssessment, Dispute, DisputeEvent, Order


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def document_path(attachment: Attachment) -> str:
    """Where the document is in a ZIP: under its case, named by its id (the uploaded name is
    kept in the index: it is the customer's text, not a safe path)."""
    suffix = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}.get(
        attachment.content_type, ""
    )
    return f"documents/{attachment.dispute.public_id}/{attachment.pk}{suffix}"


def cases_for_records(queryset: Any) -> list[Dispute]:
    """The cases with everything a record shows, in a fixed number of queries."""
    return list(
        queryset.select_related("order__merchant", "merchant", "decided_by").prefetch_related(
            Prefetch("events", queryset=DisputeEvent.objects.order_by("id")),
            Prefetch("attachments", queryset=Attachment.objects.order_by("id")),
            Prefetch(
                "assessments",
                queryset=DecisionAssessment.objects.filter(current=True).order_by("id"),
            ),
            "legal_holds",
        )
    )


def document_json(attachment: Attachment) -> dict[str, Any]:
    removed = attachment.erased_at is not None
    return {
        "id": attachment.pk,
        "path": None if removed else document_path(attachment),
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_by": attachment.uploaded_by,
        "proves": attachment.evidence_item or None,
        "uploaded_at": _at(attachment.created_at),
        "removed_at": _at(attachment.erased_at),
        "timeline_entry": attachment.event_id,
    }


def event_json(event: DisputeEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "at": _at(event.created_at),
        "type": event.event_type,
        "by": event.actor_kind,
        "actor_id": event.actor_id,
        "visible_to": event.visibility,
        "message": event.message,
        "data": event.data,
        "personal_text_removed_at": _at(event.redacted_at),
        "previous_hash": event.previous_hash,
        "hash": event.hash,
    }


def order_json(order: Order) -> dict[str, Any]:
    return {
        "merchant": order.merchant.name,
        "order_number": order.order_number,
        "placed_at": _at(order.placed_at),
        "amount": str(order.amount),
        "currency": order.currency,
        "customer_email": order.customer_email,
        "language": order.customer_language,
        "what_was_ordered": order.line_summary,
        "shipments": order.shipments,
        "email_pseudonymised_at": _at(order.pseudonymised_at),
    }


def case_json(dispute: Dispute) -> dict[str, Any]:
    """The whole case: both sides' statements, the decision and how each item was weighed,
    the timeline with its hash chain, and its documents."""
    order = dispute.order
    return {
        "id": dispute.public_id,
        "merchant": {"name": dispute.merchant.name, "slug": dispute.merchant.slug},
        "order": order_json(order),
        "program": dispute.program,
        "reason": dispute.reason,
        "state": dispute.state,
        "outcome": dispute.outcome or None,
        "disputed_amount": str(dispute.disputed_amount),
        "settled_amount": None if dispute.settled_amount is None else str(dispute.settled_amount),
        "currency": dispute.currency,
        "customer_statement": dispute.customer_message,
        "opened_at": _at(dispute.opened_at),
        "escalated_at": _at(dispute.escalated_at),
        "closed_at": _at(dispute.closed_at),
        "appealed_at": _at(dispute.appealed_at),
        "decision": _decision_json(dispute),
        "legal_holds": [
            {
                "reason": hold.reason,
                "placed_at": _at(hold.placed_at),
                "lifted_at": _at(hold.lifted_at),
                "lift_reason": hold.lift_reason,
            }
            for hold in dispute.legal_holds.all()
        ],
        "personal_data_pseudonymised_at": _at(dispute.pseudonymised_at),
        "timeline": [event_json(event) for event in dispute.events.all()],
        "documents": [document_json(attachment) for attachment in dispute.attachments.all()],
    }


def _decision_json(dispute: Dispute) -> dict[str, Any] | None:
    if not dispute.decision_code and not dispute.decision_reason:
        return None
    return {
        "outcome": dispute.outcome or None,
        "code": dispute.decision_code,
        "reason": dispute.decision_reason,
        "decided_unheard_because": dispute.override_reason or None,
        "fraud_proven": dispute.fraud_proven,
        "amount": None if dispute.settled_amount is None else str(dispute.settled_amount),
        "evidence_weighed": [
            {
                "side": assessment.party,
                "item": assessment.item,
                "given": assessment.provided,
                "weight": assessment.weight,
                "why": assessment.note,
            }
            for assessment in dispute.assessments.all()
        ],
    }


def stored_documents(disputes: Sequence[Dispute]) -> list[Attachment]:
    """The documents whose files are still stored (not removed under the retention policy)."""
    return [a for d in disputes for a in d.attachments.all() if a.erased_at is None and a.file]
