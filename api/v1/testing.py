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
from .common import CASE_NOT_FOUND, ORDER_NOT_FOUND, DisputeId, refusals
from .errors import NotATestMerchant, OrderNotFound, domain_error_body
from .orders import OrderNumber

router = Router(tags=["test mode"])
LIVE_MERCHANT = "`not_a_test_merchant`: the merchant is live; only a test merchant's cases are."


class TestCaseIn(Schema):
    program: Literal["payment_dispute", "buyer_protection"] = Field(
        description="The case's program.", examples=["payment_dispute"]
    )
    reason: Reason = Field(
        description="The customer's reason; one of the program's.", examples=["not_received"]
    )
    message: Text = Field(
        min_length=1,
        max_length=5000,
        description="What the customer writes.",
        examples=["The parcel never came."],
    )


class TestReplyIn(Schema):
    reply: CustomerReply = Field(
        description="The customer's answer, as the offer allows: `received_refund`, "
        "`refund_not_received`, `reject_partial`, `accept_no_refund` or `disagree`.",
        examples=["received_refund"],
    )
    message: Text = Field(
        "", max_length=5000, description="What the customer writes; optional.", examples=["Thanks!"]
    )


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
    response={201: DisputeDetailOut},
    url_name="test-open",
    auth=requires(Scope.TEST_WRITE),
    operation_id="open_test_dispute",
    summary="Open a case as the customer (test mode)",
    openapi_extra=refusals(
        {
            403: [LIVE_MERCHANT],
            404: [ORDER_NOT_FOUND],
            409: [
                "`dispute_already_open`: the order has an open case in this program.",
                "`not_eligible`: the order cannot have this case (its program, time window, "
                "payment state or an earlier case's outcome; the message says which).",
            ],
        }
    ),
)
@idempotent(domain_error_body)
def open_as_customer(request: HttpRequest, order_number: OrderNumber, payload: TestCaseIn) -> Any:
    """Open a case for a test merchant's order as its customer would, with the same rules as the
    public form: the webhooks and payment instructions follow as for a live case."""
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
    response={200: DisputeDetailOut},
    url_name="test-reply",
    auth=requires(Scope.TEST_WRITE),
    operation_id="send_test_customer_reply",
    summary="Answer the merchant's offer as the customer (test mode)",
    openapi_extra=refusals(
        {
            403: [LIVE_MERCHANT],
            404: [CASE_NOT_FOUND],
            409: [
                "`transition_not_allowed`: the case is not waiting for the customer, or the "
                "offer does not take this reply.",
                "`deadline_passed`: the customer's time to answer has passed.",
            ],
        }
    ),
)
@idempotent(domain_error_body)
def reply_as_customer(request: HttpRequest, dispute_id: DisputeId, payload: TestReplyIn) -> Any:
    """Answer the merchant's offer as the customer would: confirm or deny the refund, refuse a
    partial one, accept no refund, or disagree (to support)."""
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
    response={200: DisputeDetailOut},
    url_name="test-advance",
    auth=requires(Scope.TEST_WRITE),
    operation_id="advance_test_dispute",
    summary="Take a case past its deadline (test mode)",
    openapi_extra=refusals(
        {
            403: [LIVE_MERCHANT],
            404: [CASE_NOT_FOUND],
            409: ["`transition_not_allowed`: the case is waiting for no deadline."],
        }
    ),
)
@idempotent(domain_error_body)
def advance_past_deadline(request: HttpRequest, dispute_id: DisputeId) -> Any:
    """Take the case past its current deadline: the same sweep the beat runs handles it now
    (escalated, closed as the customer's silence, decided for a silent merchant, ...)."""
    dispute = services.dispute_test_advance(dispute=_case(request, dispute_id))
    return _out(dispute)
