"""The rules the database itself enforces, whatever code writes to it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.models import FeeKind, FeeLine
from disputes.choices import Outcome, State
from disputes.models import Dispute, DisputeEvent
from tests.factories import MerchantFactory, OrderFactory, open_dispute

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def violates(**changes) -> bool:
    """True if the database refuses these column values on an existing open dispute."""
    dispute = open_dispute(now=NOW)
    try:
        with transaction.atomic():
            Dispute.objects.filter(pk=dispute.pk).update(**changes)
    except IntegrityError:
        return True
    return False


def test_one_open_dispute_per_order_even_without_the_service():
    dispute = open_dispute(now=NOW)
    second = Dispute(
        order=dispute.order,
        merchant=dispute.merchant,
        program=dispute.program,
        reason=dispute.reason,
        customer_message="again",
        currency="EUR",
        order_amount=Decimal("100.00"),
        disputed_amount=Decimal("100.00"),
        opened_at=NOW,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


@pytest.mark.parametrize(
    "changes",
    [
        {"state": "lost_in_space"},
        {"program": "lottery"},
        {"disputed_amount": Decimal("-1.00")},
        {"disputed_amount": Decimal("100.01")},
        {"refund_offer_amount": Decimal("100.01")},
        {"refund_offer_amount": Decimal("-0.01")},
        {"settled_amount": Decimal("250.00")},
        {"outcome": Outcome.CUSTOMER},  # an open case has no outcome
        {"due_at": None},  # waiting for the merchant without a deadline
        {"state": State.DECIDED, "outcome": Outcome.MERCHANT, "due_at": None},  # no reason
        {"state": State.RESOLVED, "outcome": Outcome.MERCHANT, "due_at": None},
    ],
    ids=lambda changes: ",".join(changes),
)
def test_database_refuses_inconsistent_disputes(changes):
    assert violates(**changes)


def test_database_accepts_a_consistent_decision():
    assert not violates(
        state=State.DECIDED,
        outcome=Outcome.CUSTOMER,
        due_at=None,
        decision_reason="Proven.",
        settled_amount=Decimal("100.00"),
    )


def test_order_amount_cannot_be_negative_and_numbers_are_unique_per_merchant():
    merchant = MerchantFactory()
    OrderFactory(merchant=merchant, order_number="A-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(merchant=merchant, order_number="A-1")
    OrderFactory(order_number="A-1")  # another merchant may use the same number
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(amount=Decimal("-1.00"))


def test_protection_period_exists_exactly_when_the_order_is_protected():
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(protection_tier="plus")  # no status, no end
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(protection_ends_at=timezone.now())  # an end without protection


def test_a_dispute_is_charged_its_standard_fee_once():
    dispute = open_dispute(reason="unauthorized", now=NOW)  # escalated with its fee
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeLine.objects.create(
            merchant=dispute.merchant,
            dispute=dispute,
            kind=FeeKind.STANDARD,
            amount=Decimal("7.50"),
            currency="EUR",
            incurred_at=NOW,
        )


def test_the_timeline_is_append_only_in_python():
    dispute = open_dispute(now=NOW)
    event = dispute.events.get()
    event.message = "rewritten"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        DisputeEvent.objects.filter(dispute=dispute).update(message="rewritten")
    with pytest.raises(TypeError):
        DisputeEvent.objects.filter(dispute=dispute).delete()


@pytest.mark.postgres
def test_the_timeline_is_append_only_in_the_database():
    dispute = open_dispute(now=NOW)
    event_id = dispute.events.get().pk
    for statement in (
        "UPDATE disputes_disputeevent SET message = 'x' WHERE id = %s",
        "DELETE FROM disputes_disputeevent WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [event_id])
    assert DisputeEvent.objects.get(pk=event_id).message == dispute.customer_message
