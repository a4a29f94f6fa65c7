"""Reads for pages: each returns what a page needs in a fixed number of queries."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .choices import OPEN_STATES, EventType, Visibility
from .links import LinkInvalid, dispute_id_from_token
from .models import Attachment, Dispute, DisputeEvent, Merchant, Order

CUSTOMER_VISIBLE = (Visibility.BOTH, Visibility.CUSTOMER)
# Bookkeeping entries a customer does not need to read.
_HIDDEN_FROM_CUSTOMER = (EventType.REMINDER_SENT, EventType.MERCHANT_WINDOW_STARTED)


def merchant_choices_for_public_form() -> list[tuple[str, str]]:
    return list(Merchant.objects.order_by("name").values_list("slug", "name"))


def order_find_for_customer(*, shop: str, order_number: str, email: str) -> Order | None:
    """The order matching all three, or None: callers must not tell which one was wrong."""
    return (
        Order.objects.select_related("merchant")
        .filter(
            merchant__slug=shop,
            order_number=order_number.strip(),
            customer_email__iexact=email.strip(),
        )
        .first()
    )


def open_dispute_for_order(order: Order) -> Dispute | None:
    return Dispute.objects.filter(order=order, state__in=OPEN_STATES).first()


def customer_timeline(dispute_id: int) -> QuerySet[DisputeEvent]:
    return (
        DisputeEvent.objects.filter(dispute_id=dispute_id, visibility__in=CUSTOMER_VISIBLE)
        .exclude(event_type__in=_HIDDEN_FROM_CUSTOMER)
        .prefetch_related(
            Prefetch("attachments", queryset=Attachment.objects.order_by("created_at", "id"))
        )
        .order_by("created_at", "id")
    )


def dispute_for_customer_link(token: str) -> Dispute:
    """The case a customer's link opens; raises LinkExpired or LinkInvalid (also when revoked)."""
    dispute_id, version = dispute_id_from_token(token)
    dispute = Dispute.objects.select_related("order", "merchant").filter(pk=dispute_id).first()
    if dispute is None or dispute.customer_link_version != version:
        raise LinkInvalid()
    return dispute


def attachment_for_customer(dispute: Dispute, attachment_id: int) -> Attachment | None:
    """A document the customer may open: one attached to an entry they can see."""
    return (
        Attachment.objects.filter(
            pk=attachment_id,
            dispute=dispute,
            event__visibility__in=CUSTOMER_VISIBLE,
        )
        .exclude(event__event_type__in=_HIDDEN_FROM_CUSTOMER)
        .first()
    )
