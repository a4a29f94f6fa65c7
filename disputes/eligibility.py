"""Whether an order may get a case of a program now: the order's facts and its whole history,
asked of the one rule in `policies.check_program_eligibility`.

The customer pages ask it to show what is possible, and `dispute_open` asks it again under the
order's lock, so the API, the pages and the service can never disagree.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from .contracts import contract_terms_at, terms_of
from .errors import DomainError
from .models import Dispute, Order
from .policies import PastCase, check_program_eligibility


def order_history(order: Order) -> list[PastCase]:
    """Every case the order had, oldest first (one query)."""
    return [
        PastCase(public_id=public_id, program=program, state=state)
        for public_id, program, state in Dispute.objects.filter(order=order)
        .order_by("opened_at", "pk")
        .values_list("public_id", "program", "state")
    ]


def check_order_eligibility(order: Order, program: str, *, now: datetime) -> None:
    """Raise NotEligible (or CaseAlreadyClosed) when the order cannot get this program's case."""
    check_program_eligibility(
        program,
        terms=terms_of(contract_terms_at(order.merchant, now)),
        payment_state=order.payment_state,
        tier=order.protection_tier,
        protection_status=order.protection_status,
        protection_ends_at=order.protection_ends_at,
        history=order_history(order),
        now=now,
        support_email=settings.SUPPORT_EMAIL,
    )


def eligibility_refusal(order: Order, program: str, *, now: datetime) -> str | None:
    """Why the order cannot get this program's case now, in the reader's language; or None."""
    try:
        check_order_eligibility(order, program, now=now)
    except DomainError as error:
        return error.message
    return None
