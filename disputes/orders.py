"""Orders in: the provider's (or shop's) order feed, one order or a thousand at a time.

Idempotent on (merchant, order number): an order is created, updated where a field differs, or
left unchanged. Every item is checked on its own; a bad item changes nothing and says why
(field, code, message), the good ones are stored. The same checks serve the API, the import
command and the admin upload. A batch costs a fixed number of queries, whatever its size.

What the feed reports about the money (an invoice paid, an order cancelled or refunded outside
the portal) is the provider's own doing: it changes the order's payment state, never writes a
payment instruction.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError, connection, models, transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext

from . import monthly
from .choices import OPEN_STATES, ProtectionStatus, ProtectionTier
from .contracts import contract_terms_at, currencies_priced, terms_of
from .errors import DomainError, InvalidAmount
from .models import Dispute, Merchant, Order
from .policies import (
    ReportedPayment,
    initial_payment_state,
    parse_amount,
    payment_on_report,
    protection_ended_by,
    protection_ends_at,
)

MAX_BATCH = 1000
MAX_SHIPMENTS = 20
# A clock a little ahead at the provider is not a future order.
FUTURE_TOLERANCE = timedelta(minutes=5)
_ORDER_NUMBER = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_CURRENCY = re.compile(r"[A-Z]{3}")
LANGUAGES = {code for code, _name in settings.LANGUAGES}
# The fields of one order as the feed sends them (the API, import files), in check_order.
FEED_FIELDS = (
    "order_number",
    "placed_at",
    "amount",
    "currency",
    "customer_email",
    "customer_language",
    "is_invoice",
    "protection_tier",
    "shipments",
    "line_summary",
    "paid_at",
    "cancelled_at",
    "refunded_outside_amount",
)
# Computed once: `ProtectionTier.values` builds a new list at every use.
_TIERS = frozenset(ProtectionTier.values)


@functools.cache
def _email_validator() -> EmailValidator:
    """Django's email check with its patterns as plain compiled ones (a lazy pattern costs a
    proxy call at every use, a tenth of an order's checks in a large import). Made at first
    use: compiling the domain pattern takes a sixth of a second, which no process that checks
    no order should pay at start-up."""
    validator = EmailValidator()
    for name in ("user_regex", "domain_regex", "literal_regex"):
        lazy = getattr(EmailValidator, name)
        setattr(validator, name, re.compile(lazy.pattern, lazy.flags))
    return validator


class OrderStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


class OrderRefused(DomainError):
    """One order's input is refused; `code` and `field` say why."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None, code: str = "invalid") -> None:
        super().__init__(message, field=field)
        self.code = code


class OrderHasOpenCase(OrderRefused):
    pass


@dataclass(frozen=True)
class Shipment:
    carrier: str
    tracking_number: str
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "tracking_number": self.tracking_number,
            "shipped_at": self.shipped_at.isoformat() if self.shipped_at else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


@dataclass(frozen=True)
class OrderFacts:
    """One order as the feed states it, checked and normalised."""

    order_number: str
    placed_at: datetime
    amount: Decimal
    currency: str
    customer_email: str
    customer_language: str
    is_invoice: bool = True
    protection_tier: str = ProtectionTier.NONE
    shipments: tuple[Shipment, ...] = ()
    line_summary: str = ""
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    refunded_outside_amount: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class OrderResult:
    order_number: str
    status: OrderStatus
    order: Order | None = None
    error: OrderRefused | None = None


# --- Checking one order ---------------------------------------------------------------------


def _refuse(field_name: str, message: str, code: str = "invalid") -> OrderRefused:
    return OrderRefused(message, field=field_name, code=code)


def _moment(value: Any, field_name: str, *, now: datetime, required: bool) -> datetime | None:
    if value in (None, ""):
        if required:
            raise _refuse(field_name, gettext("This field is required."), "required")
        return None
    moment = value if isinstance(value, datetime) else parse_datetime(str(value).strip())
    if moment is None:
        raise _refuse(
            field_name, gettext("Enter a date and time in ISO 8601, e.g. 2026-03-02T10:00:00Z.")
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without an offset is UTC
    try:
        moment = moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise _refuse(field_name, gettext("This date is out of range.")) from None
    if moment > now + FUTURE_TOLERANCE:
        raise _refuse(field_name, gettext("This date is in the future."), "in_the_future")
    return moment


def _shipments(value: Any, *, now: datetime) -> tuple[Shipment, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, list | tuple) or len(value) > MAX_SHIPMENTS:
        raise _refuse(
            "shipments",
            gettext("Send a list of at most %(count)s shipments.") % {"count": MAX_SHIPMENTS},
        )
    shipments = []
    for item in value:
        if not isinstance(item, Mapping):
            raise _refuse("shipments", gettext("Each shipment is an object."))
        carrier = str(item.get("carrier") or "").strip()[:100]
        tracking = str(item.get("tracking_number") or "").strip()[:100]
        if not carrier and not tracking:
            raise _refuse("shipments", gettext("A shipment names its carrier or tracking number."))
        shipped = _moment(item.get("shipped_at"), "shipments", now=now, required=False)
        delivered = _moment(item.get("delivered_at"), "shipments", now=now, required=False)
        if shipped and delivered and delivered < shipped:
            raise _refuse("shipments", gettext("A shipment is delivered after it is shipped."))
        shipments.append(Shipment(carrier, tracking, shipped, delivered))
    return tuple(shipments)


_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _flag(value: Any, field_name: str, *, default: bool) -> bool:
    """A yes/no field: JSON true/false, or true/false, 1/0, yes/no as text (a CSV cell)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _refuse(field_name, gettext("Enter true or false."))


def check_order(raw: Mapping[str, Any], *, now: datetime, merchant: Merchant) -> OrderFacts:
    """The feed's fields of one order, checked: OrderRefused names the first one that is wrong.
    The currency's fee schedule and the order's history are checked with the batch."""
    given = raw.get("order_number")
    number = (
        str(given).strip() if isinstance(given, str | int) and not isinstance(given, bool) else ""
    )
    if not _ORDER_NUMBER.fullmatch(number):
        raise _refuse("order_number", gettext("An order number is 1 to 64 printable characters."))
    placed_at = _moment(raw.get("placed_at"), "placed_at", now=now, required=True)
    assert placed_at is not None  # noqa: S101 - required above
    currency = str(raw.get("currency") or "").strip().upper()
    if not _CURRENCY.fullmatch(currency):
        raise _refuse("currency", gettext("Enter an ISO 4217 currency code, e.g. EUR."))
    try:
        amount = parse_amount(raw.get("amount"), currency)
    except InvalidAmount:
        raise _refuse(
            "amount", gettext("Enter a positive amount with at most the currency's decimals.")
        ) from None
    if amount <= 0:
        raise _refuse("amount", gettext("Enter a positive amount."))
    email = str(raw.get("customer_email") or "").strip()
    try:
        _email_validator()(email)
    except ValidationError:
        raise _refuse("customer_email", gettext("Enter a valid email address.")) from None
    language = str(raw.get("customer_language") or merchant.language).strip().lower()
    if language not in LANGUAGES:
        raise _refuse(
            "customer_language",
            gettext("The language is one of: %(languages)s.")
            % {"languages": ", ".join(sorted(LANGUAGES))},
        )
    tier = str(raw.get("protection_tier") or ProtectionTier.NONE).strip()
    if tier not in _TIERS:
        raise _refuse(
            "protection_tier",
            gettext("The protection tier is one of: %(tiers)s.")
            % {"tiers": ", ".join(ProtectionTier.values)},
        )
    refunded_raw = raw.get("refunded_outside_amount")
    refunded = Decimal("0.00")
    if refunded_raw not in (None, "", 0, "0"):
        try:
            refunded = parse_amount(refunded_raw, currency, field="refunded_outside_amount")
        except InvalidAmount:
            raise _refuse("refunded_outside_amount", gettext("Enter a valid amount.")) from None
        if refunded > amount:
            raise _refuse(
                "refunded_outside_amount",
                gettext("More cannot be refunded than the order's amount."),
            )
    is_invoice = _flag(raw.get("is_invoice"), "is_invoice", default=True)
    summary = raw.get("line_summary") or ""
    if not isinstance(summary, str) or len(summary) > 2000 or "\x00" in summary:
        raise _refuse("line_summary", gettext("At most 2000 characters, no NUL characters."))
    return OrderFacts(
        order_number=number,
        placed_at=placed_at,
        amount=amount,
        currency=currency,
        customer_email=email,
        customer_language=language,
        is_invoice=is_invoice,
        protection_tier=tier,
        shipments=_shipments(raw.get("shipments"), now=now),
        line_summary=summary,
        paid_at=_moment(raw.get("paid_at"), "paid_at", now=now, required=False),
        cancelled_at=_moment(raw.get("cancelled_at"), "cancelled_at", now=now, required=False),
        refunded_outside_amount=refunded,
    )


# --- Writing a batch ------------------------------------------------------------------------

_FIELDS = (
    "placed_at",
    "amount",
    "currency",
    "customer_email",
    "customer_language",
    "is_invoice",
    "shipments",
    "line_summary",
    "paid_at",
    "cancelled_at",
    "refunded_outside_amount",
    "payment_state",
    "protection_tier",
    "protection_status",
    "protection_ends_at",
)


@dataclass
class _Planned:
    facts: OrderFacts
    values: dict[str, Any] = field(default_factory=dict)


def _reported(state: str, facts: OrderFacts, amount: Decimal) -> str:
    """The payment state after what the feed reports (paid, cancelled, refunded in full)."""
    if facts.paid_at is not None:
        state = payment_on_report(state, ReportedPayment.PAID)
    if facts.cancelled_at is not None:
        state = payment_on_report(state, ReportedPayment.CANCELLED)
    if facts.refunded_outside_amount and facts.refunded_outside_amount == amount:
        state = payment_on_report(state, ReportedPayment.REFUNDED_IN_FULL)
    return state


def _new_values(facts: OrderFacts, *, now: datetime, offers_protection: bool) -> dict[str, Any]:
    if facts.protection_tier != ProtectionTier.NONE and not offers_protection:
        raise _refuse(
            "protection_tier",
            gettext("This shop's contract has no buyer protection."),
            "protection_not_offered",
        )
    values = _fact_values(facts)
    values["payment_state"] = _reported(
        initial_payment_state(is_invoice=facts.is_invoice), facts, facts.amount
    )
    if facts.protection_tier == ProtectionTier.NONE:
        values.update(protection_status=ProtectionStatus.NONE, protection_ends_at=None)
    else:
        ends = protection_ends_at(facts.placed_at)
        ended = ends <= now or protection_ended_by(
            program="", outcome="", payment_state=values["payment_state"]
        )
        values.update(
            protection_tier=facts.protection_tier,
            protection_status=(
                ProtectionStatus.EXPIRED
                if ends <= now
                else ProtectionStatus.ENDED
                if ended
                else ProtectionStatus.ACTIVE
            ),
            protection_ends_at=ends,
        )
    return values


def _fact_values(facts: OrderFacts) -> dict[str, Any]:
    return {
        "placed_at": facts.placed_at,
        "amount": facts.amount,
        "currency": facts.currency,
        "customer_email": facts.customer_email,
        "customer_language": facts.customer_language,
        "is_invoice": facts.is_invoice,
        "shipments": [shipment.as_json() for shipment in facts.shipments],
        "line_summary": facts.line_summary,
        "paid_at": facts.paid_at,
        "cancelled_at": facts.cancelled_at,
        "refunded_outside_amount": facts.refunded_outside_amount,
        "protection_tier": facts.protection_tier,
    }


def _changed_values(order: Order, facts: OrderFacts, *, has_open_case: bool) -> dict[str, Any]:
    """What an update changes on an existing order; OrderRefused when it may not."""
    values = _fact_values(facts)
    changed = {name: value for name, value in values.items() if getattr(order, name) != value}
    if has_open_case and {"amount", "currency"} & changed.keys():
        raise OrderHasOpenCase(
            gettext(
                "The order has an open case: its amount and currency cannot change until the "
                "case is closed."
            ),
            field="amount" if "amount" in changed else "currency",
            code="order_has_open_case",
        )
    if "placed_at" in changed and order.disputes.exists():
        raise _refuse(
            "placed_at", gettext("The order has a case: its date cannot change."), "order_has_case"
        )
    if "protection_tier" in changed:
        upgrade = (order.protection_tier, facts.protection_tier) == (
            ProtectionTier.BASIC,
            ProtectionTier.PLUS,
        )
        if not upgrade:
            raise _refuse(
                "protection_tier",
                gettext("Buyer protection is chosen at checkout; only basic can become plus."),
                "protection_fixed",
            )
    if "is_invoice" in changed:
        raise _refuse(
            "is_invoice", gettext("How an order is paid does not change."), "payment_method_fixed"
        )
    state = _reported(order.payment_state, facts, facts.amount)
    if state != order.payment_state:
        changed["payment_state"] = state
        if order.protection_status == ProtectionStatus.ACTIVE and protection_ended_by(
            program="", outcome="", payment_state=state
        ):
            changed["protection_status"] = ProtectionStatus.ENDED
    return changed


_WRITE_ATTEMPTS = 3


def orders_upsert(
    *,
    merchant: Merchant,
    items: Sequence[Mapping[str, Any] | OrderFacts],
    now: datetime,
    with_orders: bool = True,
) -> list[OrderResult]:
    """Create, update or leave each order; one result per item, in order. At most MAX_BATCH.
    Without `with_orders`, a created order's result carries no Order (a caller that only
    counts, such as an import, saves building a model instance per row)."""
    if len(items) > MAX_BATCH:
        raise OrderRefused(
            gettext("Send at most %(count)s orders at a time.") % {"count": MAX_BATCH},
            field="orders",
            code="too_many",
        )
    results: list[OrderResult | None] = [None] * len(items)
    checked: dict[str, tuple[int, OrderFacts]] = {}
    for position, item in enumerate(items):
        number = str(
            item.order_number if isinstance(item, OrderFacts) else item.get("order_number", "")
        )
        try:
            facts = (
                item
                if isinstance(item, OrderFacts)
                else check_order(item, now=now, merchant=merchant)
            )
        except OrderRefused as error:
            results[position] = OrderResult(number, OrderStatus.ERROR, error=error)
            continue
        if facts.order_number in checked:
            results[position] = OrderResult(
                facts.order_number,
                OrderStatus.ERROR,
                error=_refuse(
                    "order_number",
                    gettext("This order number is in the batch twice."),
                    "duplicate_in_batch",
                ),
            )
            continue
        checked[facts.order_number] = (position, facts)
    for attempt in range(_WRITE_ATTEMPTS) if checked else ():
        try:
            _write(merchant, checked, results, now=now, with_orders=with_orders)
            break
        except IntegrityError:
            # Another writer stored some of these new orders after we looked (a feed's retry
            # racing its first try, two imports of one file): they exist now, so the next
            # attempt compares with them instead of inserting them again.
            if attempt == _WRITE_ATTEMPTS - 1:
                raise
    return [result for result in results if result is not None]


def _write(
    merchant: Merchant,
    checked: dict[str, tuple[int, OrderFacts]],
    results: list[OrderResult | None],
    *,
    now: datetime,
    with_orders: bool,
) -> None:
    terms = terms_of(contract_terms_at(merchant, now))
    priced = currencies_priced(
        terms.fee_plan, {facts.currency for _position, facts in checked.values()}
    )
    with transaction.atomic():
        # The orders of the batch that exist, locked: a case opening meanwhile waits for us.
        existing = _locked(merchant, list(checked))
        open_orders = (
            set(
                Dispute.objects.filter(
                    order_id__in=[order.pk for order in existing.values()], state__in=OPEN_STATES
                ).values_list("order_id", flat=True)
            )
            if existing
            else set()
        )
        to_create: list[tuple[int, str, dict[str, Any]]] = []
        to_update: list[tuple[Order, dict[str, Any]]] = []
        moved: list[datetime] = []  # the dates orders are moved from
        for number, (position, facts) in checked.items():
            try:
                if facts.currency not in priced:
                    raise _refuse(
                        "currency",
                        gettext(
                            "No fee schedule prices %(currency)s: orders in it cannot be taken."
                        )
                        % {"currency": facts.currency},
                        "currency_not_priced",
                    )
                order = existing.get(number)
                if order is None:
                    values = _new_values(facts, now=now, offers_protection=terms.buyer_protection)
                    to_create.append((position, number, values))
                    continue
                changed = _changed_values(order, facts, has_open_case=order.pk in open_orders)
            except OrderRefused as error:
                results[position] = OrderResult(number, OrderStatus.ERROR, error=error)
                continue
            if not changed:
                results[position] = OrderResult(number, OrderStatus.UNCHANGED, order=order)
                continue
            if "placed_at" in changed:
                moved.append(order.placed_at)
            for name, value in changed.items():
                setattr(order, name, value)
            order.updated_at = now
            to_update.append((order, changed))
            results[position] = OrderResult(number, OrderStatus.UPDATED, order=order)
        if to_create:
            created = _insert(
                merchant,
                [(number, values) for _, number, values in to_create],
                now=now,
                with_orders=with_orders,
            )
            for (position, number, _values), order in zip(to_create, created, strict=True):
                results[position] = OrderResult(number, OrderStatus.CREATED, order=order)
        if to_update:
            names = sorted({name for _order, changed in to_update for name in changed})
            Order.objects.bulk_update([order for order, _ in to_update], [*names, "updated_at"])
        # The ended months whose order counts this batch changes (a late feed, a back-fill).
        monthly.months_changed(
            (merchant.pk, moment)
            for moment in [
                *moved,
                *(values["placed_at"] for _, _, values in to_create),
                *(order.placed_at for order, changed in to_update if "placed_at" in changed),
            ]
        )


def _locked(merchant: Merchant, numbers: list[str]) -> dict[str, Order]:
    """The merchant's orders of these numbers, locked, by number."""
    rows: Iterable[Order]
    if connection.vendor == "postgresql":
        # Written as a semi-join so that PostgreSQL looks each number up in the (merchant,
        # number) index. With `merchant_id = X AND order_number IN (...)` it takes the merchant
        # index when its statistics think the merchant small (a new merchant's back-fill), and
        # reads all the merchant's orders for every batch.
        table = connection.ops.quote_name(Order._meta.db_table)
        rows = Order.objects.raw(
            f"SELECT * FROM {table} WHERE (merchant_id, order_number) IN "  # noqa: S608
            f"(SELECT %s, unnest(%s::varchar[])) FOR UPDATE OF {table}",
            [merchant.pk, numbers],
        )
    else:
        rows = Order.objects.select_for_update(of=("self",)).filter(
            merchant=merchant, order_number__in=numbers
        )
    found = {}
    for order in rows:
        order.merchant = merchant  # the one in hand: no join, no copy of it per order
        found[order.order_number] = order
    return found


def _insert(
    merchant: Merchant, new: list[tuple[str, dict[str, Any]]], *, now: datetime, with_orders: bool
) -> list[Order | None]:
    """The new orders stored (with their ids), created and updated at `now`; None for each
    when the caller does not want them (PostgreSQL only builds them on request)."""
    if connection.vendor != "postgresql":
        orders = []
        for number, values in new:
            order = Order(merchant=merchant, order_number=number, **values)
            order.created_at = order.updated_at = now
            orders.append(order)
        Order.objects.bulk_create(orders)
        return list(orders)
    return _copy_in(merchant, new, now=now, with_orders=with_orders)


def _copy_in(
    merchant: Merchant, new: list[tuple[str, dict[str, Any]]], *, now: datetime, with_orders: bool
) -> list[Order | None]:
    """PostgreSQL: ids drawn from the table's sequence, then every column of the rows by COPY.
    A tenth of bulk_create's time for a thousand orders: no SQL is built value by value. The
    rows are those bulk_create writes (each field's default where the order gives no value)."""
    meta = Order._meta
    fields = meta.concrete_fields
    names = [f.attname for f in fields]
    defaults = {f.attname: f.get_default() for f in fields}
    defaults.update(merchant_id=merchant.pk, created_at=now, updated_at=now)
    # A default made by a callable (a list) is made anew for each order that needs it.
    made = [f for f in fields if f.has_default() and callable(f.default)]
    # JSON as text, as JSONField writes it: psycopg's Jsonb wrapper costs more than the rest
    # of the row.
    as_json = [(i, f.encoder) for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    quote = connection.ops.quote_name
    merchant_field = meta.get_field("merchant")
    orders: list[Order | None] = []
    with connection.cursor() as cursor:
        db = cursor.db  # the connection itself, not the per-thread proxy: read per value below
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, str(meta.pk.column), len(new)],
        )
        ids = [pk for (pk,) in cursor.fetchall()]
        columns = ", ".join(quote(str(f.column)) for f in fields)
        with (
            connection.wrap_database_errors,  # psycopg's errors as Django's, as execute() has them
            cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy,
        ):
            for pk, (number, values) in zip(ids, new, strict=True):
                given = {**defaults, **values, meta.pk.attname: pk, "order_number": number}
                for f in made:
                    if f.attname not in values:
                        given[f.attname] = f.get_default()
                row = [given[name] for name in names]
                if with_orders:
                    order = Order.from_db(db.alias, names, row)
                    merchant_field.set_cached_value(order, merchant)
                    orders.append(order)
                else:
                    orders.append(None)
                for i, encoder in as_json:
                    if row[i] is not None:  # None is SQL NULL, as JSONField stores it
                        row[i] = json.dumps(row[i], cls=encoder)
                copy.write_row(row)
    return orders


def order_patch(
    *, merchant: Merchant, order_number: str, changes: Mapping[str, Any], now: datetime
) -> OrderResult:
    """Change some fields of an existing order (shipments, delivery, cancellation, a refund
    outside the portal, the invoice paid, basic protection upgraded to plus)."""
    order = Order.objects.filter(merchant=merchant, order_number=order_number).first()
    if order is None:
        return OrderResult(order_number, OrderStatus.ERROR, error=None)
    current = facts_of(order)
    raw = {**_raw_of(current), **changes, "order_number": order_number}
    (result,) = orders_upsert(merchant=merchant, items=[raw], now=now)
    return result


def facts_of(order: Order) -> OrderFacts:
    return OrderFacts(
        order_number=order.order_number,
        placed_at=order.placed_at,
        amount=order.amount,
        currency=order.currency,
        customer_email=order.customer_email,
        customer_language=order.customer_language,
        is_invoice=order.is_invoice,
        protection_tier=order.protection_tier,
        shipments=tuple(
            Shipment(
                carrier=s.get("carrier", ""),
                tracking_number=s.get("tracking_number", ""),
                shipped_at=parse_datetime(s["shipped_at"]) if s.get("shipped_at") else None,
                delivered_at=parse_datetime(s["delivered_at"]) if s.get("delivered_at") else None,
            )
            for s in order.shipments or []
        ),
        line_summary=order.line_summary,
        paid_at=order.paid_at,
        cancelled_at=order.cancelled_at,
        refunded_outside_amount=order.refunded_outside_amount,
    )


def _raw_of(facts: OrderFacts) -> dict[str, Any]:
    raw = {name: getattr(facts, name) for name in FEED_FIELDS if name != "shipments"}
    raw["shipments"] = [shipment.as_json() for shipment in facts.shipments]
    return raw
