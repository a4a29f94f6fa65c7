"""/orders: the order feed. One order, or a thousand, created or updated by order number; the
customer's link to open a case for each; the orders as the portal holds them."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core import signing
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from ninja import Body, Path, Query, Router, Schema, Status
from pydantic import Field, field_validator

from disputes.choices import OPEN_STATES
from disputes.links import customer_order_urls
from disputes.models import Dispute, Order
from disputes.orders import MAX_BATCH, OrderStatus, order_patch, orders_upsert

from ..idempotency import idempotent
from ..schemas import Money, api_json, money, utc
from ..scopes import Scope
from ..selectors import InvalidCursor
from .auth import request_merchant, requires
from .common import ERRORS
from .errors import PayloadTooLarge, domain_error_body, error_body

router = Router(tags=["orders"])

# A thousand orders with shipments fit well within this; more is refused before it is read.
MAX_BATCH_BYTES = 2 * 1024 * 1024
_CURSOR_SALT = "api.orders-list"
OrderNumber = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^/\x00-\x1f]+$")]


class ShipmentIn(Schema):
    carrier: str = Field("", max_length=100, examples=["PostNL"])
    tracking_number: str = Field("", max_length=100, examples=["3SABCD1234567"])
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None


class OrderIn(Schema):
    """An order as the feed sends it. Created if new, updated where a field differs."""

    order_number: str = Field(min_length=1, max_length=64, examples=["A-10023"])
    placed_at: datetime = Field(description="When the customer ordered; not in the future.")
    amount: str = Field(max_length=32, examples=["89.95"], description="In the currency's units.")
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    customer_email: str = Field(max_length=254, examples=["ann@mail.example"])
    customer_language: str | None = Field(None, examples=["nl"])
    is_invoice: bool = Field(True, description="A pay-later invoice, or paid at checkout.")
    protection_tier: Literal["none", "basic", "plus", "one_time"] = Field(
        "none", description="Buyer protection taken at checkout; later only basic → plus."
    )
    shipments: list[ShipmentIn] = Field(default_factory=list, max_length=20)
    line_summary: str = Field("", max_length=2000, examples=["1 trail shoe, size 42"])
    paid_at: datetime | None = Field(None, description="When an invoice was paid.")
    cancelled_at: datetime | None = Field(None, description="When the order was cancelled.")
    refunded_outside_amount: str | None = Field(
        None, max_length=32, description="Refunded outside the portal, in total."
    )

    @field_validator("amount", "refunded_outside_amount", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # 89.95 and "89.95" are both accepted; amounts are kept as exact decimals.
        return str(value) if isinstance(value, int | float | Decimal) else value


class OrderPatchIn(Schema):
    """Only the fields sent change; the rest stays as it is."""

    customer_email: str | None = Field(None, max_length=254)
    customer_language: str | None = None
    amount: str | None = Field(None, max_length=32)
    currency: str | None = Field(None, min_length=3, max_length=3)
    protection_tier: Literal["none", "basic", "plus", "one_time"] | None = None
    shipments: list[ShipmentIn] | None = Field(None, max_length=20)
    line_summary: str | None = Field(None, max_length=2000)
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_outside_amount: str | None = Field(None, max_length=32)

    @field_validator("amount", "refunded_outside_amount", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float | Decimal) else value


class ShipmentOut(Schema):
    carrier: str
    tracking_number: str
    shipped_at: datetime | None
    delivered_at: datetime | None


def shipment_out(stored: dict[str, Any]) -> ShipmentOut:
    """A shipment as stored (times as ISO text in the JSON column), with its times as times."""
    return ShipmentOut.model_construct(
        carrier=stored.get("carrier", ""),
        tracking_number=stored.get("tracking_number", ""),
        shipped_at=_moment(stored.get("shipped_at")),
        delivered_at=_moment(stored.get("delivered_at")),
    )


def _moment(value: str | None) -> datetime | None:
    return utc(parse_datetime(value)) if value else None


class ProtectionOut(Schema):
    tier: str
    status: str
    ends_at: datetime | None


class OrderDetailOut(Schema):
    order_number: str
    placed_at: datetime
    amount: Money
    customer_email: str
    customer_language: str
    is_invoice: bool
    payment_state: str
    protection: ProtectionOut
    shipments: list[ShipmentOut]
    line_summary: str
    paid_at: datetime | None
    cancelled_at: datetime | None
    refunded_outside_amount: Money
    open_case: str | None = Field(description="The open case's id, if the order has one.")
    customer_url: str = Field(
        description="A signed link the customer follows to open a case for this order."
    )
    created_at: datetime
    updated_at: datetime


class OrderWriteOut(Schema):
    status: Literal["created", "updated", "unchanged"]
    order: OrderDetailOut


class OrderBatchIn(Schema):
    # Each item is checked on its own (a bad one is refused alone), so the batch takes any
    # objects; the schema documents them as OrderIn (BATCH_BODY below).
    orders: list[Any] = Field(max_length=MAX_BATCH)


BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["orders"],
                    "properties": {
                        "orders": {
                            "type": "array",
                            "maxItems": MAX_BATCH,
                            "description": f"At most {MAX_BATCH} orders, each as in POST /orders.",
                            "items": {"$ref": "#/components/schemas/OrderIn"},
                        }
                    },
                }
            }
        },
    }
}


class ItemError(Schema):
    code: str
    message: str
    field: str | None


class OrderBatchResult(Schema):
    order_number: str
    status: Literal["created", "updated", "unchanged", "error"]
    error: ItemError | None = None


class OrderBatchOut(Schema):
    results: list[OrderBatchResult]


class OrderListOut(Schema):
    data: list[OrderDetailOut]
    next_cursor: str | None


def order_out(order: Order, *, open_case: str | None, customer_url: str) -> OrderDetailOut:
    currency = order.currency
    return OrderDetailOut.model_construct(
        order_number=order.order_number,
        placed_at=utc(order.placed_at),
        amount=money(order.amount, currency),
        customer_email=order.customer_email,
        customer_language=order.customer_language,
        is_invoice=order.is_invoice,
        payment_state=order.payment_state,
        protection=ProtectionOut.model_construct(
            tier=order.protection_tier,
            status=order.protection_status,
            ends_at=utc(order.protection_ends_at),
        ),
        shipments=[shipment_out(shipment) for shipment in order.shipments or []],
        line_summary=order.line_summary,
        paid_at=utc(order.paid_at),
        cancelled_at=utc(order.cancelled_at),
        refunded_outside_amount=money(order.refunded_outside_amount, currency),
        open_case=open_case,
        customer_url=customer_url,
        created_at=utc(order.created_at),
        updated_at=utc(order.updated_at),
    )


def _open_cases(orders: list[Order]) -> dict[int, str]:
    if not orders:
        return {}
    return dict(
        Dispute.objects.filter(
            order_id__in=[order.pk for order in orders], state__in=OPEN_STATES
        ).values_list("order_id", "public_id")
    )


def _orders_out(orders: list[Order]) -> list[OrderDetailOut]:
    cases = _open_cases(orders)
    link = customer_order_urls()
    return [order_out(o, open_case=cases.get(o.pk), customer_url=link(o)) for o in orders]


@router.post(
    "",
    response={200: OrderWriteOut, 201: OrderWriteOut, **ERRORS},
    url_name="orders",
    auth=requires(Scope.ORDERS_WRITE),
)
@idempotent(domain_error_body)
def put_order(request: HttpRequest, payload: OrderIn) -> Any:
    """Create or update one order by its number (idempotent): `created`, `updated` or
    `unchanged`. An order with an open case keeps its amount and currency (409)."""
    (result,) = orders_upsert(
        merchant=request_merchant(request),
        items=[payload.model_dump(mode="json")],
        now=timezone.now(),
    )
    if result.error is not None:
        raise result.error
    assert result.order is not None  # noqa: S101 - set for every result without an error
    (out,) = _orders_out([result.order])
    status = 201 if result.status == OrderStatus.CREATED else 200
    return status, {"status": result.status.value, "order": api_json(out)}


@router.post(
    "/batch",
    response={200: OrderBatchOut, **ERRORS},
    url_name="orders-batch",
    auth=requires(Scope.ORDERS_WRITE),
    openapi_extra=BATCH_BODY,
)
@idempotent(domain_error_body)
def put_orders(request: HttpRequest, payload: Body[OrderBatchIn]) -> Any:
    """Up to 1 000 orders at once: one result per item, in order. Valid items are stored; a
    bad one changes nothing and says why; the same batch sent again is all `unchanged`."""
    check_batch_size(request)
    items: list[dict[str, Any]] = []
    early: dict[int, dict[str, Any]] = {}
    for position, raw in enumerate(payload.orders):
        if isinstance(raw, dict):
            # Checked by the domain's own check_order, field by field, as import_orders does:
            # validating each item with OrderIn first would check it twice.
            items.append(raw)
            continue
        early[position] = {
            "order_number": "",
            "status": "error",
            "error": error_body("invalid", gettext("An order is a JSON object."), None)["error"],
        }
        items.append({"order_number": None})  # keeps the positions; refused below
    results = orders_upsert(
        merchant=request_merchant(request), items=items, now=timezone.now(), with_orders=False
    )
    out = []
    for position, result in enumerate(results):
        if position in early:
            out.append(early[position])
        elif result.error is not None:
            out.append(
                {
                    "order_number": result.order_number,
                    "status": "error",
                    "error": error_body(
                        result.error.code, result.error.message, result.error.field
                    )["error"],
                }
            )
        else:
            out.append({"order_number": result.order_number, "status": result.status.value})
    return 200, {"results": out}


class OrderListQuery(Schema):
    placed_from: datetime | None = Field(None, description="Orders placed at or after this.")
    placed_before: datetime | None = Field(None, description="Orders placed before this.")
    updated_since: datetime | None = Field(None, description="Orders changed at or after this.")
    open_case: bool | None = Field(None, description="Only orders with (or without) an open case.")
    cursor: str | None = Field(
        None, max_length=500, description="`next_cursor` of the page before."
    )
    limit: int = Field(50, ge=1, le=200)

    @field_validator("placed_from", "placed_before", "updated_since")
    @classmethod
    def _in_utc(cls, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValueError("out of range") from None


@router.get(
    "",
    response={200: OrderListOut, **ERRORS},
    url_name="orders-list",
    auth=requires(Scope.ORDERS_READ),
)
def list_orders(request: HttpRequest, query: Query[OrderListQuery]) -> Any:
    """The merchant's orders, newest first, a page at a time (keyset on placing time)."""
    rows = Order.objects.filter(merchant=request_merchant(request)).select_related("merchant")
    if query.placed_from:
        rows = rows.filter(placed_at__gte=query.placed_from)
    if query.placed_before:
        rows = rows.filter(placed_at__lt=query.placed_before)
    if query.updated_since:
        rows = rows.filter(updated_at__gte=query.updated_since)
    if query.open_case is not None:
        open_case = Exists(Dispute.objects.filter(order=OuterRef("pk"), state__in=OPEN_STATES))
        rows = rows.filter(open_case) if query.open_case else rows.exclude(open_case)
    rows = rows.order_by("-placed_at", "-id")
    if query.cursor:
        try:
            value, pk = signing.loads(query.cursor, salt=_CURSOR_SALT)
            placed_at, pk = datetime.fromisoformat(value), int(pk)
        except (signing.BadSignature, ValueError, TypeError):
            raise InvalidCursor(field="cursor") from None
        rows = rows.filter(
            Q(placed_at__lte=placed_at),
            Q(placed_at__lt=placed_at) | Q(placed_at=placed_at, id__lt=pk),
        )
    page = list(rows[: query.limit + 1])
    next_cursor = None
    if len(page) > query.limit:
        page = page[: query.limit]
        next_cursor = signing.dumps(
            [page[-1].placed_at.isoformat(), page[-1].pk], salt=_CURSOR_SALT
        )
    return OrderListOut.model_construct(data=_orders_out(page), next_cursor=next_cursor)


def _order(request: HttpRequest, order_number: str) -> Order:
    from .errors import OrderNotFound

    order = (
        Order.objects.select_related("merchant")
        .filter(merchant=request_merchant(request), order_number=order_number)
        .first()
    )
    if order is None:
        raise OrderNotFound(field="order_number")
    return order


@router.get(
    "/{order_number}",
    response={200: OrderDetailOut, **ERRORS},
    url_name="order",
    auth=requires(Scope.ORDERS_READ),
)
def get_order(request: HttpRequest, order_number: OrderNumber) -> Any:
    """One order, with its customer link and its open case, if any."""
    (out,) = _orders_out([_order(request, order_number)])
    return out


@router.patch(
    "/{order_number}",
    response={200: OrderWriteOut, **ERRORS},
    url_name="order-patch",
    auth=requires(Scope.ORDERS_WRITE),
)
def patch_order(request: HttpRequest, order_number: OrderNumber, payload: OrderPatchIn) -> Any:
    """Shipments and deliveries, a cancellation, a refund made outside the portal, an invoice
    paid, basic protection upgraded to plus. Only the fields sent change."""
    order = _order(request, order_number)
    result = order_patch(
        merchant=order.merchant,
        order_number=order.order_number,
        changes=payload.model_dump(mode="json", exclude_unset=True),
        now=timezone.now(),
    )
    if result.error is not None:
        raise result.error
    assert result.order is not None  # noqa: S101 - set for every result without an error
    (out,) = _orders_out([result.order])
    return Status(200, {"status": result.status.value, "order": api_json(out)})


def check_batch_size(request: HttpRequest) -> None:
    """Refuse an oversized batch by its declared length (a JSON 413). A body larger than
    DATA_UPLOAD_MAX_MEMORY_SIZE never gets this far: Django refuses it while reading, and the
    API's handler answers that with the same 413."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > MAX_BATCH_BYTES:
        raise PayloadTooLarge(
            gettext("A batch is at most %(mb)s MB of JSON; send fewer orders per call.")
            % {"mb": MAX_BATCH_BYTES // (1024 * 1024)}
        )
