"""The rules of the two programs, as pure functions and frozen data.

No ORM and no clock here: callers pass `now`. This module is where a reader learns the business
rules (docs/rules.md §2 to §7); models and services only apply what it says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from .choices import (
    OPEN_STATES,
    ActorKind,
    CustomerReply,
    EventType,
    EvidenceKind,
    EvidenceWeight,
    InstructionKind,
    Outcome,
    Party,
    PaymentState,
    Program,
    ProtectionAnswer,
    ProtectionStatus,
    ProtectionTier,
    Reason,
    RefundOffer,
    State,
)
from .errors import (
    CaseAlreadyClosed,
    DecisionIncomplete,
    InvalidAmount,
    InvalidChoice,
    InvalidTerms,
    NotEligible,
)

# --- Deadlines -----------------------------------------------------------------------------------


class DayCount(StrEnum):
    CALENDAR = "calendar"
    WORKING = "working"


@dataclass(frozen=True)
class Window:
    days: int
    day_count: DayCount = DayCount.CALENDAR


@lru_cache(maxsize=64)
def _holidays_for(country: str, year: int) -> frozenset[date]:
    try:
        return frozenset(holiday_calendars.country_holidays(country, years=year).keys())
    except NotImplementedError:  # a country the package does not know: weekends only
        return frozenset()


def is_working_day(day: date, country: str) -> bool:
    return day.weekday() < 5 and day not in _holidays_for(country, day.year)


def add_working_days(start: date, days: int, country: str) -> date:
    day = start
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day, country):
            remaining -= 1
    return day


def deadline_after(start: datetime, window: Window, *, time_zone: str, country: str) -> datetime:
    """The instant a window that starts at `start` closes, in UTC.

    A window of N days runs to the end of the N-th day after the start day, in the merchant's
    local time: opened on 1 March at 10:00 with 21 days, it is open until 22 March 23:59:59.
    The returned instant is the next local midnight; the window is open while now < deadline.
    """
    tz = ZoneInfo(time_zone)
    start_day = start.astimezone(tz).date()
    if window.day_count is DayCount.CALENDAR:
        last_day = start_day + timedelta(days=window.days)
    else:
        last_day = add_working_days(start_day, window.days, country)
    closes = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)
    return closes.astimezone(UTC)


def deadline_for_display(deadline: datetime, time_zone: str) -> datetime:
    """The moment to show people: a window that closes as a local day begins reads as the last
    minute of the day before ("until 25 October 23:59"), not as the next day's first moment.

    Measured in UTC, not on the wall clock: where a daylight-saving change falls at midnight
    (America/Santiago), the next day begins at 01:00 or repeats 23:00, and the last minute of
    the window's day is still the minute before the deadline.
    """
    tz = ZoneInfo(time_zone)
    local = deadline.astimezone(tz)
    day_begins_here = (deadline - timedelta(microseconds=1)).astimezone(tz).date() != local.date()
    return (deadline - timedelta(minutes=1)).astimezone(tz) if day_begins_here else local


def is_open(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now < deadline


def reminder_times(deadline: datetime, days_before: Iterable[int]) -> list[datetime]:
    return sorted(deadline - timedelta(days=d) for d in days_before)


def next_reminder_at(
    deadline: datetime | None, days_before: Iterable[int], *, after: datetime
) -> datetime | None:
    """The first reminder strictly after `after`, or None when no reminder is left.

    A sweep that runs late and passed several reminder times sends one reminder, not a burst.
    """
    if deadline is None:
        return None
    upcoming = [t for t in reminder_times(deadline, days_before) if after < t < deadline]
    return upcoming[0] if upcoming else None


def days_left(deadline: datetime, now: datetime) -> int:
    """Whole days left, rounded up: 1 hour left is "1 day left", not zero."""
    seconds = (deadline - now).total_seconds()
    return max(0, -int(-seconds // 86400))


# --- Programs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonRule:
    reason: Reason
    # No merchant window: the case goes to support when opened (unauthorized purchase).
    straight_to_support: bool = False
    # Whether an escalation of this case costs the merchant a dispute fee.
    charges_fee: bool = True
    # "No refund after cancellation" refused by the merchant skips the customer's step.
    escalate_when_refused: bool = False
    # A claim against the merchant: it counts towards the dispute rate ("another request", a
    # message to support, does not).
    is_claim: bool = True


@dataclass(frozen=True)
class ProgramPolicy:
    program: Program
    merchant_window: Window  # the default; a merchant's contract terms may set another
    # What contract terms may set the merchant's window to: days (inclusive) and how counted.
    merchant_window_days: tuple[int, int]
    merchant_window_day_counts: frozenset[DayCount]
    customer_window: Window
    information_window: Window
    merchant_reminder_days: tuple[int, ...]
    customer_reminder_days: tuple[int, ...]
    pauses_invoice: bool
    reasons: tuple[ReasonRule, ...]

    def rule_for(self, reason: str) -> ReasonRule:
        for rule in self.reasons:
            if rule.reason == reason:
                return rule
        raise InvalidChoice(field="reason")

    @property
    def reason_choices(self) -> list[Reason]:
        return [rule.reason for rule in self.reasons]


PAYMENT_DISPUTE = ProgramPolicy(
    program=Program.PAYMENT_DISPUTE,
    merchant_window=Window(21),
    # "14 - 21 werkdagen": contracts may set 14 to 21 days, calendar or working days.
    merchant_window_days=(14, 21),
    merchant_window_day_counts=frozenset({DayCount.CALENDAR, DayCount.WORKING}),
    customer_window=Window(20),
    information_window=Window(5, DayCount.WORKING),
    merchant_reminder_days=(7, 3, 1),
    customer_reminder_days=(3,),
    pauses_invoice=True,
    reasons=(
        ReasonRule(Reason.NOT_RECEIVED),
        ReasonRule(Reason.RETURNED_NOT_REFUNDED),
        ReasonRule(Reason.WRONG_AMOUNT),
        ReasonRule(Reason.FAULTY),
        ReasonRule(Reason.UNAUTHORIZED, straight_to_support=True),
        ReasonRule(Reason.OTHER),
    ),
)

BUYER_PROTECTION = ProgramPolicy(
    program=Program.BUYER_PROTECTION,
    merchant_window=Window(5),  # calendar days, not working days
    merchant_window_days=(5, 5),
    merchant_window_day_counts=frozenset({DayCount.CALENDAR}),
    customer_window=Window(20),
    information_window=Window(5, DayCount.WORKING),
    merchant_reminder_days=(2, 1),
    customer_reminder_days=(3,),
    pauses_invoice=False,
    reasons=(
        ReasonRule(Reason.NOT_RECEIVED),
        ReasonRule(Reason.NO_REFUND_AFTER_RETURN),
        ReasonRule(Reason.NO_REFUND_AFTER_CANCELLATION, escalate_when_refused=True),
        # "Another request" is a message to support, not a claim against the merchant.
        ReasonRule(
            Reason.OTHER_REQUEST, straight_to_support=True, charges_fee=False, is_claim=False
        ),
    ),
)

PROGRAMS: dict[str, ProgramPolicy] = {
    Program.PAYMENT_DISPUTE: PAYMENT_DISPUTE,
    Program.BUYER_PROTECTION: BUYER_PROTECTION,
}


# The reasons that are claims against the merchant (in every program that has them): the
# dispute rate counts these.
CLAIM_REASONS: frozenset[str] = frozenset(
    rule.reason
    for policy in (PAYMENT_DISPUTE, BUYER_PROTECTION)
    for rule in policy.reasons
    if rule.is_claim
) - frozenset(
    rule.reason
    for policy in (PAYMENT_DISPUTE, BUYER_PROTECTION)
    for rule in policy.reasons
    if not rule.is_claim
)


def policy_for(program: str) -> ProgramPolicy:
    try:
        return PROGRAMS[program]
    except KeyError:
        raise InvalidChoice(field="program") from None


# --- Contract terms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """A merchant's contract as the rules read it (ContractTerms holds the versions)."""

    payment_dispute: bool = True
    buyer_protection: bool = True
    dispute_window_days: int = PAYMENT_DISPUTE.merchant_window.days
    dispute_window_day_count: DayCount = PAYMENT_DISPUTE.merchant_window.day_count
    protection_window_days: int = BUYER_PROTECTION.merchant_window.days
    fee_plan: str = "standard"


DEFAULT_TERMS = Terms()


def check_terms(terms: Terms) -> None:
    """Raise InvalidTerms (naming the field) unless the terms are within the programs' bounds."""
    if not (terms.payment_dispute or terms.buyer_protection):
        raise InvalidTerms(gettext("A merchant has at least one program."), field="programs")
    low, high = PAYMENT_DISPUTE.merchant_window_days
    if not low <= terms.dispute_window_days <= high:
        raise InvalidTerms(
            gettext("The payment-dispute window is %(low)s to %(high)s days.")
            % {"low": low, "high": high},
            field="dispute_window_days",
        )
    if terms.dispute_window_day_count not in PAYMENT_DISPUTE.merchant_window_day_counts:
        raise InvalidTerms(field="dispute_window_day_count")
    low, high = BUYER_PROTECTION.merchant_window_days
    if not low <= terms.protection_window_days <= high:
        raise InvalidTerms(
            gettext("The buyer-protection window is %(days)s calendar days.") % {"days": low},
            field="protection_window_days",
        )


def program_offered(program: str, terms: Terms) -> bool:
    return terms.payment_dispute if program == Program.PAYMENT_DISPUTE else terms.buyer_protection


def merchant_window_for(program: str, terms: Terms) -> Window:
    """The merchant's window for a new case of this program under these terms."""
    if program == Program.PAYMENT_DISPUTE:
        return Window(terms.dispute_window_days, DayCount(terms.dispute_window_day_count))
    return Window(terms.protection_window_days)


# Refund after return (support's decision): the customer ships within RETURN_WINDOW, the
# merchant confirms receipt within RETURN_CONFIRM_WINDOW of the shipment.
RETURN_WINDOW = Window(14)
RETURN_CONFIRM_WINDOW = Window(14)
# A merchant may appeal a decision once, within this many days, with new information; like
# every window it runs to the end of its last day in the merchant's time zone.
APPEAL_DAYS = 14
APPEAL_WINDOW = Window(APPEAL_DAYS)


def appeal_deadline(closed_at: datetime, *, time_zone: str, country: str) -> datetime:
    return deadline_after(closed_at, APPEAL_WINDOW, time_zone=time_zone, country=country)


def appeal_open(
    *, closed_at: datetime | None, appealed: bool, now: datetime, time_zone: str, country: str
) -> bool:
    if closed_at is None or appealed:
        return False
    return now < appeal_deadline(closed_at, time_zone=time_zone, country=country)


def under_appeal(*, state: str, appealed: bool) -> bool:
    """The merchant's appeal is with support: the customer can no longer withdraw the case,
    only add a statement, so a decision under review cannot be undone from the side."""
    return appealed and state in OPEN_STATES


NEXT_ACTOR: dict[str, Party] = {
    State.OPENED: Party.NONE,
    State.AWAITING_MERCHANT: Party.MERCHANT,
    State.AWAITING_CUSTOMER: Party.CUSTOMER,
    State.ESCALATED: Party.SUPPORT,
    State.DECIDED: Party.NONE,
    State.RESOLVED: Party.NONE,
    State.WITHDRAWN: Party.NONE,
    # INFO_REQUESTED: whoever support asked; set by the transition.
}


# --- Money ---------------------------------------------------------------------------------------

# ISO 4217 minor units for the currencies that differ from the usual two.
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "JOD": 3}


# What a money column holds (14 digits, 2 decimals); anything larger is not a real amount.
MAX_AMOUNT = Decimal("1000000000000")


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (EUR 0.005 -> 0.01)."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """A money amount from user input: a non-negative number with at most the minor unit."""
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT:
            raise InvalidAmount(field=field)
        rounded = round_money(amount, currency)
    except (InvalidOperation, ValueError):
        raise InvalidAmount(field=field) from None
    if amount != rounded:
        raise InvalidAmount(field=field)
    return rounded


# --- One history per order --------------------------------------------------------------------


@dataclass(frozen=True)
class PastCase:
    """A case the order already had, as the history rules see it."""

    public_id: str
    program: str
    state: str


# A case that ended in one of these states is the order's last word on its program: no new case
# of that program is opened for the order (support may reopen that one). A withdrawn case is no
# such word: the customer may open a new one while the program allows it.
FINAL_STATES = frozenset({State.DECIDED, State.RESOLVED})


def final_case_of(program: str, history: Iterable[PastCase]) -> PastCase | None:
    return next(
        (case for case in history if case.program == program and case.state in FINAL_STATES),
        None,
    )


def can_reopen(*, state: str, order_has_open_case: bool) -> bool:
    """Support may reopen a decided or settled case, unless the order has another open one."""
    return state in FINAL_STATES and not order_has_open_case


# --- Dispute rate -------------------------------------------------------------------------------

# Above this share of disputes to orders, the elevated fee applies (docs/rules.md §7).
ELEVATED_RATE_THRESHOLD = Decimal("0.015")
# Merchants are warned once their rate reaches this share of the threshold.
WARNING_SHARE = Decimal("0.8")


def dispute_rate(*, disputes_opened: int, orders_placed: int) -> Decimal | None:
    """Disputes opened in a period divided by orders placed in it; None when there were no
    orders (no rate, rather than a division error)."""
    if orders_placed <= 0:
        return None
    return Decimal(disputes_opened) / Decimal(orders_placed)


def rate_standing(rate: Decimal | None) -> str:
    """ "above" the threshold, "warning" when close to it, "ok" otherwise or without a rate."""
    if rate is None:
        return "ok"
    if rate > ELEVATED_RATE_THRESHOLD:
        return "above"
    if rate >= ELEVATED_RATE_THRESHOLD * WARNING_SHARE:
        return "warning"
    return "ok"


# --- The merchant's answer and the customer's reply ----------------------------------------------


@dataclass(frozen=True)
class RefundTerms:
    offer: RefundOffer
    amount: Decimal


def refund_terms(
    offer: str, amount: Decimal | None, *, order_amount: Decimal, currency: str
) -> RefundTerms:
    """Check a merchant's refund offer and normalise it.

    A "full" refund is the order amount; "partial" is more than zero and less than the order
    amount; "after return" is at most the order amount (default: all of it); "none" is zero.
    """
    if offer not in RefundOffer.values:
        raise InvalidChoice(field="refund")
    if offer == RefundOffer.NONE:
        return RefundTerms(RefundOffer.NONE, Decimal("0.00"))
    if amount is None:
        if offer == RefundOffer.PARTIAL:
            raise InvalidAmount(field="amount")
        amount = order_amount
    amount = parse_amount(amount, currency)
    if amount > order_amount:
        raise InvalidAmount(_refund_above_order_message(order_amount, currency), field="amount")
    if amount == 0:
        raise InvalidAmount(field="amount")
    if offer == RefundOffer.FULL and amount != order_amount:
        raise InvalidAmount(field="amount")
    if offer == RefundOffer.PARTIAL and amount == order_amount:
        return RefundTerms(RefundOffer.FULL, amount)
    return RefundTerms(RefundOffer(offer), amount)


def _refund_above_order_message(order_amount: Decimal, currency: str) -> str:
    return gettext("The refund cannot be more than the order amount (%(amount)s %(currency)s).") % {
        "amount": order_amount,
        "currency": currency,
    }


class ReplyEffect(StrEnum):
    RESOLVE = "resolve"
    ESCALATE = "escalate"


CUSTOMER_REPLIES: dict[str, dict[str, ReplyEffect]] = {
    RefundOffer.FULL: {
        CustomerReply.RECEIVED_REFUND: ReplyEffect.RESOLVE,
        CustomerReply.REFUND_NOT_RECEIVED: ReplyEffect.ESCALATE,
    },
    RefundOffer.PARTIAL: {
        CustomerReply.RECEIVED_REFUND: ReplyEffect.RESOLVE,
        CustomerReply.REFUND_NOT_RECEIVED: ReplyEffect.ESCALATE,
        CustomerReply.REJECT_PARTIAL: ReplyEffect.ESCALATE,
    },
    RefundOffer.AFTER_RETURN: {
        CustomerReply.RECEIVED_REFUND: ReplyEffect.RESOLVE,
        CustomerReply.REFUND_NOT_RECEIVED: ReplyEffect.ESCALATE,
    },
    RefundOffer.NONE: {
        CustomerReply.ACCEPT_NO_REFUND: ReplyEffect.RESOLVE,
        CustomerReply.DISAGREE: ReplyEffect.ESCALATE,
    },
}
# A customer who lets the 20 days pass without a word is taken to accept the offer.
SILENCE_EFFECT = ReplyEffect.RESOLVE


def _reply_table(offer: str, partial: bool) -> dict[str, ReplyEffect]:
    table = CUSTOMER_REPLIES.get(offer, {})
    if offer == RefundOffer.AFTER_RETURN and partial:
        # Less than the order back after a return is a partial refund: it may be refused.
        table = CUSTOMER_REPLIES[RefundOffer.PARTIAL]
    return table


def customer_replies_for(offer: str, *, partial: bool = False) -> list[str]:
    """The customer's choices for an offer; `partial` when less than the disputed amount."""
    return list(_reply_table(offer, partial))


def customer_reply_effect(offer: str, reply: str, *, partial: bool = False) -> ReplyEffect:
    try:
        return _reply_table(offer, partial)[reply]
    except KeyError:
        raise InvalidChoice(field="reply") from None


def skips_customer_step(rule: ReasonRule, terms: RefundTerms) -> bool:
    return rule.escalate_when_refused and terms.offer == RefundOffer.NONE


# --- Money and invoice effects, as payment instructions -----------------------------------------
#
# An order is an unpaid invoice (active, paused, or cancelled in the end) or paid (at checkout,
# or the invoice was paid). What a case moves to the customer is cancelled from an unpaid
# invoice, and charged back (decided) or refunded (agreed) when paid. Every effect is a
# `MoneyEffect`, written as a payment instruction for the provider in the same transaction.


@dataclass(frozen=True)
class MoneyEffect:
    kind: InstructionKind
    amount: Decimal


MONEY_TO_CUSTOMER = frozenset(
    {InstructionKind.CANCEL_INVOICE, InstructionKind.CHARGE_BACK, InstructionKind.REFUND}
)
MONEY_BACK_FROM_CUSTOMER = frozenset(
    {InstructionKind.REACTIVATE_INVOICE, InstructionKind.REVERSE_CHARGEBACK}
)
PAID_STATES = frozenset({PaymentState.PAID, PaymentState.CHARGED_BACK, PaymentState.REFUNDED})
# The money went back in full, one way or another: nothing is left to dispute or protect.
SETTLED_STATES = frozenset(
    {PaymentState.CHARGED_BACK, PaymentState.REFUNDED, PaymentState.CANCELLED}
)


def initial_payment_state(*, is_invoice: bool) -> PaymentState:
    return PaymentState.ACTIVE if is_invoice else PaymentState.PAID


def payment_on_open(
    current: str, policy: ProgramPolicy, *, outstanding: Decimal
) -> tuple[PaymentState, list[MoneyEffect]]:
    """A payment dispute on an active invoice pauses it: the customer need not pay meanwhile."""
    if policy.pauses_invoice and current == PaymentState.ACTIVE:
        return PaymentState.PAUSED, [MoneyEffect(InstructionKind.PAUSE_INVOICE, outstanding)]
    return PaymentState(current), []


def at_stake_for(
    *, amount: Decimal, moved_by_other_cases: Decimal, refunded_outside: Decimal, cancelled: bool
) -> Decimal:
    """What one case can still move to the customer: the order's amount less what its other
    cases moved and what the provider refunded outside the portal; nothing once the provider
    cancelled the order (nothing is owed, nothing was paid)."""
    if cancelled:
        return Decimal("0.00")
    return max(amount - moved_by_other_cases - refunded_outside, Decimal("0.00"))


def moved_on_close(outcome: str, settled_amount: Decimal, *, at_stake: Decimal) -> Decimal:
    """What a closed case moves to the customer: its settled amount, never more than is still
    at stake (a refund the provider made meanwhile is not paid a second time)."""
    if outcome not in MONEY_OUTCOMES:
        return Decimal("0.00")
    return min(settled_amount, at_stake)


def payment_on_close(
    current: str,
    *,
    outcome: str,
    settled_amount: Decimal,
    already_moved: Decimal,
    at_stake: Decimal,
) -> tuple[PaymentState, list[MoneyEffect]]:
    """What a closed case does to the order's money, and the instructions that say so.

    `already_moved` is what earlier decisions of this same case moved to the customer (a case
    decided again after an appeal or a reopening moves only the difference); `at_stake` is what
    this case could move at most (`at_stake_for`). Decided for the customer or settled with a
    refund: an unpaid invoice is cancelled by that amount; a paid order is charged back (a
    decision) or refunded (an agreement). Nothing to the customer: a paused invoice is payable
    again, and an earlier cancellation or chargeback is undone. When the provider refunded or
    cancelled the whole order meanwhile, nothing is left to move and nothing changes.
    """
    to_customer = moved_on_close(outcome, settled_amount, at_stake=at_stake)
    delta = to_customer - already_moved
    effects: list[MoneyEffect] = []
    if at_stake <= 0 and delta == 0:
        return PaymentState(current), effects
    if current in PAID_STATES:
        if delta > 0:
            kind = (
                InstructionKind.REFUND
                if outcome == Outcome.AGREEMENT
                else InstructionKind.CHARGE_BACK
            )
            effects.append(MoneyEffect(kind, delta))
        elif delta < 0:
            effects.append(MoneyEffect(InstructionKind.REVERSE_CHARGEBACK, -delta))
        if to_customer == 0:
            return PaymentState.PAID, effects
        if outcome == Outcome.AGREEMENT:
            full = to_customer == at_stake
            return (PaymentState.REFUNDED if full else PaymentState.PAID), effects
        return PaymentState.CHARGED_BACK, effects
    # An unpaid invoice: what goes to the customer is cancelled from it.
    if delta > 0:
        effects.append(MoneyEffect(InstructionKind.CANCEL_INVOICE, delta))
    remaining = at_stake - to_customer
    if remaining <= 0:
        return PaymentState.CANCELLED, effects
    if current != PaymentState.ACTIVE or delta < 0:
        # Paused, or (partly) cancelled before: the customer must pay `remaining` again.
        effects.append(MoneyEffect(InstructionKind.REACTIVATE_INVOICE, remaining))
    return PaymentState.ACTIVE, effects


# The outcomes that move money to the customer (the settled amount).
MONEY_OUTCOMES = frozenset({Outcome.CUSTOMER, Outcome.SPLIT, Outcome.AGREEMENT})


class ReportedPayment(StrEnum):
    """What the provider reports through the order feed (its own doing, not an instruction)."""

    PAID = "paid"
    CANCELLED = "cancelled"
    REFUNDED_IN_FULL = "refunded_in_full"


def payment_on_report(current: str, report: ReportedPayment) -> PaymentState:
    """The order's payment after the provider reports an invoice paid, an order cancelled or
    refunded in full outside the portal. A report that changes nothing leaves it as it is."""
    if report == ReportedPayment.PAID:
        return (
            PaymentState.PAID
            if current in (PaymentState.ACTIVE, PaymentState.PAUSED)
            else PaymentState(current)
        )
    if current in PAID_STATES:
        return PaymentState.REFUNDED if current == PaymentState.PAID else PaymentState(current)
    return PaymentState.CANCELLED


def settled_amount_for_decision(
    outcome: str, amount: Decimal | None, *, disputed_amount: Decimal, currency: str
) -> Decimal:
    """The amount support's decision moves to the customer."""
    if outcome == Outcome.MERCHANT:
        return Decimal("0.00")
    if outcome == Outcome.CUSTOMER:
        if amount is None:
            return disputed_amount
        settled = _checked(amount, disputed_amount, currency)
        if settled == 0:  # a decision for the customer that moves nothing is not one
            raise InvalidAmount(field="amount")
        return settled
    if outcome == Outcome.SPLIT:
        if amount is None:
            raise InvalidAmount(field="amount")
        settled = _checked(amount, disputed_amount, currency)
        if not 0 < settled < disputed_amount:
            raise InvalidAmount(field="amount")
        return settled
    raise InvalidChoice(field="outcome")


def _checked(amount: Decimal, limit: Decimal, currency: str) -> Decimal:
    value = parse_amount(amount, currency)
    if value > limit:
        raise InvalidAmount(_refund_above_order_message(limit, currency), field="amount")
    return value


# --- Buyer protection ----------------------------------------------------------------------------

PROTECTION_DAYS = 30
CHECKIN_AFTER_DAYS = 23
EXTENSION_DAYS = 30
EXTENDABLE_TIERS = frozenset({ProtectionTier.PLUS, ProtectionTier.ONE_TIME})
# "Your protection ends soon" goes out this many days before the end.
PROTECTION_ENDING_NOTICE_DAYS = 3


# The check-in answers that open a case; "all fine" ends the protection, "extend" extends it.
PROTECTION_ANSWERS_OPENING_A_CASE = frozenset(
    {ProtectionAnswer.NOT_RECEIVED, ProtectionAnswer.NO_REFUND, ProtectionAnswer.OTHER_REQUEST}
)


def protection_ends_at(placed_at: datetime) -> datetime:
    return placed_at + timedelta(days=PROTECTION_DAYS)


def protection_checkin_at(placed_at: datetime) -> datetime:
    return placed_at + timedelta(days=CHECKIN_AFTER_DAYS)


def protection_is_active(
    *, tier: str, status: str, ends_at: datetime | None, now: datetime
) -> bool:
    return (
        tier != ProtectionTier.NONE
        and status == ProtectionStatus.ACTIVE
        and ends_at is not None
        and now < ends_at
    )


class ExtensionDecision(StrEnum):
    GRANTED = "granted"
    UPGRADE_REQUIRED = "upgrade_required"
    ALREADY_EXTENDED = "already_extended"
    NOT_ACTIVE = "not_active"


def protection_extension(
    *, tier: str, status: str, ends_at: datetime | None, extended: bool, now: datetime
) -> ExtensionDecision:
    """Extending protection once by 30 days: granted for plus and one-time, basic must upgrade."""
    if not protection_is_active(tier=tier, status=status, ends_at=ends_at, now=now):
        return ExtensionDecision.NOT_ACTIVE
    if extended:
        return ExtensionDecision.ALREADY_EXTENDED
    if tier not in EXTENDABLE_TIERS:
        return ExtensionDecision.UPGRADE_REQUIRED
    return ExtensionDecision.GRANTED


def check_program_eligibility(
    program: str,
    *,
    payment_state: str,
    tier: str,
    protection_status: str,
    protection_ends_at: datetime | None,
    history: Iterable[PastCase],
    now: datetime,
    support_email: str,
    terms: Terms = DEFAULT_TERMS,
) -> None:
    """Raise NotEligible when an order cannot get a case of this program now: the shop's
    contract does not have the program, the order's history decided it already, the money went
    back, or (buyer protection) it is not active."""
    if program not in (Program.PAYMENT_DISPUTE, Program.BUYER_PROTECTION):
        raise InvalidChoice(field="program")
    if not program_offered(program, terms):
        raise NotEligible(
            gettext("This shop does not offer buyer protection.")
            if program == Program.BUYER_PROTECTION
            else gettext("This shop's payment disputes are not handled here.")
        )
    final = final_case_of(program, history)
    if final is not None:
        raise CaseAlreadyClosed(
            final.public_id, _case_closed_message(program, final.public_id, support_email)
        )
    if payment_state in SETTLED_STATES:
        raise NotEligible(_already_settled_message())
    if program == Program.BUYER_PROTECTION and not protection_is_active(
        tier=tier, status=protection_status, ends_at=protection_ends_at, now=now
    ):
        raise NotEligible(_protection_inactive_message())


def protection_ended_by(*, program: str, outcome: str, payment_state: str) -> bool:
    """Buyer protection ends when its case ends (decided, or settled by agreement) and when the
    order's money goes back (charged back or refunded, by any case). A withdrawn case, or a
    payment dispute that leaves the invoice to be paid, leaves it running."""
    if payment_state in SETTLED_STATES:
        return True
    return program == Program.BUYER_PROTECTION and outcome in (
        Outcome.MERCHANT,
        Outcome.CUSTOMER,
        Outcome.SPLIT,
        Outcome.AGREEMENT,
    )


class ProtectionEnd(StrEnum):
    """What "all fine, end my protection" did."""

    ENDED = "ended"
    NOT_ACTIVE = "not_active"
    # A buyer-protection case is open: ending the protection withdraws it, once confirmed.
    CONFIRM_WITHDRAWAL = "confirm_withdrawal"


def _case_closed_message(program: str, public_id: str, support_email: str) -> str:
    values = {"case": public_id, "support": support_email}
    if program == Program.BUYER_PROTECTION:
        return (
            gettext(
                "This order already had a buyer protection case, %(case)s, and it is closed. "
                "A new one cannot be opened for the same order. If something has changed, "
                "write to support at %(support)s with the case number: support can reopen it."
            )
            % values
        )
    return (
        gettext(
            "This order already had a payment dispute, %(case)s, and it is closed. "
            "A new one cannot be opened for the same order. If something has changed, "
            "write to support at %(support)s with the case number: support can reopen it."
        )
        % values
    )


def _already_settled_message() -> str:
    return gettext("This order has already been refunded, charged back or its invoice cancelled.")


def _protection_inactive_message() -> str:
    return gettext(
        "This order has no active buyer protection: it was not taken at checkout, "
        "it has ended, or its protection period is over."
    )


# --- Evidence per reason -------------------------------------------------------------------------
#
# For each program, reason and side: the evidence that supports that side's account, each item
# with a label and a line of help, and whether it is essential. The merchant's answer and the
# customer's forms show the list; completeness counts the essential items given; the decision
# record weighs every item of both sides (docs/rules.md §10).


@dataclass(frozen=True)
class EvidenceItem:
    key: str
    label: Promise
    help: Promise
    kind: EvidenceKind = EvidenceKind.DOCUMENT


@dataclass(frozen=True)
class ChecklistItem:
    item: EvidenceItem
    essential: bool

    @property
    def key(self) -> str:
        return self.item.key


_ITEMS = {
    item.key: item
    for item in (
        # The merchant's side.
        EvidenceItem(
            "carrier",
            gettext_lazy("Carrier"),
            gettext_lazy("Who delivered the order, e.g. PostNL or DHL."),
            EvidenceKind.TEXT,
        ),
        EvidenceItem(
            "tracking_number",
            gettext_lazy("Tracking number"),
            gettext_lazy("The carrier's tracking number of the shipment."),
            EvidenceKind.TEXT,
        ),
        EvidenceItem(
            "proof_of_delivery",
            gettext_lazy("Proof of delivery"),
            gettext_lazy("The carrier's delivery confirmation, with date and address."),
        ),
        EvidenceItem(
            "refund_proof",
            gettext_lazy("Proof of the refund, or that the return never arrived"),
            gettext_lazy(
                "A bank or payment record of the refund, or the return's tracking showing it "
                "did not reach you."
            ),
        ),
        EvidenceItem(
            "return_terms",
            gettext_lazy("Your return terms"),
            gettext_lazy("The return conditions the customer agreed to."),
        ),
        EvidenceItem(
            "invoice",
            gettext_lazy("Invoice or receipt"),
            gettext_lazy("The invoice or receipt showing the amount charged."),
        ),
        EvidenceItem(
            "price_agreed",
            gettext_lazy("What the customer agreed to pay"),
            gettext_lazy("The order confirmation or price list at the time of the order."),
        ),
        EvidenceItem(
            "product_photos",
            gettext_lazy("Photos of the goods as sent"),
            gettext_lazy("Photos taken before shipping, or of the same item."),
        ),
        EvidenceItem(
            "product_description",
            gettext_lazy("Description of the goods as sold"),
            gettext_lazy("What the shop promised: the product text, size, material, model."),
            EvidenceKind.TEXT,
        ),
        EvidenceItem(
            "repair_offer",
            gettext_lazy("Repair or replacement offer"),
            gettext_lazy("An offer you made to repair or replace the goods."),
        ),
        EvidenceItem(
            "delivery_to_customer_address",
            gettext_lazy("Delivery to the customer's address"),
            gettext_lazy("Proof that the order went to the address the customer uses."),
        ),
        EvidenceItem(
            "earlier_orders",
            gettext_lazy("Earlier undisputed orders of this customer at your shop"),
            gettext_lazy("The portal finds them in the order feed and shows them to support."),
            EvidenceKind.AUTOMATIC,
        ),
        EvidenceItem(
            "account_records",
            gettext_lazy("Account or device records of the purchase"),
            gettext_lazy("Log-in, device or IP records that tie the purchase to the customer."),
        ),
        EvidenceItem(
            "cancellation_terms",
            gettext_lazy("Your cancellation terms"),
            gettext_lazy("The cancellation conditions that applied to this order."),
        ),
        EvidenceItem(
            "merchant_account",
            gettext_lazy("Your account of what happened"),
            gettext_lazy("A short, factual account with dates."),
            EvidenceKind.TEXT,
        ),
        # The customer's side.
        EvidenceItem(
            "order_confirmation",
            gettext_lazy("Order confirmation"),
            gettext_lazy("The shop's email or page confirming the order."),
        ),
        EvidenceItem(
            "payment_proof",
            gettext_lazy("Proof of payment"),
            gettext_lazy("A bank or card statement showing what you paid."),
        ),
        EvidenceItem(
            "return_receipt",
            gettext_lazy("Return receipt"),
            gettext_lazy("The carrier's receipt for the parcel you sent back."),
        ),
        EvidenceItem(
            "return_tracking",
            gettext_lazy("Tracking number of the return"),
            gettext_lazy("The tracking number of the parcel you sent back."),
            EvidenceKind.TEXT,
        ),
        EvidenceItem(
            "fault_photos",
            gettext_lazy("Photos of the fault"),
            gettext_lazy("Clear photos of what is wrong with the goods."),
        ),
        EvidenceItem(
            "cancellation_proof",
            gettext_lazy("Proof that you cancelled"),
            gettext_lazy("The email or confirmation of your cancellation, with its date."),
        ),
    )
}


def _checklist(*entries: tuple[str, bool]) -> tuple[ChecklistItem, ...]:
    return tuple(ChecklistItem(_ITEMS[key], essential) for key, essential in entries)


_DELIVERY = (("carrier", True), ("tracking_number", True), ("proof_of_delivery", True))
_REFUND = (("refund_proof", True), ("return_terms", False))
_CUSTOMER_RETURN = (
    ("return_receipt", True),
    ("return_tracking", True),
    ("order_confirmation", False),
)

# (program, reason, party) -> the checklist; a missing entry is an empty list.
EVIDENCE: dict[tuple[str, str, str], tuple[ChecklistItem, ...]] = {
    (Program.PAYMENT_DISPUTE, Reason.NOT_RECEIVED, Party.MERCHANT): _checklist(*_DELIVERY),
    (Program.PAYMENT_DISPUTE, Reason.RETURNED_NOT_REFUNDED, Party.MERCHANT): _checklist(*_REFUND),
    (Program.PAYMENT_DISPUTE, Reason.WRONG_AMOUNT, Party.MERCHANT): _checklist(
        ("invoice", True), ("price_agreed", False)
    ),
    (Program.PAYMENT_DISPUTE, Reason.FAULTY, Party.MERCHANT): _checklist(
        ("product_photos", True), ("product_description", True), ("repair_offer", False)
    ),
    (Program.PAYMENT_DISPUTE, Reason.UNAUTHORIZED, Party.MERCHANT): _checklist(
        ("delivery_to_customer_address", True),
        ("earlier_orders", False),
        ("account_records", False),
    ),
    (Program.PAYMENT_DISPUTE, Reason.OTHER, Party.MERCHANT): _checklist(("merchant_account", True)),
    (Program.BUYER_PROTECTION, Reason.NOT_RECEIVED, Party.MERCHANT): _checklist(*_DELIVERY),
    (Program.BUYER_PROTECTION, Reason.NO_REFUND_AFTER_RETURN, Party.MERCHANT): _checklist(*_REFUND),
    (Program.BUYER_PROTECTION, Reason.NO_REFUND_AFTER_CANCELLATION, Party.MERCHANT): _checklist(
        ("cancellation_terms", True), ("refund_proof", False)
    ),
    (Program.BUYER_PROTECTION, Reason.OTHER_REQUEST, Party.MERCHANT): _checklist(
        ("merchant_account", False)
    ),
    (Program.PAYMENT_DISPUTE, Reason.NOT_RECEIVED, Party.CUSTOMER): _checklist(
        ("order_confirmation", True), ("payment_proof", False)
    ),
    (Program.PAYMENT_DISPUTE, Reason.RETURNED_NOT_REFUNDED, Party.CUSTOMER): _checklist(
        *_CUSTOMER_RETURN
    ),
    (Program.PAYMENT_DISPUTE, Reason.WRONG_AMOUNT, Party.CUSTOMER): _checklist(
        ("order_confirmation", True), ("payment_proof", True)
    ),
    (Program.PAYMENT_DISPUTE, Reason.FAULTY, Party.CUSTOMER): _checklist(
        ("fault_photos", True), ("order_confirmation", False)
    ),
    (Program.PAYMENT_DISPUTE, Reason.UNAUTHORIZED, Party.CUSTOMER): _checklist(
        ("payment_proof", False)
    ),
    (Program.PAYMENT_DISPUTE, Reason.OTHER, Party.CUSTOMER): _checklist(
        ("order_confirmation", False)
    ),
    (Program.BUYER_PROTECTION, Reason.NOT_RECEIVED, Party.CUSTOMER): _checklist(
        ("order_confirmation", True)
    ),
    (Program.BUYER_PROTECTION, Reason.NO_REFUND_AFTER_RETURN, Party.CUSTOMER): _checklist(
        *_CUSTOMER_RETURN
    ),
    (Program.BUYER_PROTECTION, Reason.NO_REFUND_AFTER_CANCELLATION, Party.CUSTOMER): _checklist(
        ("cancellation_proof", True), ("order_confirmation", False)
    ),
    (Program.BUYER_PROTECTION, Reason.OTHER_REQUEST, Party.CUSTOMER): _checklist(
        ("order_confirmation", False)
    ),
}

EVIDENCE_PARTIES = (Party.MERCHANT, Party.CUSTOMER)


def evidence_for(program: str, reason: str, party: str) -> tuple[ChecklistItem, ...]:
    return EVIDENCE.get((program, reason, party), ())


def evidence_item(key: str) -> EvidenceItem:
    try:
        return _ITEMS[key]
    except KeyError:
        raise InvalidChoice(field="evidence") from None


def evidence_key(party: str, key: str) -> str:
    """How an item given by one side is stored on the case: "merchant:tracking_number"."""
    return f"{party}:{key}"


@dataclass(frozen=True)
class Completeness:
    essential_given: int
    essential_total: int
    given: tuple[str, ...]  # the keys of every item given, essential or not
    missing: tuple[str, ...]  # the essential items not given yet

    @property
    def complete(self) -> bool:
        return self.essential_given == self.essential_total


def completeness(
    program: str, reason: str, party: str, provided: Iterable[str], *, automatic: Iterable[str] = ()
) -> Completeness:
    """How much of one side's checklist is given. `provided` holds the case's stored keys
    (`evidence_key`); `automatic` the portal-found items present for this case."""
    mine = {key.split(":", 1)[1] for key in provided if key.startswith(f"{party}:")}
    mine |= set(automatic)
    checklist = evidence_for(program, reason, party)
    essential = [entry.key for entry in checklist if entry.essential]
    return Completeness(
        essential_given=sum(1 for key in essential if key in mine),
        essential_total=len(essential),
        given=tuple(entry.key for entry in checklist if entry.key in mine),
        missing=tuple(key for key in essential if key not in mine),
    )


@dataclass(frozen=True)
class GivenEvidence:
    """One checklist item as a side gives it: a line of text, or documents (counted)."""

    key: str
    value: str = ""
    documents: int = 0


def check_evidence(
    program: str, reason: str, party: str, given: Iterable[GivenEvidence]
) -> list[GivenEvidence]:
    """The items given, checked against the side's checklist: an item that is not on it, a text
    item without text or a document item without a document is refused, naming the item."""
    allowed = {entry.key: entry.item for entry in evidence_for(program, reason, party)}
    checked: list[GivenEvidence] = []
    for entry in given:
        item = allowed.get(entry.key)
        if item is None or item.kind == EvidenceKind.AUTOMATIC:
            known = _ITEMS.get(entry.key)
            raise InvalidChoice(
                gettext("“%(item)s” is not evidence this side gives for this reason.")
                % {"item": known.label if known else entry.key},
                field="evidence",
            )
        value = entry.value.strip()
        if item.kind == EvidenceKind.TEXT and not value:
            raise InvalidChoice(
                gettext("Fill in “%(item)s”.") % {"item": item.label}, field="evidence"
            )
        if item.kind == EvidenceKind.DOCUMENT and entry.documents < 1:
            raise InvalidChoice(
                gettext("Attach a document for “%(item)s”.") % {"item": item.label},
                field="evidence",
            )
        checked.append(GivenEvidence(entry.key, value[:200], entry.documents))
    return checked


# --- Hearing the merchant ------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """A timeline event as the hearing rule reads it."""

    event_type: str
    actor_kind: str
    data: Mapping[str, object]


# What the merchant did on the case that counts as having had its say.
_MERCHANT_SAYS = frozenset(
    {
        EventType.OFFER_MADE,
        EventType.DISPUTE_ACCEPTED,
        EventType.EVIDENCE_ADDED,
        EventType.INFO_PROVIDED,
        EventType.MESSAGE,
        EventType.APPEALED,
    }
)


def merchant_heard(history: Iterable[HistoryEntry]) -> bool:
    """Whether the merchant has had its say: it answered, wrote or sent evidence, or an
    information request to it ran out, or its window ran out unanswered (docs/rules.md §10).
    A case that went straight to support has none of these until support asks the merchant."""
    for entry in history:
        if entry.actor_kind == ActorKind.MERCHANT and entry.event_type in _MERCHANT_SAYS:
            return True
        if (
            entry.event_type == EventType.INFO_REQUEST_EXPIRED
            and entry.data.get("party") == Party.MERCHANT
        ):
            return True
        if (
            entry.event_type == EventType.ESCALATED
            and entry.data.get("cause") == "merchant_deadline"
        ):
            return True
    return False


def needs_hearing_override(outcome: str) -> bool:
    """Decisions that go against the merchant wait for its say (or a written override)."""
    return outcome in (Outcome.CUSTOMER, Outcome.SPLIT)


# --- Decision reason codes -----------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionCode:
    code: str
    label: Promise
    outcomes: frozenset[str]
    reasons: frozenset[str] = frozenset()  # empty: any reason

    def fits(self, outcome: str, reason: str) -> bool:
        return outcome in self.outcomes and (not self.reasons or reason in self.reasons)


_FOR_MERCHANT = frozenset({Outcome.MERCHANT})
_FOR_CUSTOMER = frozenset({Outcome.CUSTOMER})
_ANY_OUTCOME = frozenset({Outcome.MERCHANT, Outcome.CUSTOMER, Outcome.SPLIT})
_DELIVERY_REASONS = frozenset({Reason.NOT_RECEIVED})
_REFUND_REASONS = frozenset({Reason.RETURNED_NOT_REFUNDED, Reason.NO_REFUND_AFTER_RETURN})

DECISION_CODES: tuple[DecisionCode, ...] = (
    DecisionCode(
        "delivery_proven", gettext_lazy("Delivery proven"), _FOR_MERCHANT, _DELIVERY_REASONS
    ),
    DecisionCode(
        "no_proof_of_delivery",
        gettext_lazy("No proof of delivery"),
        _FOR_CUSTOMER,
        _DELIVERY_REASONS,
    ),
    DecisionCode("refund_proven", gettext_lazy("Refund proven"), _FOR_MERCHANT, _REFUND_REASONS),
    DecisionCode(
        "return_not_shown", gettext_lazy("Return not shown"), _FOR_MERCHANT, _REFUND_REASONS
    ),
    DecisionCode(
        "return_shown_no_refund",
        gettext_lazy("Return shown, no refund"),
        _FOR_CUSTOMER,
        _REFUND_REASONS,
    ),
    DecisionCode(
        "amount_as_agreed",
        gettext_lazy("Amount as agreed"),
        _FOR_MERCHANT,
        frozenset({Reason.WRONG_AMOUNT}),
    ),
    DecisionCode(
        "amount_above_agreed",
        gettext_lazy("Charged more than agreed"),
        frozenset({Outcome.CUSTOMER, Outcome.SPLIT}),
        frozenset({Reason.WRONG_AMOUNT}),
    ),
    DecisionCode(
        "goods_as_described",
        gettext_lazy("Goods as described"),
        _FOR_MERCHANT,
        frozenset({Reason.FAULTY}),
    ),
    DecisionCode(
        "goods_faulty",
        gettext_lazy("Goods faulty or not as described"),
        frozenset({Outcome.CUSTOMER, Outcome.SPLIT}),
        frozenset({Reason.FAULTY}),
    ),
    DecisionCode(
        "authorised_by_customer",
        gettext_lazy("Authorised by the customer"),
        _FOR_MERCHANT,
        frozenset({Reason.UNAUTHORIZED}),
    ),
    DecisionCode(
        "not_authorised",
        gettext_lazy("Not authorised by the customer"),
        _FOR_CUSTOMER,
        frozenset({Reason.UNAUTHORIZED}),
    ),
    DecisionCode(
        "cancellation_terms_applied",
        gettext_lazy("Cancellation terms applied"),
        _FOR_MERCHANT,
        frozenset({Reason.NO_REFUND_AFTER_CANCELLATION}),
    ),
    DecisionCode(
        "cancelled_in_time",
        gettext_lazy("Cancelled in time, refund owed"),
        _FOR_CUSTOMER,
        frozenset({Reason.NO_REFUND_AFTER_CANCELLATION}),
    ),
    DecisionCode(
        "merchant_did_not_answer",
        gettext_lazy("The merchant did not answer"),
        _FOR_CUSTOMER,
    ),
    DecisionCode(
        "both_partly_right", gettext_lazy("Both sides partly right"), frozenset({Outcome.SPLIT})
    ),
    DecisionCode("goods_not_returned", gettext_lazy("Goods not sent back in time"), _FOR_MERCHANT),
    DecisionCode("other", gettext_lazy("Other (see the written reason)"), _ANY_OUTCOME),
)
_CODES = {code.code: code for code in DECISION_CODES}


def decision_code(code: str) -> DecisionCode | None:
    return _CODES.get(code)


def decision_codes_for(reason: str) -> list[DecisionCode]:
    return [code for code in DECISION_CODES if not code.reasons or reason in code.reasons]


@dataclass(frozen=True)
class Assessment:
    """Support's weighing of one evidence item of one side."""

    party: str
    key: str
    weight: str
    note: str = ""


def check_decision_record(
    *,
    program: str,
    reason: str,
    outcome: str,
    code: str,
    assessments: Iterable[Assessment],
) -> list[Assessment]:
    """Every item of both sides' checklists weighed, a line on each decisive one, and a code
    that fits the outcome; otherwise DecisionIncomplete naming what is missing."""
    found = decision_code(code)
    if found is None or not found.fits(outcome, reason):
        raise DecisionIncomplete(
            gettext("Pick a decision reason code that fits the outcome."), field="code"
        )
    given = {(a.party, a.key): a for a in assessments}
    record: list[Assessment] = []
    unmarked: list[str] = []
    for party in EVIDENCE_PARTIES:
        for entry in evidence_for(program, reason, party):
            mark = given.get((party, entry.key))
            if mark is None or mark.weight not in EvidenceWeight.values:
                unmarked.append(str(entry.item.label))
                continue
            note = mark.note.strip()[:500]
            if mark.weight == EvidenceWeight.DECISIVE and not note:
                raise DecisionIncomplete(
                    gettext("Write a line on why “%(item)s” was decisive.")
                    % {"item": entry.item.label},
                    field="evidence",
                )
            record.append(Assessment(party, entry.key, mark.weight, note))
    if unmarked:
        raise DecisionIncomplete(
            gettext(
                "Mark every evidence item as decisive, considered but insufficient, or not "
                "relevant before deciding. Not marked: %(items)s."
            )
            % {"items": ", ".join(unmarked)},
            field="evidence",
        )
    return record


# --- What each side can do now -------------------------------------------------------------------


class CaseAction(StrEnum):
    RESPOND = "respond"
    ACCEPT = "accept"
    ADD_EVIDENCE = "add_evidence"
    SEND_MESSAGE = "send_message"
    PROVIDE_INFORMATION = "provide_information"
    CONFIRM_RETURN = "confirm_return"
    APPEAL = "appeal"
    REPLY = "reply"
    MARK_RETURN_SHIPPED = "mark_return_shipped"
    WITHDRAW = "withdraw"


class CaseFacts(Protocol):
    """What `allowed_actions` reads of a case (a Dispute is one), read-only."""

    @property
    def program(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def information_requested_from(self) -> str: ...
    @property
    def return_shipped_at(self) -> datetime | None: ...
    @property
    def appealed_at(self) -> datetime | None: ...
    @property
    def closed_at(self) -> datetime | None: ...
    @property
    def override_reason(self) -> str: ...


@dataclass(frozen=True)
class AllowedAction:
    action: CaseAction
    until: datetime | None = None  # the deadline, when the action has one


def appeal_used(case: CaseFacts) -> bool:
    """The merchant appealed this decision already. A decision that overrode the merchant's
    hearing gives it a fresh appeal, even after an earlier one."""
    if case.appealed_at is None:
        return False
    overridden_since = bool(case.override_reason) and (
        case.closed_at is not None and case.appealed_at < case.closed_at
    )
    return not overridden_since


def allowed_actions(
    case: CaseFacts, party: str, *, now: datetime, time_zone: str, country: str
) -> list[AllowedAction]:
    """The operations `party` may perform on the case now, with their deadlines: the pages
    show exactly these and the services accept exactly these."""
    state = case.state
    is_open_state = state in OPEN_STATES
    window_open = is_open(case.due_at, now)
    actions: list[AllowedAction] = []
    if party == Party.MERCHANT and state == State.AWAITING_MERCHANT and window_open:
        actions.append(AllowedAction(CaseAction.RESPOND, case.due_at))
        if case.program == Program.PAYMENT_DISPUTE:
            actions.append(AllowedAction(CaseAction.ACCEPT, case.due_at))
    if party == Party.CUSTOMER:
        if state == State.AWAITING_CUSTOMER and window_open:
            actions.append(AllowedAction(CaseAction.REPLY, case.due_at))
        if state == State.AWAITING_RETURN and case.return_shipped_at is None and window_open:
            actions.append(AllowedAction(CaseAction.MARK_RETURN_SHIPPED, case.due_at))
    asked = state == State.INFO_REQUESTED and case.information_requested_from == party
    if asked and window_open:
        actions.append(AllowedAction(CaseAction.PROVIDE_INFORMATION, case.due_at))
    if is_open_state and state != State.AWAITING_RETURN:
        actions.append(AllowedAction(CaseAction.ADD_EVIDENCE))
    if is_open_state:
        actions.append(AllowedAction(CaseAction.SEND_MESSAGE))
    if party == Party.MERCHANT and state == State.AWAITING_RETURN:
        actions.append(AllowedAction(CaseAction.CONFIRM_RETURN, case.due_at))
    if party == Party.MERCHANT and state == State.DECIDED and case.closed_at is not None:
        deadline = appeal_deadline(case.closed_at, time_zone=time_zone, country=country)
        if not appeal_used(case) and now < deadline:
            actions.append(AllowedAction(CaseAction.APPEAL, deadline))
    appealed = case.appealed_at is not None
    if (
        party == Party.CUSTOMER
        and is_open_state
        and not under_appeal(state=state, appealed=appealed)
    ):
        actions.append(AllowedAction(CaseAction.WITHDRAW))
    return actions


class SupportWaitsFor(StrEnum):
    """What a case with support waits for, as the case pages and the API say it."""

    DECISION = "decision"
    MERCHANT_INFORMATION = "information_from_merchant"
    CUSTOMER_INFORMATION = "information_from_customer"
    GOODS_RETURNED = "goods_returned"
    RETURN_CONFIRMED = "return_confirmed"


def support_waiting_for(case: CaseFacts) -> SupportWaitsFor | None:
    if case.state == State.ESCALATED:
        return SupportWaitsFor.DECISION
    if case.state == State.INFO_REQUESTED:
        if case.information_requested_from == Party.MERCHANT:
            return SupportWaitsFor.MERCHANT_INFORMATION
        return SupportWaitsFor.CUSTOMER_INFORMATION
    if case.state == State.AWAITING_RETURN:
        if case.return_shipped_at is None:
            return SupportWaitsFor.GOODS_RETURNED
        return SupportWaitsFor.RETURN_CONFIRMED
    return None
