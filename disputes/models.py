from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from .choices import (
    CLOSED_STATES,
    DECISION_OUTCOMES,
    OPEN_STATES,
    ActorKind,
    EventType,
    EvidenceWeight,
    InstructionKind,
    MemberRole,
    Outcome,
    Party,
    PaymentState,
    Program,
    ProtectionStatus,
    ProtectionTier,
    Reason,
    RefundOffer,
    State,
    Visibility,
    WindowDayCount,
)
from .identifiers import new_public_id
from .policies import NEXT_ACTOR, RefundTerms


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class PlatformPartner(models.Model):
    """A shop platform that onboards merchants and may act for them through the API."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Merchant(models.Model):
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    country = models.CharField(_("country"), max_length=2, help_text=_("ISO 3166 code, e.g. NL"))
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Amsterdam", validators=[validate_time_zone]
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    language = models.CharField(
        _("language for emails"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    platform_partner = models.ForeignKey(
        PlatformPartner,
        verbose_name=_("platform partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merchants",
    )
    # A test merchant: the API lets an integrator play the customer and the clock for its
    # orders; it never appears in fees, statements or the support figures.
    test_mode = models.BooleanField(_("test merchant"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(country__regex=r"^[A-Z]{2}$"), name="merchant_country_iso"
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[A-Z]{3}$"), name="merchant_currency_iso"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ContractTerms(models.Model):
    """One version of a merchant's contract: the programs it has, the merchant's window, the fee
    plan. Versions start on a UTC day; a case keeps the version in force when it was opened.
    The rules that read them are in policies.py (`merchant_window_for`, `check_terms`)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="terms")
    valid_from = models.DateField(_("valid from"), help_text=_("First day (UTC) they apply."))
    payment_dispute = models.BooleanField(_("payment disputes"), default=True)
    buyer_protection = models.BooleanField(_("buyer protection"), default=True)
    dispute_window_days = models.PositiveSmallIntegerField(_("merchant window (days)"), default=21)
    dispute_window_day_count = models.CharField(
        _("counted in"),
        max_length=16,
        choices=WindowDayCount.choices,
        default=WindowDayCount.CALENDAR,
    )
    protection_window_days = models.PositiveSmallIntegerField(
        _("buyer protection window (days)"), default=5
    )
    fee_plan = models.CharField(_("fee plan"), max_length=32, default="standard")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contract terms")
        verbose_name_plural = _("contract terms")
        ordering = ["merchant", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "valid_from"], name="terms_one_per_day"),
            models.CheckConstraint(
                condition=Q(payment_dispute=True) | Q(buyer_protection=True),
                name="terms_some_program",
            ),
            models.CheckConstraint(
                condition=Q(dispute_window_days__gte=14, dispute_window_days__lte=21),
                name="terms_dispute_window_in_bounds",
            ),
            models.CheckConstraint(
                condition=Q(protection_window_days=5), name="terms_protection_window_in_bounds"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} from {self.valid_from:%Y-%m-%d}"


class MerchantMembership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices)
    # Which emails this user wants (docs/rules.md §8: merchants choose their emails and reminders).
    notify_new_case = models.BooleanField(_("new case"), default=True)
    notify_reminders = models.BooleanField(_("reminders before a deadline"), default=True)
    notify_escalation = models.BooleanField(_("escalation to support"), default=True)
    notify_decision = models.BooleanField(_("decision or closing of a case"), default=True)
    notify_customer_reply = models.BooleanField(_("customer replied"), default=True)
    notify_monthly_statement = models.BooleanField(_("monthly fee statement"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "merchant"], name="membership_unique"),
            models.CheckConstraint(
                condition=Q(role__in=MemberRole.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class TeamInvitation(models.Model):
    """An owner's invitation to join the team: the person is a member only once they accept.

    The link in the email is signed when the email is sent (portal/emails.py); no token is
    stored. One open invitation per shop and address: inviting again renews it.
    """

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="invitations")
    email = models.CharField(_("email address"), max_length=150)  # lower case, as usernames
    role = models.CharField(_("role"), max_length=16, choices=MemberRole.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("invited at"))
    expires_at = models.DateTimeField(_("valid until"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "email"],
                condition=Q(accepted_at__isnull=True, withdrawn_at__isnull=True),
                name="team_invitation_one_open",
            ),
            models.CheckConstraint(
                condition=Q(role__in=MemberRole.values), name="team_invitation_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["merchant", "-created_at"], name="team_invitation_list")]

    def __str__(self) -> str:
        return f"{self.email} → {self.merchant} ({self.role})"

    def is_open(self, now: datetime) -> bool:
        return self.accepted_at is None and self.withdrawn_at is None and now < self.expires_at


class Order(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="orders")
    order_number = models.CharField(_("order number"), max_length=64)
    placed_at = models.DateTimeField(_("placed at"))
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3)
    customer_email = models.EmailField(_("customer email"))
    customer_language = models.CharField(
        _("customer language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    payment_state = models.CharField(
        _("payment state"),
        max_length=16,
        choices=PaymentState.choices,
        default=PaymentState.ACTIVE,
    )
    protection_tier = models.CharField(
        _("buyer protection"),
        max_length=16,
        choices=ProtectionTier.choices,
        default=ProtectionTier.NONE,
    )
    protection_status = models.CharField(
        _("protection status"),
        max_length=16,
        choices=ProtectionStatus.choices,
        default=ProtectionStatus.NONE,
    )
    # A pay-later invoice (to be paid after delivery) or paid at checkout.
    is_invoice = models.BooleanField(_("pay-later invoice"), default=True)
    shipments = models.JSONField(_("shipments"), default=list, blank=True)
    line_summary = models.TextField(_("what was ordered"), blank=True)
    # What the provider reports through the order feed (not decided here).
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    refunded_outside_amount = models.DecimalField(
        _("refunded outside the portal"), max_digits=14, decimal_places=2, default=0
    )
    # What the order's cases have moved to the customer (the sum of their moved_amount): what
    # is still at stake in a new case is the amount minus this.
    moved_to_customer = models.DecimalField(
        _("moved to the customer by cases"), max_digits=14, decimal_places=2, default=0
    )
    protection_ends_at = models.DateTimeField(_("protection ends at"), null=True, blank=True)
    protection_extended_at = models.DateTimeField(null=True, blank=True)
    protection_checkin_sent_at = models.DateTimeField(null=True, blank=True)
    # The end date the "protection about to end" email was sent for (an extension re-arms it).
    protection_ending_notice_for = models.DateTimeField(null=True, blank=True)
    # When the customer's email was replaced by its pseudonym (retention or an erasure request).
    pseudonymised_at = models.DateTimeField(_("pseudonymised at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "order_number"], name="order_number_unique_per_merchant"
            ),
            models.CheckConstraint(
                condition=Q(refunded_outside_amount__gte=0)
                & Q(refunded_outside_amount__lte=F("amount")),
                name="order_refunded_outside_in_range",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(payment_state__in=PaymentState.values), name="order_payment_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(protection_tier__in=ProtectionTier.values),
                name="order_protection_tier_valid",
            ),
            # An order has a protection period exactly when it has protection.
            models.CheckConstraint(
                condition=(
                    Q(
                        protection_tier=ProtectionTier.NONE,
                        protection_status=ProtectionStatus.NONE,
                        protection_ends_at__isnull=True,
                    )
                    | (
                        ~Q(protection_tier=ProtectionTier.NONE)
                        & ~Q(protection_status=ProtectionStatus.NONE)
                        & Q(protection_ends_at__isnull=False)
                    )
                ),
                name="order_protection_consistent",
            ),
        ]
        indexes = [
            # Orders placed per merchant and period: the dispute rate's denominator.
            models.Index(fields=["merchant", "placed_at"], name="order_merchant_placed"),
            # The API's order list, newest first, a keyset page at a time.
            models.Index(fields=["merchant", "-placed_at", "-id"], name="order_merchant_list"),
            models.Index(fields=["merchant", "updated_at", "id"], name="order_merchant_updated"),
            # Portal search by the customer's email (iexact compares upper-cased values).
            models.Index(Upper("customer_email"), "merchant", name="order_customer_email"),
            # The day-23 check-in and the expiry sweeps read only active protections.
            models.Index(
                fields=["placed_at"],
                condition=Q(protection_status=ProtectionStatus.ACTIVE)
                & Q(protection_checkin_sent_at__isnull=True),
                name="order_checkin_due",
            ),
            models.Index(
                fields=["protection_ends_at"],
                condition=Q(protection_status=ProtectionStatus.ACTIVE),
                name="order_protection_expiry",
            ),
            # The retention job: orders whose customer email is not pseudonymised yet.
            models.Index(
                fields=["placed_at"],
                condition=Q(pseudonymised_at__isnull=True),
                name="order_retention_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.merchant.slug} #{self.order_number}"


class Dispute(FSMModelMixin, models.Model):
    public_id = models.CharField(
        _("case id"), max_length=20, unique=True, default=new_public_id, editable=False
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="disputes")
    # Denormalised from the order: every merchant-scoped list filters on it.
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="disputes")
    program = models.CharField(_("program"), max_length=32, choices=Program.choices)
    reason = models.CharField(_("reason"), max_length=40, choices=Reason.choices)
    customer_message = models.TextField(_("customer's description"))
    customer_language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")

    state = FSMField(
        _("state"), max_length=32, choices=State.choices, default=State.OPENED, protected=True
    )
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.NONE, blank=True
    )
    next_actor = models.CharField(
        _("next to act"), max_length=16, choices=Party.choices, default=Party.NONE, blank=True
    )
    # The current deadline of whoever acts next; NULL when nobody is on a clock.
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    reminder_due_at = models.DateTimeField(null=True, blank=True)
    information_requested_from = models.CharField(
        max_length=16, choices=Party.choices, default=Party.NONE, blank=True
    )

    currency = models.CharField(_("currency"), max_length=3)
    order_amount = models.DecimalField(_("order amount"), max_digits=14, decimal_places=2)
    disputed_amount = models.DecimalField(_("disputed amount"), max_digits=14, decimal_places=2)
    # The merchant's contract version in force when the case was opened (None: the defaults).
    terms = models.ForeignKey(
        ContractTerms,
        verbose_name=_("contract terms"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disputes",
    )
    refund_offer = models.CharField(
        _("refund offer"), max_length=16, choices=RefundOffer.choices, blank=True
    )
    refund_offer_amount = models.DecimalField(
        _("refund offered"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    settled_amount = models.DecimalField(
        _("amount to the customer"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    # What this case has moved to the customer so far (cancelled from the invoice, charged back
    # or refunded), net of what a later decision undid: the instructions' running total.
    moved_amount = models.DecimalField(
        _("moved to the customer"), max_digits=14, decimal_places=2, default=0
    )

    opened_at = models.DateTimeField(_("opened at"))
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decision_reason = models.TextField(_("reason for the decision"), blank=True)
    # The decision's reason code (policies.DECISION_CODES) and, when support decided against a
    # merchant that had not had its say, the written reason for overriding that.
    decision_code = models.CharField(_("decision reason code"), max_length=40, blank=True)
    override_reason = models.TextField(_("reason for deciding unheard"), blank=True)
    # The evidence items each side gave ("merchant:tracking_number"), kept with the case so
    # completeness is read from the row (lists, API) without going through the timeline.
    evidence_provided = models.JSONField(_("evidence given"), default=list, blank=True)
    # Part of every customer link: raising it revokes all links sent so far.
    customer_link_version = models.PositiveIntegerField(default=1)
    # Support desk: who works the case, the customer's return, the merchant's one appeal.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    return_shipped_at = models.DateTimeField(_("goods sent back at"), null=True, blank=True)
    # Support found an unauthorized purchase to be fraud: the merchant pays no dispute fee.
    fraud_proven = models.BooleanField(_("proven fraud"), default=False)
    appealed_at = models.DateTimeField(_("appealed at"), null=True, blank=True)
    reopened_at = models.DateTimeField(_("reopened at"), null=True, blank=True)
    appealed_decision_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("appealed decision was by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # When the parties' words were replaced by a marker and the documents removed (retention
    # or an erasure request): the case itself, its money and its dates stay.
    pseudonymised_at = models.DateTimeField(_("pseudonymised at"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("decide_dispute", "Can decide cases and ask the parties for information"),
            ("assign_dispute", "Can assign cases to any support colleague"),
            ("decide_appeal", "Can decide a merchant's appeal"),
            ("reopen_dispute", "Can reopen a decided or settled case"),
            ("hold_dispute", "Can place and lift a legal hold on a case"),
            ("handle_personal_data", "Can export and erase a customer's personal data"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(state__in=OPEN_STATES),
                name="one_open_dispute_per_order",
            ),
            models.CheckConstraint(condition=Q(state__in=State.values), name="dispute_state_valid"),
            models.CheckConstraint(
                condition=Q(program__in=Program.values), name="dispute_program_valid"
            ),
            models.CheckConstraint(
                condition=Q(order_amount__gte=0)
                & Q(disputed_amount__gte=0)
                & Q(disputed_amount__lte=F("order_amount")),
                name="dispute_disputed_amount_in_range",
            ),
            models.CheckConstraint(
                condition=Q(refund_offer_amount__isnull=True)
                | (Q(refund_offer_amount__gte=0) & Q(refund_offer_amount__lte=F("order_amount"))),
                name="dispute_refund_offer_in_range",
            ),
            models.CheckConstraint(
                condition=Q(settled_amount__isnull=True)
                | (Q(settled_amount__gte=0) & Q(settled_amount__lte=F("order_amount"))),
                name="dispute_settled_amount_in_range",
            ),
            # The outcome matches the state: open cases have none, each way out has its own.
            models.CheckConstraint(
                condition=Q(state__in=OPEN_STATES, outcome=Outcome.NONE)
                | Q(state=State.DECIDED, outcome__in=DECISION_OUTCOMES)
                | Q(state=State.RESOLVED, outcome=Outcome.AGREEMENT)
                | Q(state=State.WITHDRAWN, outcome=Outcome.WITHDRAWN),
                name="dispute_outcome_matches_state",
            ),
            # Whoever must act on a clock has a deadline.
            models.CheckConstraint(
                condition=~Q(
                    state__in=[
                        State.AWAITING_MERCHANT,
                        State.AWAITING_CUSTOMER,
                        State.INFO_REQUESTED,
                        State.AWAITING_RETURN,
                    ]
                )
                | Q(due_at__isnull=False),
                name="dispute_waiting_has_deadline",
            ),
            # A decision always carries its written reason (decided_by is empty only when the
            # rules decided, e.g. a merchant who did not answer support in time).
            models.CheckConstraint(
                condition=~Q(state=State.DECIDED) | ~Q(decision_reason=""),
                name="dispute_decision_has_reason",
            ),
        ]
        indexes = [
            # The retention job: closed cases whose personal data is still there.
            models.Index(
                fields=["closed_at"],
                condition=Q(pseudonymised_at__isnull=True, closed_at__isnull=False),
                name="dispute_retention_due",
            ),
            # The deadline sweeps: "state = X and due_at <= now" is one index range scan.
            models.Index(fields=["state", "due_at"], name="dispute_state_due"),
            models.Index(
                fields=["reminder_due_at"],
                condition=Q(reminder_due_at__isnull=False),
                name="dispute_reminder_due",
            ),
            # The merchant's work queue: a tab is "who acts next", each one an ordered range scan
            # (needs your response / waiting for the customer by deadline, support by age).
            models.Index(
                fields=["merchant", "next_actor", "due_at", "id"], name="dispute_merchant_queue"
            ),
            models.Index(
                fields=["merchant", "next_actor", "escalated_at", "id"],
                name="dispute_merchant_support",
            ),
            models.Index(
                fields=["merchant", "-closed_at", "-id"],
                condition=Q(closed_at__isnull=False),
                name="dispute_merchant_closed",
            ),
            # Cases opened per merchant and period; `reason` rides along so the dashboard's
            # reasons-by-month chart is read from the index alone.
            models.Index(
                fields=["merchant", "opened_at"],
                include=["reason"],
                name="dispute_merchant_opened",
            ),
            # The dashboard's open cases by state: only the open ones, a small part of a shop's.
            models.Index(
                fields=["merchant", "state"],
                condition=Q(state__in=OPEN_STATES),
                name="dispute_merchant_open_state",
            ),
            # The support desk's queue: cases with support, oldest escalation first.
            models.Index(
                fields=["escalated_at", "id"],
                condition=Q(state__in=["escalated", "info_requested"]),
                name="dispute_support_queue",
            ),
        ]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- Transitions: they only change fields; services own locking, saving and effects. -----

    @transition(field=state, source=State.OPENED, target=State.AWAITING_MERCHANT)
    def start_merchant_window(self, *, due_at: datetime, reminder_due_at: datetime | None) -> None:
        self.next_actor = NEXT_ACTOR[State.AWAITING_MERCHANT]
        self.due_at = due_at
        self.reminder_due_at = reminder_due_at

    @transition(
        field=state,
        source=[State.OPENED, State.AWAITING_MERCHANT, State.AWAITING_CUSTOMER],
        target=State.ESCALATED,
    )
    def escalate(self, *, now: datetime) -> None:
        self.next_actor = NEXT_ACTOR[State.ESCALATED]
        self.escalated_at = now
        self.due_at = None
        self.reminder_due_at = None

    @transition(field=state, source=State.AWAITING_MERCHANT, target=State.AWAITING_CUSTOMER)
    def make_offer(
        self, *, terms: RefundTerms, due_at: datetime, reminder_due_at: datetime | None
    ) -> None:
        self.refund_offer = terms.offer
        self.refund_offer_amount = terms.amount
        self.next_actor = NEXT_ACTOR[State.AWAITING_CUSTOMER]
        self.due_at = due_at
        self.reminder_due_at = reminder_due_at

    @transition(field=state, source=State.AWAITING_MERCHANT, target=State.RESOLVED)
    def accept_dispute(self, *, now: datetime) -> None:
        self.refund_offer = RefundOffer.FULL
        self.refund_offer_amount = self.disputed_amount
        self._close(now=now, outcome=Outcome.AGREEMENT, settled_amount=self.disputed_amount)

    @transition(field=state, source=State.AWAITING_CUSTOMER, target=State.RESOLVED)
    def settle(self, *, now: datetime) -> None:
        self._close(
            now=now,
            outcome=Outcome.AGREEMENT,
            settled_amount=self.refund_offer_amount or Decimal("0.00"),
        )

    @transition(field=state, source=State.ESCALATED, target=State.INFO_REQUESTED)
    def request_information(self, *, party: Party, due_at: datetime) -> None:
        self.information_requested_from = party
        self.next_actor = party
        self.due_at = due_at

    @transition(field=state, source=State.INFO_REQUESTED, target=State.ESCALATED)
    def return_to_support(self) -> None:
        self.information_requested_from = Party.NONE
        self.next_actor = NEXT_ACTOR[State.ESCALATED]
        self.due_at = None

    @transition(field=state, source=[State.ESCALATED, State.INFO_REQUESTED], target=State.DECIDED)
    def decide(
        self,
        *,
        now: datetime,
        outcome: Outcome,
        settled_amount: Decimal,
        reason: str,
        decided_by_id: int | None,
        fraud_proven: bool = False,
        code: str = "",
        override_reason: str = "",
    ) -> None:
        self.decision_reason = reason
        self.decision_code = code
        self.override_reason = override_reason
        self.fraud_proven = fraud_proven
        self.decided_by_id = decided_by_id
        self.information_requested_from = Party.NONE
        self._close(now=now, outcome=outcome, settled_amount=settled_amount)

    @transition(
        field=state, source=[State.ESCALATED, State.INFO_REQUESTED], target=State.AWAITING_RETURN
    )
    def decide_return(
        self,
        *,
        amount: Decimal,
        reason: str,
        decided_by_id: int | None,
        due_at: datetime,
        code: str = "",
        override_reason: str = "",
    ) -> None:
        """Support decides "refund after the goods are returned": the customer ships first."""
        self.refund_offer = RefundOffer.AFTER_RETURN
        self.refund_offer_amount = amount
        self.decision_reason = reason
        self.decision_code = code
        self.override_reason = override_reason
        self.decided_by_id = decided_by_id
        self.information_requested_from = Party.NONE
        self.next_actor = Party.CUSTOMER
        self.due_at = due_at
        self.reminder_due_at = None

    @transition(field=state, source=State.AWAITING_RETURN, target=State.AWAITING_RETURN)
    def mark_return_shipped(self, *, now: datetime, due_at: datetime) -> None:
        self.return_shipped_at = now
        self.next_actor = Party.MERCHANT
        self.due_at = due_at

    @transition(field=state, source=State.AWAITING_RETURN, target=State.DECIDED)
    def close_return(self, *, now: datetime, goods_back: bool) -> None:
        """Goods received (or shipped and not confirmed in time): the refund is made.
        Never shipped in time: decided for the merchant."""
        if goods_back:
            self._close(
                now=now,
                outcome=Outcome.CUSTOMER,
                settled_amount=self.refund_offer_amount or self.disputed_amount,
            )
        else:
            self.decision_code = "goods_not_returned"
            self._close(now=now, outcome=Outcome.MERCHANT, settled_amount=Decimal("0.00"))

    @transition(field=state, source=State.DECIDED, target=State.ESCALATED)
    def appeal(self, *, now: datetime) -> None:
        """Back to support's queue, to be decided again by someone else."""
        self.appealed_at = now
        self.appealed_decision_by_id = self.decided_by_id
        self.decided_by_id = None
        self.decision_reason = ""
        self.decision_code = ""
        self.override_reason = ""
        self.outcome = Outcome.NONE
        self.settled_amount = None
        self.closed_at = None
        self.escalated_at = now
        self.next_actor = Party.SUPPORT

    @transition(field=state, source=[State.DECIDED, State.RESOLVED], target=State.ESCALATED)
    def reopen(self, *, now: datetime) -> None:
        """Support takes a closed case back (with a written reason): it is open again, with
        support, and is decided anew; no fee is charged again."""
        self.decided_by_id = None
        self.decision_reason = ""
        self.decision_code = ""
        self.override_reason = ""
        self.fraud_proven = False
        self.outcome = Outcome.NONE
        self.settled_amount = None
        self.closed_at = None
        self.escalated_at = now
        self.reopened_at = now
        self.next_actor = Party.SUPPORT
        self.due_at = None
        self.reminder_due_at = None

    @transition(field=state, source=list(OPEN_STATES), target=State.WITHDRAWN)
    def withdraw(self, *, now: datetime) -> None:
        self.information_requested_from = Party.NONE
        self._close(now=now, outcome=Outcome.WITHDRAWN, settled_amount=Decimal("0.00"))

    def _close(self, *, now: datetime, outcome: Outcome, settled_amount: Decimal) -> None:
        self.outcome = outcome
        self.settled_amount = settled_amount
        self.next_actor = Party.NONE
        self.due_at = None
        self.reminder_due_at = None
        self.closed_at = now


# Every field a transition may change: services save exactly these.
TRANSITION_FIELDS = [
    "state",
    "outcome",
    "next_actor",
    "due_at",
    "reminder_due_at",
    "information_requested_from",
    "refund_offer",
    "refund_offer_amount",
    "settled_amount",
    "escalated_at",
    "closed_at",
    "decided_by",
    "decision_reason",
    "decision_code",
    "override_reason",
    "evidence_provided",
    "return_shipped_at",
    "fraud_proven",
    "appealed_at",
    "appealed_decision_by",
    "reopened_at",
    "moved_amount",
    "updated_at",
]
assert set(CLOSED_STATES) | set(OPEN_STATES) == set(State.values)  # noqa: S101


class AppendOnlyQuerySet(models.QuerySet):
    """For records that are written once and never changed: the timeline, the instructions."""

    def update(self, **kwargs: object) -> int:
        raise TypeError("These records are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("These records are append-only.")


class TimelineQuerySet(AppendOnlyQuerySet):
    def redact(self, **changes: object) -> int:
        """The one change the timeline allows: its personal text replaced by the marker, once
        (disputes.privacy.removal; the PostgreSQL trigger refuses anything else)."""
        return super(AppendOnlyQuerySet, self).update(**changes)


class DisputeEvent(models.Model):
    """One entry of a case's timeline. Never changed or deleted (enforced on PostgreSQL too)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="events")
    event_type = models.CharField(_("event"), max_length=32, choices=EventType.choices)
    actor_kind = models.CharField(_("by"), max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(_("actor id"), max_length=64, blank=True)
    message = models.TextField(_("message"), blank=True)
    visibility = models.CharField(
        _("visible to"), max_length=16, choices=Visibility.choices, default=Visibility.BOTH
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"))
    # The hash chain (disputes.privacy.chain): each event's hash covers the previous event's,
    # so an altered, removed or inserted row shows. The personal text enters the hash only as
    # its own digest, so that redacting it under the retention policy keeps the chain whole.
    personal_digest = models.CharField(max_length=64, db_default="", default="")
    previous_hash = models.CharField(max_length=64, db_default="", default="")
    hash = models.CharField(max_length=64, db_default="", default="")
    # Set once, when the personal text was replaced by the marker: the only change allowed.
    redacted_at = models.DateTimeField(_("personal text removed at"), null=True, blank=True)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dispute", "created_at"], name="event_timeline")]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=Visibility.values), name="event_visibility_valid"
            ),
            models.CheckConstraint(
                condition=Q(actor_kind__in=ActorKind.values), name="event_actor_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.event_type} @ {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise TypeError("The dispute timeline is append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise TypeError("The dispute timeline is append-only.")


def attachment_path(instance: Attachment, filename: str) -> str:
    # The stored name never contains the uploaded name: no traversal, no collisions.
    return f"disputes/{instance.dispute.public_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="attachments")
    event = models.ForeignKey(
        DisputeEvent, on_delete=models.PROTECT, related_name="attachments", null=True
    )
    file = models.FileField(upload_to=attachment_path)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=64)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.CharField(_("uploaded by"), max_length=16, choices=ActorKind.choices)
    # The checklist item the document proves (policies.EVIDENCE), empty for a plain document.
    evidence_item = models.CharField(_("proves"), max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the file was deleted under the retention policy; the row keeps size and hash.
    erased_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(size__gt=0), name="attachment_not_empty"),
        ]

    def __str__(self) -> str:
        return self.original_name


class LegalHold(models.Model):
    """Support's legal hold on a case: while one is in force nothing of the case is deleted or
    pseudonymised, neither by the retention job nor by an erasure request."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="legal_holds")
    reason = models.TextField(_("reason"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    placed_at = models.DateTimeField(_("placed at"))
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    lift_reason = models.TextField(_("reason for lifting"), blank=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            # One hold in force per case: a second reason is added to the first, not stacked.
            models.UniqueConstraint(
                fields=["dispute"], condition=Q(lifted_at__isnull=True), name="one_legal_hold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} hold @ {self.placed_at:%Y-%m-%d}"


class PersonalDataRequest(models.Model):
    """The log of support's exports and erasures for a customer: who, when, and what was
    done, kept under the customer's pseudonym (never the email itself)."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export")
        ERASURE = "erasure", _("Erasure")

    kind = models.CharField(_("request"), max_length=16, choices=Kind.choices)
    pseudonym = models.CharField(_("customer pseudonym"), max_length=80, db_index=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled at"))
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-handled_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pseudonym} @ {self.handled_at:%Y-%m-%d}"


class DecisionAssessment(models.Model):
    """One evidence item of one side as support weighed it in a decision: the itemised record
    both parties read, and what the evidence figures count. A later decision of the same case
    (after an appeal or a reopening) marks the earlier rows as no longer current; the decision's
    timeline event keeps each record as it was."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="assessments")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=40, choices=Reason.choices)
    party = models.CharField(_("side"), max_length=16, choices=Party.choices)
    item = models.CharField(_("evidence item"), max_length=40)
    provided = models.BooleanField(_("given"))
    weight = models.CharField(_("weight"), max_length=16, choices=EvidenceWeight.choices)
    note = models.TextField(_("why"), blank=True)
    current = models.BooleanField(default=True)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["reason", "party", "item"],
                condition=Q(current=True),
                name="assessment_figures",
            ),
            models.Index(
                fields=["merchant", "reason"],
                condition=Q(current=True),
                name="assessment_merchant_figures",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__in=EvidenceWeight.values), name="assessment_weight_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.party}:{self.item} {self.weight}"


class InstructionSequence(models.Model):
    """The one counter that numbers payment instructions: locked, incremented and written by the
    transaction that writes them, so the numbers have no gaps and follow commit order."""

    last = models.BigIntegerField(default=0)
    # Orders up to this id existed before the portal wrote instructions (set when they were
    # introduced): their earlier decisions have none, so the ledger check leaves them out.
    orders_before = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return str(self.last)


class PaymentInstruction(models.Model):
    """An effect on an order's money or invoice that the portal decided, for the provider.

    Written in the transaction of the change that causes it; `sequence` numbers them without
    gaps across the whole portal; the provider pulls them in order or receives them signed.
    """

    sequence = models.BigIntegerField(unique=True)
    public_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(_("instruction"), max_length=32, choices=InstructionKind.choices)
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="instructions")
    dispute = models.ForeignKey(
        Dispute, null=True, blank=True, on_delete=models.PROTECT, related_name="instructions"
    )
    event = models.ForeignKey(
        DisputeEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The fee line (standard fee) or statement line (surcharge, waiver, credit) a fee
    # instruction stands for.
    fee_line = models.ForeignKey(
        "billing.FeeLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    statement_line = models.ForeignKey(
        "billing.StatementLine", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    livemode = models.BooleanField(default=True)  # False for a test merchant's orders
    created_at = models.DateTimeField(_("created at"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["order", "sequence"], name="instruction_order"),
            models.Index(fields=["merchant", "sequence"], name="instruction_merchant"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=InstructionKind.values), name="instruction_kind_valid"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="instruction_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.kind} {self.amount} {self.currency}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None and not self._state.adding:
            raise TypeError("Payment instructions are never changed.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class MerchantMonth(models.Model):
    """A merchant's figures for one calendar month that has ended in every time zone, kept so
    that the dashboard does not count a year of cases on each view (disputes/monthly.py keeps
    them: built on first need, marked stale by whatever changes them)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    month = models.DateField()  # its first day
    # Raised by each change to the month's cases or orders; a build stores its figures only if
    # no change came between its reading this number and its write.
    generation = models.PositiveBigIntegerField(default=0)
    fresh = models.BooleanField(default=False)
    # Cases opened in the month in this time zone (the merchant's when built), per reason.
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    opened_by_reason = models.JSONField(default=dict)
    # The dispute rate's two numbers for the month in UTC, as statements count them.
    claims = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "month"], name="merchant_month_unique")
        ]

    def __str__(self) -> str:
        return f"{self.merchant_id} {self.month:%Y-%m}"
