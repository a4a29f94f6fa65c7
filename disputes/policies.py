"""The rules of the two programs, as pure functions and frozen data.

No ORM and no clock here: callers pass `now`. This module is where a reader learns the business
rules (docs/rules.md §2 to §7); models and services only apply what it says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holiday_calendars
from django.utils.translation import gettext

from .choices import (
    OPEN_STATES,
    CustomerReply,
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
from .errors import CaseAlreadyClosed, InvalidAmount, InvalidChoice, InvalidTerms, NotEligible

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
