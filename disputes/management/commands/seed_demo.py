"""Demo data for `make run`: two merchants, their users, orders and cases in every state.

Idempotent: a second run finds the demo merchants, resets the demo passwords and adds nothing.
Every case is made through the real services with a back-dated clock, so its timeline, fees
and emails are exactly what the live system would have produced.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from disputes import services
from disputes.actors import Actor
from disputes.choices import (
    CustomerReply,
    EvidenceWeight,
    MemberRole,
    Outcome,
    Party,
    Program,
    ProtectionStatus,
    ProtectionTier,
    Reason,
    RefundOffer,
)
from disputes.links import customer_case_url
from disputes.models import Dispute, Merchant, MerchantMembership, Order
from disputes.policies import (
    EVIDENCE_PARTIES,
    Assessment,
    evidence_for,
    protection_ends_at,
    round_money,
)
from disputes.signals import demo_seeded

SUPPORT_LOGIN = ("support@example.com", "demo-support-pass")
MERCHANTS = [
    {
        "slug": "demo-shop",
        "name": "Demo Shop",
        "country": "NL",
        "time_zone": "Europe/Amsterdam",
        "currency": "EUR",
        "language": "nl",
        "users": [
            ("owner@demo-shop.example", "demo-owner-pass", MemberRole.OWNER),
            ("agent@demo-shop.example", "demo-agent-pass", MemberRole.AGENT),
        ],
    },
    {
        "slug": "nordic-outdoor",
        "name": "Nordic Outdoor",
        "country": "FI",
        "time_zone": "Europe/Helsinki",
        "currency": "EUR",
        "language": "fi",
        "users": [
            ("owner@nordic-outdoor.example", "demo-owner-pass", MemberRole.OWNER),
        ],
    },
]


class Command(BaseCommand):
    help = "Load demo merchants, users, orders and disputes in every state (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        with transaction.atomic():
            support, _ = User.objects.get_or_create(
                username=SUPPORT_LOGIN[0],
                defaults={"email": SUPPORT_LOGIN[0], "is_staff": True, "is_superuser": True},
            )
            support.set_password(SUPPORT_LOGIN[1])
            support.save()
            created: list[Merchant] = []
            for spec in MERCHANTS:
                merchant, is_new = Merchant.objects.get_or_create(
                    slug=spec["slug"],
                    defaults={
                        key: spec[key]
                        for key in ("name", "country", "time_zone", "currency", "language")
                    },
                )
                for email, password, role in spec["users"]:
                    user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
                    user.set_password(password)
                    user.save()
                    MerchantMembership.objects.get_or_create(
                        user=user, merchant=merchant, defaults={"role": role}
                    )
                if is_new:
                    created.append(merchant)
                    _DemoCases(merchant, support_id=support.pk, seed=len(spec["slug"])).build()
            if created:
                # Last month's statements and a (switched off) webhook endpoint: billing and
                # the API add them (disputes.signals.demo_seeded).
                demo_seeded.send(sender=self.__class__, merchants=created, now=timezone.now())
        created_any = bool(created)

        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready." if created_any else "Demo data already present; passwords reset."
            )
        )
        site = settings.SITE_URL
        self.stdout.write(f"  Support desk: {site}/admin/")
        self.stdout.write(f"    {SUPPORT_LOGIN[0]} / {SUPPORT_LOGIN[1]}")
        self.stdout.write(f"  Merchant portal: {site}/portal/")
        for spec in MERCHANTS:
            for email, password, role in spec["users"]:
                self.stdout.write(f"    {email} / {password}  ({spec['name']}, {role})")
        self.stdout.write(f"  Customer side: {site}/open/ with, for example:")
        free_orders = Order.objects.filter(merchant__slug="demo-shop", disputes__isnull=True)
        for label, orders in (
            ("payment dispute", free_orders.filter(protection_tier=ProtectionTier.NONE)),
            ("buyer protection", free_orders.filter(protection_status=ProtectionStatus.ACTIVE)),
        ):
            order = orders.order_by("-placed_at").first()
            if order is not None:
                self.stdout.write(
                    f"    Demo Shop, order {order.order_number}, {order.customer_email} ({label})"
                )
        self.stdout.write("  A customer's private link to one case in each state (Demo Shop):")
        cases = Dispute.objects.filter(merchant__slug="demo-shop").select_related("order")
        shown: set[tuple[str, str]] = set()
        for dispute in cases.order_by("program", "state", "id"):
            if (dispute.program, dispute.state) in shown:
                continue
            shown.add((dispute.program, dispute.state))
            self.stdout.write(
                f"    {dispute.get_program_display()}, {dispute.get_state_display()}: "
                f"{customer_case_url(dispute)}"
            )


class _DemoCases:
    def __init__(self, merchant: Merchant, *, support_id: int, seed: int) -> None:
        self.merchant = merchant
        self.support = Actor.staff(user_id=support_id)
        self.random = random.Random(seed)
        self.now = timezone.now()
        self.count = 0
        user_id = merchant.memberships.values_list("user_id", flat=True).first()
        assert user_id is not None  # noqa: S101 - every demo merchant has a user
        self.merchant_user_id: int = user_id

    @property
    def merchant_actor(self) -> Actor:
        return Actor.merchant_user(user_id=self.merchant_user_id, merchant_id=self.merchant.pk)

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def order(self, *, days_ago: float, tier: str = ProtectionTier.NONE) -> Order:
        self.count += 1
        placed_at = self.ago(days_ago)
        protected = tier != ProtectionTier.NONE
        return Order.objects.create(
            merchant=self.merchant,
            order_number=f"{self.merchant.slug[:2].upper()}-{10000 + self.count}",
            placed_at=placed_at,
            amount=Decimal(self.random.randrange(1500, 45000)) / 100,
            currency=self.merchant.currency,
            customer_email=f"customer{self.count}@{self.merchant.slug}.example",
            customer_language=self.random.choice(["en", "nl", "fi", "sv", "de"]),
            protection_tier=tier,
            protection_status=ProtectionStatus.ACTIVE if protected else ProtectionStatus.NONE,
            protection_ends_at=protection_ends_at(placed_at) if protected else None,
        )

    def open(self, order: Order, program: str, reason: str, *, days_ago: float) -> Any:
        return services.dispute_open(
            order=order,
            program=program,
            reason=reason,
            message="The parcel never arrived although the tracking says delivered.",
            now=self.ago(days_ago),
        )

    def escalate_overdue(self, dispute: Any, *, days_ago: float) -> None:
        """The sweep as it ran `days_ago`, or when `dispute`'s window closed if that is later: a
        window ends with the shop's local day, a day later when the case was opened in the hours
        after the shop's midnight that are still yesterday in UTC."""
        dispute.refresh_from_db(fields=["due_at"])
        moment = self.ago(days_ago)
        if dispute.due_at is not None:
            moment = max(moment, dispute.due_at)
        services.dispute_escalate_overdue(now=moment)

    def record(
        self, dispute: Any, code: str, decisive: dict[tuple[str, str], str] | None = None
    ) -> dict[str, Any]:
        """A decision's itemised record: the `decisive` items with their line, the rest of both
        sides' checklists weighed as considered but insufficient."""
        decisive = decisive or {}
        return {
            "code": code,
            "assessments": [
                Assessment(party, entry.key, EvidenceWeight.DECISIVE, decisive[(party, entry.key)])
                if (party, entry.key) in decisive
                else Assessment(party, entry.key, EvidenceWeight.INSUFFICIENT)
                for party in EVIDENCE_PARTIES
                for entry in evidence_for(dispute.program, dispute.reason, party)
            ],
        }

    def decide_return(self, dispute: Any, code: str) -> None:
        """Support decides "refund after the goods are returned" on a case that went straight
        to support: without the shop's say, so with a written override."""
        services.dispute_decide_return(
            dispute=dispute,
            actor=self.support,
            reason="The shop refunds once the goods are back.",
            override_reason="The facts are clear from the customer's documents; the shop can "
            "still appeal with its own records.",
            **self.record(dispute, code),
            now=self.ago(1),
        )

    def customer(self, dispute: Any) -> Actor:
        return Actor.customer(dispute.order.customer_email)

    def build(self) -> None:
        pd, bp = Program.PAYMENT_DISPUTE, Program.BUYER_PROTECTION
        plus = ProtectionTier.PLUS

        # Payment disputes
        self.open(self.order(days_ago=5), pd, Reason.NOT_RECEIVED, days_ago=2)
        # Left unanswered past its 21 days: the running beat escalates it within a minute.
        self.open(self.order(days_ago=30), pd, Reason.FAULTY, days_ago=23)
        dispute = self.open(self.order(days_ago=15), pd, Reason.WRONG_AMOUNT, days_ago=10)
        services.dispute_respond(
            dispute=dispute,
            actor=self.merchant_actor,
            refund=RefundOffer.PARTIAL,
            amount=round_money(dispute.order_amount / 2, dispute.currency),
            message="We refund the price difference.",
            now=self.ago(5),
        )
        self.open(self.order(days_ago=3), pd, Reason.UNAUTHORIZED, days_ago=1)
        dispute = self.open(self.order(days_ago=40), pd, Reason.OTHER, days_ago=35)
        self.escalate_overdue(dispute, days_ago=13)
        services.dispute_request_information(
            dispute=dispute,
            actor=self.support,
            party=Party.MERCHANT,
            message="Please send the proof of delivery.",
            now=self.ago(1),
        )
        dispute = self.open(self.order(days_ago=60), pd, Reason.NOT_RECEIVED, days_ago=50)
        self.escalate_overdue(dispute, days_ago=28)
        services.dispute_decide(
            dispute=dispute,
            actor=self.support,
            outcome=Outcome.CUSTOMER,
            reason="The merchant could not show that the parcel was delivered.",
            **self.record(
                dispute,
                "no_proof_of_delivery",
                {(Party.MERCHANT, "proof_of_delivery"): "No delivery confirmation was sent."},
            ),
            now=self.ago(20),
        )
        dispute = self.open(self.order(days_ago=20), pd, Reason.RETURNED_NOT_REFUNDED, days_ago=12)
        services.dispute_accept(
            dispute=dispute,
            actor=self.merchant_actor,
            message="Return received, refunded.",
            now=self.ago(11),
        )
        self.decide_return(
            self.open(self.order(days_ago=3), pd, Reason.UNAUTHORIZED, days_ago=2), "not_authorised"
        )
        dispute = self.open(self.order(days_ago=9), pd, Reason.OTHER, days_ago=8)
        services.dispute_withdraw(
            dispute=dispute,
            actor=self.customer(dispute),
            message="Solved with the shop.",
            now=self.ago(7),
        )

        # Buyer protection
        self.open(self.order(days_ago=10, tier=plus), bp, Reason.NOT_RECEIVED, days_ago=1)
        dispute = self.open(
            self.order(days_ago=12, tier=plus), bp, Reason.NO_REFUND_AFTER_RETURN, days_ago=6
        )
        services.dispute_respond(
            dispute=dispute,
            actor=self.merchant_actor,
            refund=RefundOffer.NONE,
            amount=None,
            message="We have not received the return yet.",
            now=self.ago(4),
        )
        dispute = self.open(self.order(days_ago=20, tier=plus), bp, Reason.NOT_RECEIVED, days_ago=9)
        services.dispute_respond(
            dispute=dispute,
            actor=self.merchant_actor,
            refund=RefundOffer.NONE,
            amount=None,
            message="Tracking shows delivery.",
            evidence=[
                services.EvidenceInput("carrier", "DHL"),
                services.EvidenceInput("tracking_number", "JVGL0DEMO42"),
            ],
            now=self.ago(8),
        )
        services.dispute_customer_reply(
            dispute=dispute,
            actor=self.customer(dispute),
            reply=CustomerReply.DISAGREE,
            message="It was never delivered to me.",
            now=self.ago(7),
        )
        dispute = self.open(
            self.order(days_ago=25, tier=ProtectionTier.BASIC),
            bp,
            Reason.NOT_RECEIVED,
            days_ago=20,
        )
        self.escalate_overdue(dispute, days_ago=14)
        services.dispute_add_evidence(
            dispute=dispute,
            actor=self.merchant_actor,
            evidence=[
                services.EvidenceInput("carrier", "PostNL"),
                services.EvidenceInput("tracking_number", "3SDEMO0001234"),
            ],
            message="Delivered with a signature; the carrier's record shows the name.",
            now=self.ago(10),
        )
        services.dispute_decide(
            dispute=dispute,
            actor=self.support,
            outcome=Outcome.MERCHANT,
            reason="The carrier confirmed delivery with a signature.",
            **self.record(
                dispute,
                "delivery_proven",
                {(Party.MERCHANT, "tracking_number"): "The tracking shows a signed delivery."},
            ),
            now=self.ago(3),
        )
        dispute = self.open(self.order(days_ago=14, tier=plus), bp, Reason.NOT_RECEIVED, days_ago=8)
        services.dispute_respond(
            dispute=dispute,
            actor=self.merchant_actor,
            refund=RefundOffer.FULL,
            amount=None,
            message="Sorry, we refunded you in full.",
            now=self.ago(7),
        )
        services.dispute_customer_reply(
            dispute=dispute,
            actor=self.customer(dispute),
            reply=CustomerReply.RECEIVED_REFUND,
            now=self.ago(6),
        )
        dispute = self.open(self.order(days_ago=6, tier=plus), bp, Reason.OTHER_REQUEST, days_ago=5)
        services.dispute_request_information(
            dispute=dispute,
            actor=self.support,
            party=Party.CUSTOMER,
            message="Could you describe your request in more detail?",
            now=self.ago(2),
        )
        dispute = self.open(self.order(days_ago=7, tier=plus), bp, Reason.NOT_RECEIVED, days_ago=4)
        services.dispute_withdraw(dispute=dispute, actor=self.customer(dispute), now=self.ago(3))
        self.decide_return(
            self.open(self.order(days_ago=8, tier=plus), bp, Reason.OTHER_REQUEST, days_ago=7),
            "other",
        )

        # Protected orders without a case: the day-23 check-in goes out on the next beat.
        self.order(days_ago=24, tier=plus)
        self.order(days_ago=2, tier=ProtectionTier.ONE_TIME)
        # Plain orders to dispute from the public form.
        for days_ago in (1, 3, 8):
            self.order(days_ago=days_ago)
