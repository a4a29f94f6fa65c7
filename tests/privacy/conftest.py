"""Cases with personal data in every place it is kept: the customer's statement, messages of
both sides with documents, checklist text, emails; closed at a known moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from disputes import services
from disputes.choices import Outcome
from disputes.models import Dispute, Order
from disputes.services import EvidenceInput
from tests.documents import PDF, check_one
from tests.factories import (
    OrderFactory,
    customer_actor,
    decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

OPENED = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


@dataclass
class Story:
    dispute: Dispute
    closed_at: datetime

    @property
    def order(self) -> Order:
        return self.dispute.order


def escalated_and_decided(
    *, email: str, opened: datetime = OPENED, order: Order | None = None
) -> Story:
    """A payment dispute: the customer's documents and words, the merchant's answer and
    evidence text, escalated (a dispute fee) and decided by support."""
    with time_machine.travel(opened, tick=False):
        fields = {} if order else {"customer_email": email}
        dispute = open_dispute(
            order=order, message="I am Jan de Vries, Dorpsstraat 1. Nothing came.", **fields
        )
        customer = customer_actor(dispute)
        services.dispute_add_message(
            dispute=dispute,
            actor=customer,
            message="Here is my receipt, my phone is 06-12345678.",
            documents=[check_one("jan-receipt.pdf", PDF)],
        )
        merchant = merchant_actor(dispute.merchant)
        services.dispute_add_message(
            dispute=dispute, actor=merchant, message="Jan signed for it at Dorpsstraat 1."
        )
    with time_machine.travel(opened + timedelta(days=30), tick=False):
        services.dispute_escalate_overdue()
        dispute.refresh_from_db()
        services.dispute_add_evidence(
            dispute=dispute,
            actor=customer,
            evidence=[
                EvidenceInput("order_confirmation", documents=[check_one("jan-order.pdf", PDF)])
            ],
            message="Jan again: please decide.",
        )
        services.dispute_add_evidence(
            dispute=dispute,
            actor=merchant,
            evidence=[EvidenceInput("tracking_number", value="3SABC123, signed by J. de Vries")],
        )
        dispute.refresh_from_db()
        services.dispute_decide(
            dispute=dispute,
            actor=staff_actor(),
            outcome=Outcome.CUSTOMER,
            reason="The merchant showed no proof of delivery.",
            amount=Decimal(dispute.disputed_amount),
            **decision_marks(dispute),
        )
        dispute.refresh_from_db()
    assert dispute.closed_at is not None
    return Story(dispute, dispute.closed_at)


@pytest.fixture
def story(db) -> Story:  # type: ignore[no-untyped-def]
    return escalated_and_decided(email="jan@mail.example")


__all__ = ["OrderFactory", "escalated_and_decided"]
