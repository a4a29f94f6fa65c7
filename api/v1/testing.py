"""/test: for a test merchant's orders, play the customer and the clock, so an integrator sees
every webhook and payment instruction before going live. Refused for live merchants."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from typing import Any, Literal

from django.http import HttpRequest
from django.utils.translation import get_language
from ninja import Router, Schema
from pydantic import Field

from disputes import selectors, services
from disputes.actors import Actor
from disputes.choices import CustomerReply, Program, Reason
from disputes.errors import DisputeNotFound
from disputes.models import Dispute, Merchant, Order

from ..idempotency import idempotent
from ..schemas import DisputeDetailOut, Text, dispute_detail_json
from ..scopes import Scope
from .auth import request_merchant, requires
from .common import ERRORS, DisputeId
from .errors import NotATestMerchant, OrderNotFound, domain_error_body
from .orders import OrderNumber

router = Router(tags=["test mode"])


class TestCaseIn(Schema):
    program: Literal["payment_dispute", "buyer_protection"]
    reason: Reason = Field(examples=["not_received"])
    message: Text = Field(min_length=1, max_length=5000, examples=["The parcel never came."])


class TestReplyIn(Schema):
    reply: CustomerReply
    message: Text = Field("", max_length=5000)


def _test_merchant(request: HttpRequest) -> Merchant:
    merchant = request_merchant(request)
    if not merchant.test_mode:
        raise NotATestMerchant()
    return merchant


def _case(request: HttpRequest, dispute_id: str) -> Dispute:
    dispute = selectors.dispute_for_merchant(_test_merchant(request), dispute_id)
    if dispute is None:
        raise DisputeNotFound(field="dispute_id")
    return dispute


def _out(dispute: Dispute, status: int = 200) -> tuple[int, dict[str, Any]]:
    fresh = Dispute.objects.select_related("order").get(pk=dispute.pk)
    return status, dispute_detail_json(fresh)


@router.post(
    "/orders/{order_number}/disputes",
    response={201: DisputeDetailOut, **ERRORS},
    url_name="test-open",
    auth=requires(Scope.TEST_WRITE),
)
@idempotent(domain_error_body)
def open_as_customer(request: HttpRequest, order_number: OrderNumber, payload: TestCaseIn) -> Any:
    """Open a case for the order as its customer would (the same rules as the public form)."""
    order = Order.objects.filter(merchant=_test_merchant(request), order_number=order_number)
    found = order.select_related("merchant").first()
    if found is None:
        raise OrderNotFound(field="order_number")
    dispute = services.dispute_open(
        order=found,
        program=Program(payload.program),
        reason=payload.reason,
        message=payload.message,
        language=get_language(),
    )
    return _out(dispute, 201)


@router.post(
    "/disputes/{dispute_id}/customer-reply",
    response={200: DisputeDetailOut, **ERRORS},
    url_name="test-reply",
    auth=requires(Scope.TEST_WRITE),
)
@idempotent(domain_error_body)
def reply_as_customer(request: HttpRequest, dispute_id: DisputeId, payload: TestReplyIn) -> Any:
    """Answer the merchant's offer as the customer would."""
    dispute = _case(request, dispute_id)
    services.dispute_customer_reply(
        dispute=dispute,
        actor=Actor.customer(dispute.order.customer_email),
        reply=payload.reply,
        message=payload.message,
    )
    return _out(dispute)


@router.post(
    "/disputes/{dispute_id}/advance",
    response={200: DisputeDetailOut, **ERRORS},
    url_name="test-advance",
    auth=requires(Scope.TEST_WRITE),
)
@idempotent(domain_error_body)
def advance_past_deadline(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """Take the case past its current deadline: the same sweep the beat runs handles it now
    (escalated, closed as the customer's silence, decided for a silent merchant, ...)."""
    dispute = services.dispute_test_advance(dispute=_case(request, dispute_id))
    return _out(dispute)
