"""Who is told about each timeline event, and with which email (docs/rules.md §8)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from notifications.services import EmailNotice, outbox_enqueue, recipient_key

from .choices import UNPAID_STATES, EventType, Party, Visibility
from .links import absolute_url_builder, customer_case_urls
from .models import Dispute, DisputeEvent, MerchantMembership

# Audience -> email kind, per event type. Party-specific events are routed by their `party`.
_NOTICES: dict[str, tuple[tuple[Party, str], ...]] = {
    EventType.OPENED: (
        (Party.MERCHANT, "merchant_new_case"),
        (Party.CUSTOMER, "customer_case_opened"),
    ),
    EventType.OFFER_MADE: ((Party.CUSTOMER, "customer_offer_made"),),
    EventType.ESCALATED: (
        (Party.MERCHANT, "merchant_escalated"),
        (Party.CUSTOMER, "customer_escalated"),
    ),
    EventType.DECIDED: (
        (Party.MERCHANT, "merchant_decision"),
        (Party.CUSTOMER, "customer_decision"),
    ),
    EventType.RESOLVED: (
        (Party.MERCHANT, "merchant_case_resolved"),
        (Party.CUSTOMER, "customer_case_resolved"),
    ),
    EventType.DISPUTE_ACCEPTED: (),  # the RESOLVED event that follows tells both sides
    EventType.WITHDRAWN: ((Party.MERCHANT, "merchant_case_withdrawn"),),
    EventType.RETURN_DECIDED: (
        (Party.MERCHANT, "merchant_return_decided"),
        (Party.CUSTOMER, "customer_return_requested"),
    ),
    EventType.RETURN_SHIPPED: ((Party.MERCHANT, "merchant_return_shipped"),),
    EventType.APPEALED: ((Party.CUSTOMER, "customer_case_appealed"),),
    EventType.REOPENED: (
        (Party.MERCHANT, "merchant_case_reopened"),
        (Party.CUSTOMER, "customer_case_reopened"),
    ),
}
# Merchant emails a user can switch off, and the membership field that says so. Information
# requested by support is never optional: without an answer the merchant loses the case.
PREFERENCE_FIELDS: dict[str, str] = {
    "merchant_new_case": "notify_new_case",
    "merchant_reminder": "notify_reminders",
    "merchant_escalated": "notify_escalation",
    "merchant_decision": "notify_decision",
    "merchant_case_resolved": "notify_decision",
    "merchant_case_withdrawn": "notify_decision",
    "merchant_return_decided": "notify_decision",
    "merchant_case_reopened": "notify_decision",
    "merchant_customer_replied": "notify_customer_reply",
}
_PARTY_NOTICES: dict[str, str] = {
    EventType.INFO_REQUESTED: "info_requested",
    EventType.REMINDER_SENT: "reminder",
}


def _audiences(event: DisputeEvent) -> tuple[tuple[Party, str], ...]:
    if event.event_type == EventType.MESSAGE:
        if event.visibility != Visibility.BOTH:
            return ()  # for support only: support reads it in its queue
        # A message goes to the other side.
        if event.actor_kind == Party.CUSTOMER:
            return ((Party.MERCHANT, "merchant_customer_replied"),)
        if event.actor_kind == Party.MERCHANT:
            return ((Party.CUSTOMER, "customer_merchant_message"),)
        return ()
    if event.event_type in _PARTY_NOTICES:
        party = Party(event.data["party"])
        return ((party, f"{party}_{_PARTY_NOTICES[event.event_type]}"),)
    if event.event_type == EventType.ESCALATED and event.data.get("cause") == "straight_to_support":
        # The customer's "case opened" email already says support handles it.
        return ((Party.MERCHANT, "merchant_escalated"),)
    return _NOTICES.get(event.event_type, ())


def _context(dispute: Dispute, event: DisputeEvent) -> dict[str, Any]:
    def money(value: object) -> str | None:
        return None if value is None else str(value)

    return {
        "case_id": dispute.public_id,
        "merchant_name": dispute.merchant.name,
        "order_number": dispute.order.order_number,
        "order_placed_at": dispute.order.placed_at.isoformat(),
        "currency": dispute.currency,
        "order_amount": money(dispute.order_amount),
        "disputed_amount": money(dispute.disputed_amount),
        "program": dispute.program,
        "reason": dispute.reason,
        "state": dispute.state,
        "due_at": dispute.due_at.isoformat() if dispute.due_at else None,
        "refund_offer": dispute.refund_offer,
        "refund_offer_amount": money(dispute.refund_offer_amount),
        "settled_amount": money(dispute.settled_amount),
        "outcome": dispute.outcome,
        "decision_reason": dispute.decision_reason,
        "decision_code": dispute.decision_code,
        "override_reason": dispute.override_reason,
        # An unpaid invoice: money "to the customer" is cancelled from it, not paid back.
        "unpaid_invoice": dispute.order.payment_state in UNPAID_STATES,
        "message": event.message,
        "event": event.data,
    }


def queue_notices(*, events: Sequence[DisputeEvent], now: datetime) -> None:
    """Queue the emails the recorded events call for; one query for all merchant recipients."""
    routed = [(event, _audiences(event)) for event in events]
    merchant_ids = {
        event.dispute.merchant_id
        for event, audiences in routed
        if any(party == Party.MERCHANT for party, _ in audiences)
    }
    # merchant id -> [(email, the kinds this user switched off)]
    merchant_users: dict[int, list[tuple[str, set[str]]]] = defaultdict(list)
    if merchant_ids:
        rows = (
            MerchantMembership.objects.filter(merchant_id__in=merchant_ids, user__is_active=True)
            .exclude(user__email="")
            .values_list("merchant_id", "user__email", *PREFERENCE_FIELDS.values())
        )
        for merchant_id, email, *wanted in rows:
            switched_off = {
                kind for kind, on in zip(PREFERENCE_FIELDS, wanted, strict=True) if not on
            }
            merchant_users[merchant_id].append((email, switched_off))

    notices: list[EmailNotice] = []
    customer_url = customer_case_urls()
    merchant_url = absolute_url_builder("portal:case", "public_id")
    for event, audiences in routed:
        dispute = event.dispute
        merchant = dispute.merchant
        for party, kind in audiences:
            if party == Party.MERCHANT:
                recipients = [
                    email
                    for email, switched_off in merchant_users.get(merchant.pk, [])
                    if kind not in switched_off
                ]
                language = merchant.language
            else:
                recipients = [dispute.order.customer_email]
                language = dispute.customer_language
            context = _context(dispute, event)
            if party == Party.CUSTOMER:
                context["case_url"] = customer_url(dispute)
                if event.visibility not in (Visibility.BOTH, Visibility.CUSTOMER):
                    context["message"] = ""  # e.g. a merchant's appeal: for support only
            else:
                context["case_url"] = merchant_url(dispute.public_id)
            notices.extend(
                EmailNotice(
                    kind=kind,
                    recipient=recipient,
                    dedupe_key=f"{kind}:{event.pk}:{recipient_key(recipient)}",
                    language=language,
                    time_zone=merchant.time_zone,
                    dispute_id=dispute.pk,
                    context=context,
                )
                for recipient in recipients
            )
    outbox_enqueue(notices=notices, now=now)
