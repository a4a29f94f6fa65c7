"""Buyer protection on the order: the day-23 check-in, the ending notice, expiry, extension,
and ending it early."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext

from notifications.services import EmailNotice, outbox_enqueue

from ..actors import Actor
from ..choices import (
    OPEN_STATES,
    Program,
    ProtectionAnswer,
    ProtectionStatus,
)
from ..links import protection_answer_url
from ..models import Dispute, Order
from ..policies import (
    CHECKIN_AFTER_DAYS,
    EXTENSION_DAYS,
    PROTECTION_ENDING_NOTICE_DAYS,
    ExtensionDecision,
    ProtectionEnd,
    protection_extension,
)
from .cases import dispute_withdraw
from .machinery import (
    now_or_current,
)


def _sweep_orders(
    candidates: QuerySet[Order],
    *,
    mark: Callable[[Order], None],
    marked_field: str,
    notice_kind: str,
    now: datetime,
    batch_size: int | None,
) -> int:
    """Mark each candidate order and email its customer, one locked batch per transaction.

    `mark` changes `marked_field` so the order leaves `candidates`: a rerun sends nothing.
    """
    size = batch_size or settings.SWEEP_BATCH_SIZE
    done = 0
    while True:
        with transaction.atomic():
            batch = list(
                candidates.select_for_update(skip_locked=True, of=("self",))
                .select_related("merchant")
                .order_by("pk")[:size]
            )
            if not batch:
                return done
            for order in batch:
                mark(order)
                order.updated_at = now
            Order.objects.bulk_update(batch, [marked_field, "updated_at"])
            outbox_enqueue(notices=[_order_notice(order, notice_kind) for order in batch], now=now)
        done += len(batch)
        if len(batch) < size:
            return done


def order_send_protection_checkins(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """Day 23: ask each protected customer whether everything went well (once per order)."""
    now = now_or_current(now)

    def mark(order: Order) -> None:
        order.protection_checkin_sent_at = now

    return _sweep_orders(
        Order.objects.filter(
            protection_status=ProtectionStatus.ACTIVE,
            protection_checkin_sent_at__isnull=True,
            placed_at__lte=now - timedelta(days=CHECKIN_AFTER_DAYS),
            protection_ends_at__gt=now,
        ).exclude(disputes__state__in=OPEN_STATES),
        mark=mark,
        marked_field="protection_checkin_sent_at",
        notice_kind="customer_protection_checkin",
        now=now,
        batch_size=batch_size,
    )


def order_send_protection_ending_notices(
    *, now: datetime | None = None, batch_size: int | None = None
) -> int:
    """A few days before protection ends, tell the customer (once per end date)."""
    now = now_or_current(now)

    def mark(order: Order) -> None:
        order.protection_ending_notice_for = order.protection_ends_at

    return _sweep_orders(
        Order.objects.filter(
            protection_status=ProtectionStatus.ACTIVE,
            protection_ends_at__gt=now,
            protection_ends_at__lte=now + timedelta(days=PROTECTION_ENDING_NOTICE_DAYS),
        )
        .exclude(protection_ending_notice_for=F("protection_ends_at"))
        .exclude(disputes__state__in=OPEN_STATES),
        mark=mark,
        marked_field="protection_ending_notice_for",
        notice_kind="customer_protection_ending",
        now=now,
        batch_size=batch_size,
    )


def order_expire_protection(*, now: datetime | None = None) -> int:
    """Protection ends at day 30 (60 after an extension): one set-based UPDATE."""
    now = now_or_current(now)
    return Order.objects.filter(
        protection_status=ProtectionStatus.ACTIVE, protection_ends_at__lte=now
    ).update(protection_status=ProtectionStatus.EXPIRED, updated_at=now)


def order_extend_protection(*, order: Order, now: datetime | None = None) -> ExtensionDecision:
    """Extend protection once by 30 days (plus and one-time); basic must upgrade first."""
    with transaction.atomic():
        order = Order.objects.select_for_update().select_related("merchant").get(pk=order.pk)
        now = now_or_current(now)
        decision = protection_extension(
            tier=order.protection_tier,
            status=order.protection_status,
            ends_at=order.protection_ends_at,
            extended=order.protection_extended_at is not None,
            now=now,
        )
        if decision == ExtensionDecision.GRANTED:
            assert order.protection_ends_at is not None  # noqa: S101 - guaranteed by the policy
            order.protection_ends_at += timedelta(days=EXTENSION_DAYS)
            order.protection_extended_at = now
            order.save(update_fields=["protection_ends_at", "protection_extended_at", "updated_at"])
            outbox_enqueue(notices=[_order_notice(order, "customer_protection_extended")], now=now)
    return decision


def order_end_protection(
    *, order: Order, withdraw_case: bool = False, now: datetime | None = None
) -> ProtectionEnd:
    """The customer says all went well: protection ends early.

    With a buyer-protection case open, "all fine" withdraws it, but only once the customer
    confirmed that (`withdraw_case`); until then nothing changes and CONFIRM_WITHDRAWAL says a
    confirmation is needed. A case under appeal is not withdrawn (TransitionNotAllowed).
    """
    now = now_or_current(now)
    with transaction.atomic():
        open_case = Dispute.objects.filter(
            order_id=order.pk, program=Program.BUYER_PROTECTION, state__in=OPEN_STATES
        ).first()
        if open_case is not None:
            if not withdraw_case:
                return ProtectionEnd.CONFIRM_WITHDRAWAL
            # Locks the case, then its order, as every service does.
            dispute_withdraw(
                dispute=open_case,
                actor=Actor.customer(order.customer_email),
                message=gettext("All went well: the customer ended the buyer protection."),
                now=now,
            )
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.protection_status != ProtectionStatus.ACTIVE:
            return ProtectionEnd.NOT_ACTIVE
        order.protection_status = ProtectionStatus.ENDED
        order.updated_at = now
        order.save(update_fields=["protection_status", "updated_at"])
    return ProtectionEnd.ENDED


def _order_notice(order: Order, kind: str) -> EmailNotice:
    return EmailNotice(
        kind=kind,
        recipient=order.customer_email,
        dedupe_key=f"{kind}:order:{order.pk}:{order.protection_ends_at:%Y%m%d}",
        language=order.customer_language,
        time_zone=order.merchant.time_zone,
        context={
            "merchant_name": order.merchant.name,
            "order_number": order.order_number,
            "order_placed_at": order.placed_at.isoformat(),
            "answer_urls": {
                answer: protection_answer_url(order, answer) for answer in ProtectionAnswer.values
            },
            "protection_ends_at": order.protection_ends_at.isoformat()
            if order.protection_ends_at
            else None,
        },
    )
