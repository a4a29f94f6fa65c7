"""Factories for the domain. Disputes are opened through the real service, never inserted."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from disputes import services
from disputes.actors import Actor
from disputes.choices import (
    EvidenceWeight,
    MemberRole,
    Program,
    ProtectionStatus,
    ProtectionTier,
    Reason,
)
from disputes.models import Dispute, Merchant, MerchantMembership, Order
from disputes.policies import EVIDENCE_PARTIES, Assessment, evidence_for, protection_ends_at


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}@shop.example")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("correct horse battery staple")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")
    country = "NL"
    time_zone = "Europe/Amsterdam"
    currency = "EUR"
    language = "en"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantMembership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = MemberRole.OWNER


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    merchant = factory.SubFactory(MerchantFactory)
    order_number = factory.Sequence(lambda n: f"ORD-{10000 + n}")
    placed_at = factory.LazyFunction(timezone.now)
    amount = Decimal("100.00")
    currency = "EUR"
    customer_email = factory.Sequence(lambda n: f"customer{n}@mail.example")
    customer_language = "en"

    class Params:
        protected = factory.Trait(
            protection_tier=ProtectionTier.PLUS,
            protection_status=ProtectionStatus.ACTIVE,
            protection_ends_at=factory.LazyAttribute(lambda o: protection_ends_at(o.placed_at)),
        )


def open_dispute(
    *,
    order: Order | None = None,
    program: str = Program.PAYMENT_DISPUTE,
    reason: str = Reason.NOT_RECEIVED,
    message: str = "The parcel never arrived.",
    now: datetime | None = None,
    **order_fields: Any,
) -> Dispute:
    if order is None:
        if program == Program.BUYER_PROTECTION:
            order_fields.setdefault("protected", True)
        if now is not None:
            order_fields.setdefault("placed_at", now)
        order = OrderFactory(**order_fields)
    return services.dispute_open(
        order=order, program=program, reason=reason, message=message, now=now
    )


def merchant_actor(merchant: Merchant) -> Actor:
    membership = MembershipFactory(merchant=merchant)
    return Actor.merchant_user(user_id=membership.user_id, merchant_id=merchant.pk)


def staff_actor() -> Actor:
    user = UserFactory(is_staff=True)
    return Actor.staff(user_id=user.pk)


def customer_actor(dispute: Dispute) -> Actor:
    return Actor.customer(dispute.order.customer_email)


def decision_marks(dispute: Dispute, *, override: bool = True) -> dict[str, Any]:
    """What `dispute_decide` needs besides the outcome: every evidence item of both sides
    weighed (as not relevant), the catch-all code, and (unless `override` is False) a written
    override for a merchant that has not had its say (ignored when it has)."""
    marks: dict[str, Any] = {
        "code": "other",
        "assessments": [
            Assessment(party, entry.key, EvidenceWeight.NOT_RELEVANT)
            for party in EVIDENCE_PARTIES
            for entry in evidence_for(dispute.program, dispute.reason, party)
        ],
    }
    if override:
        marks["override_reason"] = "The facts are clear without the merchant's answer."
    return marks


def desk_decision_marks(dispute: Dispute, prefix: str = "decide") -> dict[str, str]:
    """The same marks as the desk's decision form posts them."""
    fields = {f"{prefix}-code": "other"}
    for party in EVIDENCE_PARTIES:
        for entry in evidence_for(dispute.program, dispute.reason, party):
            fields[f"{prefix}-mark_{party}_{entry.key}"] = EvidenceWeight.NOT_RELEVANT
    fields[f"{prefix}-override_reason"] = "The facts are clear without the merchant's answer."
    return fields
