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
from .common import ORDER_NOT_FOUND, refusals
from .errors import PayloadTooLarge, domain_error_body, error_body

router = Router(tags=["orders"])

# A thousand orders with shipments fit well within this; more is refused before it is read.
MAX_BATCH_BYTES = 2 * 1024 * 1024
_CURSOR_SALT = "api.orders-list"
OrderNumber = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[^/\x00-\x1f]+$",
        description="The order's number, as the feed sent it.",
        example="A-10023",
    ),
]
ORDER_REFUSED = (
    "`invalid` and the order rules' codes (`field` names the field): an amount that is not "
    "positive or has too many decimals, a time in the future, a currency the merchant does "
    "not take, protection the contract does not offer or a tier change other than basic to plus."
)
ORDER_HAS_OPEN_CASE = (
    "`order_has_open_case`: the order has an open case; its amount, currency and placing "
    "time stay as they are until the case is closed."
)


class ShipmentIn(Schema):
    """A parcel of the order; the portal finds tracking evidence in it."""

    carrier: str = Field("", max_length=100, description="The carrier's name.", examples=["PostNL"])
    tracking_number: str = Field(
        "", max_length=100, description="The carrier's tracking number.", examples=["3SABCD1234567"]
    )
    shipped_at: datetime | None = Field(
        None, description="When it was handed to the carrier.", examples=["2026-03-03T16:00:00Z"]
    )
    delivered_at: datetime | None = Field(
        None, description="When the carrier delivered it.", examples=["2026-03-05T11:20:00Z"]
    )


class OrderIn(Schema):
    """An order as the feed sends it. Created if new, updated where a field differs."""

    order_number: str = Field(
        min_length=1,
        max_length=64,
        description="The merchant's order number: the order's key.",
        examples=["A-10023"],
    )
    placed_at: datetime = Field(
        description="When the customer ordered; not in the future. Fixed once it has a case.",
        examples=["2026-03-02T10:00:00Z"],
    )
    amount: str = Field(
        max_length=32,
        examples=["89.95"],
        description="In the currency's units, positive, at most its decimals (a number is "
        "accepted too).",
    )
    currency: str = Field(
        min_length=3, max_length=3, description="ISO 4217 currency code.", examples=["EUR"]
    )
    customer_email: str = Field(
        max_length=254,
        description="The customer proves they know it on the public form.",
        examples=["ann@mail.example"],
    )
    customer_language: str | None = Field(
        None,
        description="`en`, `nl`, `fi`, `sv` or `de`; the merchant's language when left out.",
        examples=["nl"],
    )
    is_invoice: bool = Field(
        True,
        description="`true`: a pay-later invoice; `false`: paid at checkout. Never changes.",
        examples=[True],
    )
    protection_tier: Literal["none", "basic", "plus", "one_time"] = Field(
        "none",
        description="Buyer protection taken at checkout; later only basic → plus.",
        examples=["basic"],
    )
    shipments: list[ShipmentIn] = Field(
        default_factory=list, max_length=20, description="The list replaces the one held."
    )
    line_summary: str = Field(
        "",
        max_length=2000,
        description="What was ordered, for the case pages.",
        examples=["1 trail shoe, size 42"],
    )
    paid_at: datetime | None = Field(
        None, description="When an invoice was paid.", examples=["2026-03-16T09:00:00Z"]
    )
    cancelled_at: datetime | None = Field(
        None, description="When the order was cancelled.", examples=["2026-03-02T12:00:00Z"]
    )
    refunded_outside_amount: str | None = Field(
        None,
        max_length=32,
        description="Refunded outside the portal, in total, in the order's currency.",
        examples=["10.00"],
    )

    @field_validator("amount", "refunded_outside_amount", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        # 89.95 and "89.95" are both accepted; amounts are kept as exact decimals.
        return str(value) if isinstance(value, int | float | Decimal) else value


class OrderPatchIn(Schema):
    """Only the fields sent change; the rest stays as it is."""

    customer_email: str | None = Field(
        None, max_length=254, description="As in `POST /orders`.", examples=["ann@mail.example"]
    )
    customer_language: str | None = Field(
        None, description="As in `POST /orders`.", examples=["nl"]
    )
    amount: str | None = Field(
        None,
        max_length=32,
        description="As in `POST /orders`; fixed while the order has an open case.",
        examples=["89.95"],
    )
    currency: str | None = Field(
        None,
        min_length=3,
        max_length=3,
        description="As in `POST /orders`; fixed while the order has an open case.",
        examples=["EUR"],
    )
    protection_tier: Literal["none", "basic", "plus", "one_time"] | None = Field(
        None, description="Only basic → plus once the order exists.", examples=["plus"]
    )
    shipments: list[ShipmentIn] | None = Field(
        None, max_length=20, description="The list replaces the one held."
    )
    line_summary: str | None = Field(
        None, max_length=2000, description="As in `POST /orders`.", examples=["1 trail shoe"]
    )
    paid_at: datetime | None = Field(
        None, description="When an invoice was paid.", examples=["2026-03-16T09:00:00Z"]
    )
    cancelled_at: datetime | None = Field(
        None, description="When the order was cancelled.", examples=["2026-03-02T12:00:00Z"]
    )
    refunded_outside_amount: str | None = Field(
        None,
        max_length=32,
        description="Refunded outside the portal, in total.",
        examples=["10.00"],
    )

    @field_validator("amount", "refunded_outside_amount", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float | Decimal) else value


class ShipmentOut(Schema):
    carrier: str = Field(description="The carrier's name; may be empty.", examples=["PostNL"])
    tracking_number: str = Field(
        description="The carrier's tracking number; may be empty.", examples=["3SABCD1234567"]
    )
    shipped_at: datetime | None = Field(
        description="When it was handed to the carrier.", examples=["2026-03-03T16:00:00Z"]
    )
    delivered_at: datetime | None = Field(
        description="When the carrier delivered it.", examples=["2026-03-05T11:20:00Z"]
    )


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
    """The order's buyer protection."""

    tier: str = Field(description="`none`, `basic`, `plus` or `one_time`.", examples=["basic"])
    status: str = Field(
        description="`none`, `active`, `ended` (by the customer or with its case) or `expired`; "
        "new values may be added.",
        examples=["active"],
    )
    ends_at: datetime | None = Field(
        description="When the protection ends, if it runs.", examples=["2026-04-01T10:00:00Z"]
    )


class OrderDetailOut(Schema):
    """An order as the portal holds it."""

    order_number: str = Field(description="The merchant's order number.", examples=["A-10023"])
    placed_at: datetime = Field(
        description="When the customer ordered (UTC).", examples=["2026-03-02T10:00:00Z"]
    )
    amount: Money = Field(description="The order's amount.")
    customer_email: str = Field(
        description="The customer's email address.", examples=["ann@mail.example"]
    )
    customer_language: str = Field(
        description="The language of the customer's emails.", examples=["nl"]
    )
    is_invoice: bool = Field(
        description="A pay-later invoice (`true`) or paid at checkout.", examples=[True]
    )
    payment_state: str = Field(
        description="`active` (to be paid), `paused` (during a dispute), `paid`, `cancelled`, "
        "`charged_back`, ...; new values may be added.",
        examples=["active"],
    )
    protection: ProtectionOut = Field(description="Its buyer protection.")
    shipments: list[ShipmentOut] = Field(description="Its parcels.")
    line_summary: str = Field(
        description="What was ordered; may be empty.", examples=["1 trail shoe, size 42"]
    )
    paid_at: datetime | None = Field(
        description="When an invoice was paid.", examples=["2026-03-16T09:00:00Z"]
    )
    cancelled_at: datetime | None = Field(
        description="When the order was cancelled.", examples=["2026-03-02T12:00:00Z"]
    )
    refunded_outside_amount: Money = Field(description="Refunded outside the portal, in total.")
    open_case: str | None = Field(
        description="The open case's id, if the order has one.", examples=["DP-7K2M-Q9XD-4HTA"]
    )
    customer_url: str = Field(
        description="A signed link the customer follows to open a case for this order.",
        examples=[
            "http://127.0.0.1:8000/open/link/eyJtIjoidHJhaWwtY28iLCJvIjoiQS0xMDAyMyJ9:1u2v3w:abc/"
        ],
    )
    created_at: datetime = Field(
        description="When the feed first sent it.", examples=["2026-03-02T10:01:00Z"]
    )
    updated_at: datetime = Field(
        description="When it last changed (`updated_since` filters on it).",
        examples=["2026-03-05T11:21:00Z"],
    )


class OrderWriteOut(Schema):
    status: Literal["created", "updated", "unchanged"] = Field(
        description="What the request did to the order.", examples=["created"]
    )
    order: OrderDetailOut = Field(description="The order as it is now.")


class OrderBatchIn(Schema):
    # Documented as OrderIn, but each item is checked on its own by the domain (a bad one is
    # refused alone, in its result), so the items stay as sent: see _items_as_sent.
    orders: list[OrderIn] = Field(
        max_length=MAX_BATCH, description=f"At most {MAX_BATCH} orders, each as in POST /orders."
    )

    @field_validator("orders", mode="wrap")
    @classmethod
    def _items_as_sent(cls, value: Any, handler: Any) -> Any:
        if not isinstance(value, list):
            return handler(value)  # refused as not a list, as the schema says
        if len(value) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} orders per batch")
        return value


class ItemError(Schema):
    """Why one item of a batch was refused (the error shape's `error`)."""

    code: str = Field(
        description="As the codes of `POST /orders`' 409 and 422.", examples=["invalid"]
    )
    message: str = Field(
        description="For people, in the request's language.",
        examples=["The order was placed in the future."],
    )
    field: str | None = Field(description="The item's field at fault.", examples=["placed_at"])


class OrderBatchResult(Schema):
    order_number: str = Field(
        description="The item's order number; empty when it had none.", examples=["A-10023"]
    )
    status: Literal["created", "updated", "unchanged", "error"] = Field(
        description="What the batch did with the item.", examples=["created"]
    )
    error: ItemError | None = Field(None, description="Why an item is `error`; absent otherwise.")


class OrderBatchOut(Schema):
    results: list[OrderBatchResult] = Field(description="One per item, in the batch's order.")


class OrderListOut(Schema):
    data: list[OrderDetailOut] = Field(description="A page of orders, newest placed first.")
    next_cursor: str | None = Field(
        description="`cursor` for the next page; null on the last page.",
        examples=["WyIyMDI2LTAzLTAyVDEwOjAwOjAwKzAwOjAwIiwgNDJd:1u2v3w:abc"],
    )


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
    response={200: OrderWriteOut, 201: OrderWriteOut},
    url_name="orders",
    auth=requires(Scope.ORDERS_WRITE),
    operation_id="create_order",
    summary="Create or update an order",
    openapi_extra=refusals({409: [ORDER_HAS_OPEN_CASE], 422: [ORDER_REFUSED]}),
)
@idempotent(domain_error_body)
def put_order(request: HttpRequest, payload: OrderIn) -> Any:
    """Create or update one order by its number: `201` with `created`, or `200` with `updated`
    or `unchanged`; sent again, the same order is `unchanged`. An order with an open case keeps
    its amount and currency (409)."""
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
    response={200: OrderBatchOut},
    url_name="orders-batch",
    auth=requires(Scope.ORDERS_WRITE),
    operation_id="create_orders_batch",
    summary="Create or update up to 1 000 orders",
    openapi_extra=refusals(
        {413: ["`too_large`: the batch is over 2 MB of JSON; send fewer orders per call."]},
    ),
)
@idempotent(domain_error_body)
def put_orders(request: HttpRequest, payload: Body[OrderBatchIn]) -> Any:
    """Up to 1 000 orders at once, each as in `POST /orders`: one result per item, in order.
    Valid items are stored; a bad one changes nothing and says why in its `error` (the batch is
    still `200`); the same batch sent again is all `unchanged`."""
    check_batch_size(request)
    items: list[dict[str, Any]] = []
    early: dict[int, dict[str, Any]] = {}
    raw_items: list[Any] = list(payload.orders)  # as sent (OrderBatchIn._items_as_sent)
    for position, raw in enumerate(raw_items):
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
                    "order_number": _echoed(result.order_number),
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
    placed_from: datetime | None = Field(
        None, description="Orders placed at or after this.", examples=["2026-03-01T00:00:00Z"]
    )
    placed_before: datetime | None = Field(
        None, description="Orders placed before this.", examples=["2026-04-01T00:00:00Z"]
    )
    updated_since: datetime | None = Field(
        None, description="Orders changed at or after this.", examples=["2026-03-02T10:00:00Z"]
    )
    open_case: bool | None = Field(
        None, description="Only orders with (`true`) or without an open case.", examples=[True]
    )
    cursor: str | None = Field(
        None,
        max_length=500,
        description="`next_cursor` of the page before; left out for the first page.",
        examples=["WyIyMDI2LTAzLTAyVDEwOjAwOjAwKzAwOjAwIiwgNDJd:1u2v3w:abc"],
    )
    limit: int = Field(50, ge=1, le=200, description="Orders per page.", examples=[50])

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
    response={200: OrderListOut},
    url_name="orders-list",
    auth=requires(Scope.ORDERS_READ),
    operation_id="list_orders",
    summary="List the merchant's orders",
)
def list_orders(request: HttpRequest, query: Query[OrderListQuery]) -> Any:
    """The merchant's orders, newest placed first, a page at a time: ask again with `cursor` set
    to `next_cursor` until it is `null`. The filters combine."""
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
    response={200: OrderDetailOut},
    url_name="order",
    auth=requires(Scope.ORDERS_READ),
    operation_id="get_order",
    summary="Get an order",
    openapi_extra=refusals({404: [ORDER_NOT_FOUND]}),
)
def get_order(request: HttpRequest, order_number: OrderNumber) -> Any:
    """One order as the portal holds it, with the customer's link and its open case, if any."""
    (out,) = _orders_out([_order(request, order_number)])
    return out


@router.patch(
    "/{order_number}",
    response={200: OrderWriteOut},
    url_name="order-patch",
    auth=requires(Scope.ORDERS_WRITE),
    operation_id="update_order",
    summary="Change an order",
    openapi_extra=refusals(
        {404: [ORDER_NOT_FOUND], 409: [ORDER_HAS_OPEN_CASE], 422: [ORDER_REFUSED]}
    ),
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


def _echoed(number: str) -> str:
    """A refused item's order number as sent, made storable: the answer is kept as JSON for
    Idempotency-Key replays, and PostgreSQL's JSON takes no NUL and no lone surrogate."""
    return number.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


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
