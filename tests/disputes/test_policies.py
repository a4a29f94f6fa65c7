"""The business rules of disputes/policies.py, as pure unit tests (no database, no client).

Expected instants are written out by hand in UTC so that a reader can check them against the
calendar: Europe/Amsterdam is UTC+1 in winter (CET) and UTC+2 in summer (CEST), Europe/Helsinki
is UTC+2 / UTC+3. In 2025 summer time starts on Sunday 30 March and ends on Sunday 26 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from disputes.choices import (
    CustomerReply,
    InstructionKind,
    Outcome,
    Party,
    PaymentState,
    Program,
    ProtectionStatus,
    ProtectionTier,
    Reason,
    RefundOffer,
    State,
)
from disputes.errors import CaseAlreadyClosed, InvalidAmount, InvalidChoice, NotEligible
from disputes.policies import (
    BUYER_PROTECTION,
    CLAIM_REASONS,
    CUSTOMER_REPLIES,
    EXTENSION_DAYS,
    NEXT_ACTOR,
    PAYMENT_DISPUTE,
    SILENCE_EFFECT,
    DayCount,
    ExtensionDecision,
    MoneyEffect,
    PastCase,
    ProgramPolicy,
    RefundTerms,
    ReplyEffect,
    Window,
    add_working_days,
    appeal_deadline,
    appeal_open,
    can_reopen,
    check_program_eligibility,
    customer_replies_for,
    customer_reply_effect,
    days_left,
    deadline_after,
    deadline_for_display,
    is_open,
    is_working_day,
    minor_units,
    next_reminder_at,
    parse_amount,
    payment_on_close,
    payment_on_open,
    policy_for,
    protection_checkin_at,
    protection_ended_by,
    protection_ends_at,
    protection_extension,
    protection_is_active,
    refund_terms,
    reminder_times,
    round_money,
    settled_amount_for_decision,
    skips_customer_step,
    under_appeal,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HELSINKI = ZoneInfo("Europe/Helsinki")

ORDER_AMOUNT = Decimal("100.00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def amsterdam(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMSTERDAM)


def deadline_in_amsterdam(start: datetime, window: Window, country: str = "NL") -> datetime:
    return deadline_after(start, window, time_zone="Europe/Amsterdam", country=country)


# --- Deadlines: calendar days --------------------------------------------------------------------


def test_merchant_window_of_21_days_ends_at_local_midnight_after_day_21():
    # Opened 1 March 10:00 CET: open through 22 March, closes 23 March 00:00 CET.
    deadline = deadline_in_amsterdam(amsterdam(2025, 3, 1, 10, 0), Window(21))

    assert deadline == utc(2025, 3, 22, 23, 0)
    assert deadline.astimezone(AMSTERDAM) == amsterdam(2025, 3, 23, 0, 0)


def test_deadline_is_an_aware_utc_datetime():
    deadline = deadline_in_amsterdam(amsterdam(2025, 3, 1, 10, 0), Window(21))

    assert deadline.tzinfo is UTC
    assert deadline.utcoffset() == timedelta(0)


def test_deadline_does_not_depend_on_the_time_of_day_the_window_starts():
    early = deadline_in_amsterdam(amsterdam(2025, 3, 1, 0, 0), Window(21))
    late = deadline_in_amsterdam(amsterdam(2025, 3, 1, 23, 59, 59), Window(21))

    assert early == late == utc(2025, 3, 22, 23, 0)


def test_start_at_2359_local_counts_from_that_local_day():
    # 6 January 23:59 CET is 22:59 UTC; day 5 is 11 January, closes 12 January 00:00 CET.
    deadline = deadline_in_amsterdam(amsterdam(2025, 1, 6, 23, 59), Window(5))

    assert deadline == utc(2025, 1, 11, 23, 0)


def test_start_at_0001_local_counts_from_the_new_local_day_although_utc_is_still_the_day_before():
    start = amsterdam(2025, 1, 7, 0, 1)
    assert start.astimezone(UTC).date() == date(2025, 1, 6)

    deadline = deadline_in_amsterdam(start, Window(5))

    # Day 5 after 7 January is 12 January: closes 13 January 00:00 CET.
    assert deadline == utc(2025, 1, 12, 23, 0)


def test_start_given_in_utc_is_read_in_the_merchants_time_zone():
    # 22:59 UTC on 6 January is 23:59 CET, still 6 January in Amsterdam.
    from_utc = deadline_in_amsterdam(utc(2025, 1, 6, 22, 59), Window(5))
    # 23:01 UTC on 6 January is 00:01 CET on 7 January in Amsterdam.
    after_local_midnight = deadline_in_amsterdam(utc(2025, 1, 6, 23, 1), Window(5))

    assert from_utc == utc(2025, 1, 11, 23, 0)
    assert after_local_midnight == utc(2025, 1, 12, 23, 0)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Window spanning the spring change: closes 11 April 00:00 CEST = 10 April 22:00 UTC.
        pytest.param(amsterdam(2025, 3, 20, 10, 0), 21, utc(2025, 4, 10, 22, 0), id="across"),
        # Last day is Saturday 29 March: closes before the change, 30 March 00:00 CET.
        pytest.param(amsterdam(2025, 3, 24, 12, 0), 5, utc(2025, 3, 29, 23, 0), id="just-before"),
        # Last day is the change day itself: closes 31 March 00:00 CEST.
        pytest.param(amsterdam(2025, 3, 25, 12, 0), 5, utc(2025, 3, 30, 22, 0), id="change-day"),
    ],
)
def test_window_across_start_of_summer_time_closes_at_exact_utc_instant(start, days, expected):
    deadline = deadline_in_amsterdam(start, Window(days))

    assert deadline == expected
    assert deadline.astimezone(AMSTERDAM).time() == time(0, 0)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Window spanning the autumn change: closes 1 November 00:00 CET = 31 October 23:00 UTC.
        pytest.param(amsterdam(2025, 10, 10, 9, 0), 21, utc(2025, 10, 31, 23, 0), id="across"),
        # Last day is Saturday 25 October: closes 26 October 00:00 CEST, before the change.
        pytest.param(amsterdam(2025, 10, 20, 9, 0), 5, utc(2025, 10, 25, 22, 0), id="just-before"),
        # Last day is the change day itself: closes 27 October 00:00 CET.
        pytest.param(amsterdam(2025, 10, 21, 9, 0), 5, utc(2025, 10, 26, 23, 0), id="change-day"),
    ],
)
def test_window_across_end_of_summer_time_closes_at_exact_utc_instant(start, days, expected):
    deadline = deadline_in_amsterdam(start, Window(days))

    assert deadline == expected
    assert deadline.astimezone(AMSTERDAM).time() == time(0, 0)


def test_same_instant_is_a_different_local_day_in_helsinki_than_in_amsterdam():
    # 22:30 UTC on 3 March: 23:30 on 3 March in Amsterdam, 00:30 on 4 March in Helsinki.
    start = utc(2025, 3, 3, 22, 30)

    in_amsterdam = deadline_after(start, Window(21), time_zone="Europe/Amsterdam", country="NL")
    in_helsinki = deadline_after(start, Window(21), time_zone="Europe/Helsinki", country="FI")

    assert in_amsterdam == utc(2025, 3, 24, 23, 0)  # 25 March 00:00 CET
    assert in_helsinki == utc(2025, 3, 25, 22, 0)  # 26 March 00:00 EET
    assert in_helsinki.astimezone(HELSINKI) == datetime(2025, 3, 26, 0, 0, tzinfo=HELSINKI)


def test_helsinki_midnight_comes_one_hour_before_amsterdam_midnight():
    start = utc(2025, 6, 2, 12, 0)  # 2 June in both zones

    in_amsterdam = deadline_after(start, Window(5), time_zone="Europe/Amsterdam", country="NL")
    in_helsinki = deadline_after(start, Window(5), time_zone="Europe/Helsinki", country="FI")

    assert in_amsterdam == utc(2025, 6, 7, 22, 0)  # 8 June 00:00 CEST
    assert in_helsinki == utc(2025, 6, 7, 21, 0)  # 8 June 00:00 EEST
    assert in_amsterdam - in_helsinki == timedelta(hours=1)


def test_calendar_window_counts_weekends_and_holidays():
    # 22 December + 5 calendar days runs through Christmas and a weekend: last day 27 December.
    start = amsterdam(2025, 12, 22, 10, 0)

    assert deadline_in_amsterdam(start, Window(5)) == utc(2025, 12, 27, 23, 0)
    assert deadline_in_amsterdam(start, Window(5), country="XX") == utc(2025, 12, 27, 23, 0)


# --- Deadlines: working days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "country", "working"),
    [
        pytest.param(date(2025, 9, 8), "NL", True, id="ordinary-monday"),
        pytest.param(date(2025, 9, 6), "NL", False, id="saturday"),
        pytest.param(date(2025, 9, 7), "NL", False, id="sunday"),
        pytest.param(date(2026, 4, 27), "NL", False, id="nl-kings-day"),
        pytest.param(date(2025, 12, 25), "NL", False, id="nl-christmas-day"),
        pytest.param(date(2025, 12, 26), "NL", False, id="nl-second-christmas-day"),
        pytest.param(date(2026, 1, 1), "NL", False, id="nl-new-year"),
        pytest.param(date(2024, 12, 6), "FI", False, id="fi-independence-day"),
        pytest.param(date(2024, 12, 6), "NL", True, id="fi-independence-day-is-working-in-nl"),
        pytest.param(date(2026, 4, 27), "FI", True, id="nl-kings-day-is-working-in-fi"),
    ],
)
def test_working_day_is_a_weekday_that_is_not_a_national_holiday(day, country, working):
    assert is_working_day(day, country) is working


def test_working_days_skip_the_weekend():
    friday = date(2025, 9, 5)

    assert add_working_days(friday, 1, "NL") == date(2025, 9, 8)  # Monday
    assert add_working_days(friday, 5, "NL") == date(2025, 9, 12)  # next Friday


def test_zero_working_days_is_the_start_day():
    assert add_working_days(date(2025, 9, 6), 0, "NL") == date(2025, 9, 6)


def test_working_days_skip_kings_day_in_the_netherlands():
    friday_before_kings_day = date(2026, 4, 24)  # King's Day 2026 is Monday 27 April

    assert add_working_days(friday_before_kings_day, 1, "NL") == date(2026, 4, 28)


def test_working_days_skip_both_christmas_days_in_the_netherlands():
    christmas_eve = date(2025, 12, 24)  # Wednesday; 25 and 26 December are holidays

    assert add_working_days(christmas_eve, 1, "NL") == date(2025, 12, 29)


def test_working_days_skip_independence_day_in_finland_only():
    thursday = date(2024, 12, 5)

    assert add_working_days(thursday, 1, "FI") == date(2024, 12, 9)
    assert add_working_days(thursday, 1, "NL") == date(2024, 12, 6)


def test_working_days_use_the_holidays_of_each_year_they_cross():
    # 31 December is a working day, 1 January 2026 is New Year's Day.
    assert add_working_days(date(2025, 12, 30), 2, "NL") == date(2026, 1, 2)


@pytest.mark.parametrize("unknown_country", ["XX", "ZZ"])
def test_unknown_country_falls_back_to_weekends_only(unknown_country):
    assert is_working_day(date(2025, 12, 25), unknown_country) is True  # a Thursday
    assert is_working_day(date(2025, 12, 27), unknown_country) is False  # a Saturday
    assert add_working_days(date(2025, 12, 24), 1, unknown_country) == date(2025, 12, 25)
    assert add_working_days(date(2025, 12, 26), 1, unknown_country) == date(2025, 12, 29)


def test_working_day_window_ends_at_local_midnight_after_the_last_working_day():
    start = amsterdam(2026, 4, 24, 10, 0)  # Friday before King's Day
    window = Window(5, DayCount.WORKING)

    # 28, 29, 30 April, 1 May, 4 May: closes 5 May 00:00 CEST.
    assert deadline_in_amsterdam(start, window, country="NL") == utc(2026, 5, 4, 22, 0)
    # Weekends only: 27, 28, 29, 30 April, 1 May: closes 2 May 00:00 CEST.
    assert deadline_in_amsterdam(start, window, country="XX") == utc(2026, 5, 1, 22, 0)


def test_working_day_window_starts_on_the_merchants_local_day():
    # 23:30 UTC on Thursday 5 December is 01:30 on Friday 6 December (Independence Day) in
    # Helsinki: the first working day after it is Monday 9 December.
    deadline = deadline_after(
        utc(2024, 12, 5, 23, 30),
        Window(1, DayCount.WORKING),
        time_zone="Europe/Helsinki",
        country="FI",
    )

    assert deadline == utc(2024, 12, 9, 22, 0)  # 10 December 00:00 EET


# --- Open or closed ------------------------------------------------------------------------------


def test_window_is_closed_at_exactly_the_deadline_instant():
    deadline = utc(2025, 3, 22, 23, 0)

    assert is_open(deadline, now=deadline) is False


def test_window_is_open_one_microsecond_before_the_deadline():
    deadline = utc(2025, 3, 22, 23, 0)

    assert is_open(deadline, now=deadline - timedelta(microseconds=1)) is True


def test_window_is_closed_after_the_deadline():
    deadline = utc(2025, 3, 22, 23, 0)

    assert is_open(deadline, now=deadline + timedelta(seconds=1)) is False


def test_no_deadline_means_no_open_window():
    assert is_open(None, now=utc(2025, 3, 1, 0, 0)) is False


# --- Reminders -----------------------------------------------------------------------------------

OPENED_AT = utc(2025, 3, 1, 9, 0)
DEADLINE_21 = utc(2025, 3, 22, 23, 0)  # 21-day window opened at OPENED_AT in Amsterdam
DAYS_BEFORE_21 = (7, 3, 1)


def test_deadline_used_for_the_reminder_tests_is_the_21_day_window():
    assert deadline_in_amsterdam(OPENED_AT, PAYMENT_DISPUTE.merchant_window) == DEADLINE_21


def test_reminder_times_are_the_given_days_before_the_deadline_in_order():
    expected = [
        DEADLINE_21 - timedelta(days=7),
        DEADLINE_21 - timedelta(days=3),
        DEADLINE_21 - timedelta(days=1),
    ]

    assert reminder_times(DEADLINE_21, (7, 3, 1)) == expected
    assert reminder_times(DEADLINE_21, (1, 7, 3)) == expected


def test_first_reminder_of_a_21_day_window_is_7_days_before_the_deadline():
    first = next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=OPENED_AT)

    assert first == utc(2025, 3, 15, 23, 0)


@pytest.mark.parametrize(
    ("last_sent_days_before", "next_days_before"),
    [
        pytest.param(7, 3, id="after-7-days-comes-3"),
        pytest.param(3, 1, id="after-3-days-comes-1"),
    ],
)
def test_after_each_reminder_the_next_one_is_due(last_sent_days_before, next_days_before):
    sent_at = DEADLINE_21 - timedelta(days=last_sent_days_before)

    assert next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=sent_at) == DEADLINE_21 - timedelta(
        days=next_days_before
    )


def test_no_reminder_is_left_after_the_last_one():
    sent_at = DEADLINE_21 - timedelta(days=1)

    assert next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=sent_at) is None


def test_sweep_a_few_minutes_late_still_schedules_the_following_reminder():
    swept_at = DEADLINE_21 - timedelta(days=7) + timedelta(minutes=5)

    assert next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=swept_at) == DEADLINE_21 - timedelta(
        days=3
    )


def test_late_sweep_that_passed_two_reminder_times_sends_one_and_waits_for_the_next():
    # The sweep runs after both the 7-day and the 3-day reminder times: it sends one reminder,
    # and the next one is the 1-day reminder, still in the future, so no burst follows.
    swept_at = DEADLINE_21 - timedelta(days=3) + timedelta(hours=1)

    following = next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=swept_at)

    assert following == DEADLINE_21 - timedelta(days=1)
    assert following > swept_at


def test_window_opened_late_skips_reminders_that_would_lie_before_it():
    opened_at = DEADLINE_21 - timedelta(hours=36)

    assert next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=opened_at) == DEADLINE_21 - (
        timedelta(days=1)
    )


def test_no_reminder_once_the_deadline_has_passed():
    assert next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=DEADLINE_21) is None
    assert next_reminder_at(DEADLINE_21, DAYS_BEFORE_21, after=DEADLINE_21 + timedelta(1)) is None


def test_a_reminder_is_never_at_the_deadline_itself():
    assert next_reminder_at(DEADLINE_21, (0,), after=OPENED_AT) is None


def test_no_reminder_without_a_deadline():
    assert next_reminder_at(None, DAYS_BEFORE_21, after=OPENED_AT) is None


def test_five_day_window_reminds_two_days_and_one_day_before():
    opened_at = amsterdam(2025, 6, 6, 10, 0)  # Friday
    deadline = deadline_in_amsterdam(opened_at, BUYER_PROTECTION.merchant_window)
    days_before = BUYER_PROTECTION.merchant_reminder_days
    assert deadline == utc(2025, 6, 11, 22, 0)  # 12 June 00:00 CEST

    first = next_reminder_at(deadline, days_before, after=opened_at)
    second = next_reminder_at(deadline, days_before, after=first)
    third = next_reminder_at(deadline, days_before, after=second)

    assert first == utc(2025, 6, 9, 22, 0)
    assert second == utc(2025, 6, 10, 22, 0)
    assert third is None


@pytest.mark.parametrize(
    ("time_left", "expected"),
    [
        pytest.param(timedelta(hours=1), 1, id="one-hour-is-one-day"),
        pytest.param(timedelta(microseconds=1), 1, id="one-microsecond-is-one-day"),
        pytest.param(timedelta(days=1), 1, id="exactly-one-day"),
        pytest.param(timedelta(days=1, seconds=1), 2, id="a-second-over-one-day-is-two"),
        pytest.param(timedelta(days=20, hours=23), 21, id="just-under-21-days"),
        pytest.param(timedelta(days=21), 21, id="exactly-21-days"),
        pytest.param(timedelta(0), 0, id="at-the-deadline"),
        pytest.param(-timedelta(hours=1), 0, id="past-the-deadline-is-never-negative"),
    ],
)
def test_days_left_rounds_up_to_whole_days(time_left, expected):
    assert days_left(DEADLINE_21, DEADLINE_21 - time_left) == expected


# --- Money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        pytest.param("0.005", "EUR", "0.01", id="eur-half-cent-rounds-up"),
        pytest.param("0.004", "EUR", "0.00", id="eur-below-half-rounds-down"),
        pytest.param("2.675", "EUR", "2.68", id="eur-2.675-half-up-not-bankers"),
        pytest.param("2.665", "EUR", "2.67", id="eur-2.665-half-up-not-bankers"),
        pytest.param("7.5", "EUR", "7.50", id="eur-padded-to-cents"),
        pytest.param("1234.5", "JPY", "1235", id="jpy-no-decimals"),
        pytest.param("1234.4", "JPY", "1234", id="jpy-rounds-down-below-half"),
        pytest.param("1.2345", "KWD", "1.235", id="kwd-three-decimals"),
        pytest.param("0.005", "eur", "0.01", id="lower-case-currency"),
    ],
)
def test_round_money_rounds_half_up_at_the_currencys_minor_unit(amount, currency, expected):
    rounded = round_money(Decimal(amount), currency)

    assert rounded == Decimal(expected)
    assert str(rounded) == expected  # the exponent is the minor unit, too


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("EUR", 2), ("SEK", 2), ("JPY", 0), ("jpy", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_minor_units_follow_iso_4217(currency, expected):
    assert minor_units(currency) == expected


def test_parse_amount_accepts_a_plain_number_and_normalises_it_to_the_minor_unit():
    assert str(parse_amount(" 12.5 ", "EUR")) == "12.50"
    assert str(parse_amount(Decimal("12.340"), "EUR")) == "12.34"
    assert str(parse_amount("12", "JPY")) == "12"


def test_parse_amount_reports_the_field_it_was_asked_about():
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount("abc", "EUR", field="disputed_amount")

    assert excinfo.value.field == "disputed_amount"


# --- The merchant's refund offer -----------------------------------------------------------------


def terms(offer: str, amount: object, *, currency: str = "EUR") -> RefundTerms:
    return refund_terms(offer, amount, order_amount=ORDER_AMOUNT, currency=currency)


def test_full_refund_is_the_order_amount():
    assert terms(RefundOffer.FULL, None) == RefundTerms(RefundOffer.FULL, ORDER_AMOUNT)
    assert terms(RefundOffer.FULL, Decimal("100.00")) == RefundTerms(RefundOffer.FULL, ORDER_AMOUNT)


def test_full_refund_with_a_different_amount_is_rejected():
    with pytest.raises(InvalidAmount) as excinfo:
        terms(RefundOffer.FULL, Decimal("60.00"))

    assert excinfo.value.field == "amount"


@pytest.mark.parametrize("amount", ["0.01", "40.00", "99.99"])
def test_partial_refund_is_more_than_zero_and_less_than_the_order_amount(amount):
    assert terms(RefundOffer.PARTIAL, Decimal(amount)) == RefundTerms(
        RefundOffer.PARTIAL, Decimal(amount)
    )


def test_partial_refund_of_the_whole_order_amount_becomes_a_full_refund():
    assert terms(RefundOffer.PARTIAL, Decimal("100.00")) == RefundTerms(
        RefundOffer.FULL, ORDER_AMOUNT
    )


def test_partial_refund_needs_an_amount():
    with pytest.raises(InvalidAmount) as excinfo:
        terms(RefundOffer.PARTIAL, None)

    assert excinfo.value.field == "amount"


def test_refund_after_return_defaults_to_the_order_amount():
    assert terms(RefundOffer.AFTER_RETURN, None) == RefundTerms(
        RefundOffer.AFTER_RETURN, ORDER_AMOUNT
    )


def test_refund_after_return_may_be_lower_than_the_order_amount():
    assert terms(RefundOffer.AFTER_RETURN, Decimal("60.00")) == RefundTerms(
        RefundOffer.AFTER_RETURN, Decimal("60.00")
    )


@pytest.mark.parametrize("amount", [None, Decimal("40.00")])
def test_no_refund_is_zero_whatever_amount_is_given(amount):
    result = terms(RefundOffer.NONE, amount)

    assert result == RefundTerms(RefundOffer.NONE, Decimal("0.00"))
    assert result.amount == 0


def test_refund_amount_is_normalised_to_the_minor_unit():
    assert str(terms(RefundOffer.PARTIAL, "40.5").amount) == "40.50"


@pytest.mark.parametrize("offer", [RefundOffer.FULL, RefundOffer.PARTIAL, RefundOffer.AFTER_RETURN])
def test_refund_above_the_order_amount_is_rejected_with_a_message_naming_the_order_amount(offer):
    with pytest.raises(InvalidAmount) as excinfo:
        terms(offer, Decimal("100.01"))

    assert excinfo.value.field == "amount"
    assert "100.00" in excinfo.value.message
    assert "EUR" in excinfo.value.message
    assert excinfo.value.message != InvalidAmount.default_message


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param("0", id="zero"),
        pytest.param(Decimal("0.00"), id="zero-decimal"),
        pytest.param("-5.00", id="negative"),
        pytest.param("-0.01", id="negative-cent"),
        pytest.param("NaN", id="nan"),
        pytest.param(Decimal("NaN"), id="nan-decimal"),
        pytest.param("sNaN", id="signalling-nan"),
        pytest.param("Infinity", id="infinity"),
        pytest.param("-Infinity", id="minus-infinity"),
        pytest.param(float("inf"), id="float-infinity"),
        pytest.param("abc", id="not-a-number"),
        pytest.param("", id="empty"),
        pytest.param("12,50", id="decimal-comma"),
        pytest.param("12.345", id="three-decimals"),
        pytest.param(Decimal("12.345"), id="three-decimals-decimal"),
        pytest.param("0.001", id="below-a-cent"),
    ],
)
@pytest.mark.parametrize("offer", [RefundOffer.PARTIAL, RefundOffer.AFTER_RETURN])
def test_refund_amount_that_is_not_a_positive_amount_in_cents_is_rejected(offer, amount):
    with pytest.raises(InvalidAmount) as excinfo:
        terms(offer, amount)

    assert excinfo.value.field == "amount"


def test_three_decimal_refund_is_fine_in_a_three_decimal_currency():
    result = refund_terms(
        RefundOffer.PARTIAL, "12.345", order_amount=Decimal("100.000"), currency="KWD"
    )

    assert result == RefundTerms(RefundOffer.PARTIAL, Decimal("12.345"))


def test_refund_with_cents_is_rejected_in_a_currency_without_minor_unit():
    with pytest.raises(InvalidAmount):
        refund_terms(RefundOffer.PARTIAL, "12.50", order_amount=Decimal("100"), currency="JPY")


@pytest.mark.parametrize("amount", ["1e30", "1e26", "12345678901234567890123456789"])
def test_absurdly_large_refund_is_rejected_as_an_invalid_amount(amount):
    with pytest.raises(InvalidAmount):
        terms(RefundOffer.PARTIAL, amount)


@pytest.mark.parametrize("offer", ["maybe", "", "FULL", "refund"])
def test_unknown_refund_offer_is_an_invalid_choice(offer):
    with pytest.raises(InvalidChoice) as excinfo:
        terms(offer, Decimal("10.00"))

    assert excinfo.value.field == "refund"


# --- The customer's reply ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "replies"),
    [
        pytest.param(
            RefundOffer.FULL,
            {CustomerReply.RECEIVED_REFUND, CustomerReply.REFUND_NOT_RECEIVED},
            id="full",
        ),
        pytest.param(
            RefundOffer.PARTIAL,
            {
                CustomerReply.RECEIVED_REFUND,
                CustomerReply.REFUND_NOT_RECEIVED,
                CustomerReply.REJECT_PARTIAL,
            },
            id="partial",
        ),
        pytest.param(
            RefundOffer.NONE,
            {CustomerReply.ACCEPT_NO_REFUND, CustomerReply.DISAGREE},
            id="none",
        ),
    ],
)
def test_customer_is_offered_exactly_the_replies_of_the_design_for_each_offer(offer, replies):
    offered = customer_replies_for(offer)

    assert set(offered) == {str(reply) for reply in replies}
    assert len(offered) == len(replies)


def test_refund_after_return_offers_the_same_replies_as_a_full_refund():
    assert set(customer_replies_for(RefundOffer.AFTER_RETURN)) == {
        CustomerReply.RECEIVED_REFUND,
        CustomerReply.REFUND_NOT_RECEIVED,
    }


def test_every_refund_offer_has_replies():
    assert set(CUSTOMER_REPLIES) == set(RefundOffer.values)


def test_unknown_offer_has_no_replies():
    assert customer_replies_for("maybe") == []


@pytest.mark.parametrize(
    ("offer", "reply", "effect"),
    [
        (RefundOffer.FULL, CustomerReply.RECEIVED_REFUND, ReplyEffect.RESOLVE),
        (RefundOffer.FULL, CustomerReply.REFUND_NOT_RECEIVED, ReplyEffect.ESCALATE),
        (RefundOffer.PARTIAL, CustomerReply.RECEIVED_REFUND, ReplyEffect.RESOLVE),
        (RefundOffer.PARTIAL, CustomerReply.REFUND_NOT_RECEIVED, ReplyEffect.ESCALATE),
        (RefundOffer.PARTIAL, CustomerReply.REJECT_PARTIAL, ReplyEffect.ESCALATE),
        (RefundOffer.AFTER_RETURN, CustomerReply.RECEIVED_REFUND, ReplyEffect.RESOLVE),
        (RefundOffer.AFTER_RETURN, CustomerReply.REFUND_NOT_RECEIVED, ReplyEffect.ESCALATE),
        (RefundOffer.NONE, CustomerReply.ACCEPT_NO_REFUND, ReplyEffect.RESOLVE),
        (RefundOffer.NONE, CustomerReply.DISAGREE, ReplyEffect.ESCALATE),
    ],
)
def test_customer_reply_closes_the_case_or_escalates_it(offer, reply, effect):
    assert customer_reply_effect(offer, reply) is effect


@pytest.mark.parametrize(
    ("offer", "reply"),
    [
        (RefundOffer.FULL, CustomerReply.REJECT_PARTIAL),
        (RefundOffer.FULL, CustomerReply.ACCEPT_NO_REFUND),
        (RefundOffer.FULL, CustomerReply.DISAGREE),
        (RefundOffer.PARTIAL, CustomerReply.ACCEPT_NO_REFUND),
        (RefundOffer.PARTIAL, CustomerReply.DISAGREE),
        (RefundOffer.NONE, CustomerReply.RECEIVED_REFUND),
        (RefundOffer.NONE, CustomerReply.REFUND_NOT_RECEIVED),
        (RefundOffer.NONE, CustomerReply.REJECT_PARTIAL),
        (RefundOffer.FULL, "whatever"),
        ("maybe", CustomerReply.RECEIVED_REFUND),
    ],
)
def test_reply_not_offered_for_the_offer_is_an_invalid_choice(offer, reply):
    with pytest.raises(InvalidChoice) as excinfo:
        customer_reply_effect(offer, reply)

    assert excinfo.value.field == "reply"


def test_customer_silence_accepts_the_offer_and_resolves_the_case():
    assert SILENCE_EFFECT is ReplyEffect.RESOLVE


# --- Skipping the customer's step ----------------------------------------------------------------

ALL_RULES = [*PAYMENT_DISPUTE.reasons, *BUYER_PROTECTION.reasons]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: f"{rule.reason}")
@pytest.mark.parametrize("offer", RefundOffer.values)
def test_only_a_refused_no_refund_after_cancellation_skips_the_customer_step(rule, offer):
    amount = Decimal("0.00") if offer == RefundOffer.NONE else Decimal("40.00")

    skips = skips_customer_step(rule, RefundTerms(RefundOffer(offer), amount))

    expected = rule.reason == Reason.NO_REFUND_AFTER_CANCELLATION and offer == RefundOffer.NONE
    assert skips is expected


def test_refused_cancellation_case_skips_the_customer_step():
    rule = BUYER_PROTECTION.rule_for(Reason.NO_REFUND_AFTER_CANCELLATION)
    refused = terms(RefundOffer.NONE, None)

    assert skips_customer_step(rule, refused) is True


# --- Program data --------------------------------------------------------------------------------


def test_payment_dispute_gives_the_merchant_21_calendar_days():
    assert PAYMENT_DISPUTE.merchant_window == Window(21, DayCount.CALENDAR)


def test_payment_dispute_reminds_the_merchant_7_3_and_1_days_before():
    assert sorted(PAYMENT_DISPUTE.merchant_reminder_days, reverse=True) == [7, 3, 1]


def test_payment_dispute_pauses_the_invoice():
    assert PAYMENT_DISPUTE.pauses_invoice is True


def test_payment_dispute_has_the_six_reasons_of_the_design():
    assert set(PAYMENT_DISPUTE.reason_choices) == {
        Reason.NOT_RECEIVED,
        Reason.RETURNED_NOT_REFUNDED,
        Reason.WRONG_AMOUNT,
        Reason.FAULTY,
        Reason.UNAUTHORIZED,
        Reason.OTHER,
    }
    assert len(PAYMENT_DISPUTE.reason_choices) == 6


def test_unauthorized_purchase_goes_straight_to_support():
    assert PAYMENT_DISPUTE.rule_for(Reason.UNAUTHORIZED).straight_to_support is True


@pytest.mark.parametrize(
    "reason",
    [r for r in PAYMENT_DISPUTE.reason_choices if r != Reason.UNAUTHORIZED],
)
def test_other_payment_dispute_reasons_get_a_merchant_window_and_a_fee(reason):
    rule = PAYMENT_DISPUTE.rule_for(reason)

    assert rule.straight_to_support is False
    assert rule.charges_fee is True


def test_buyer_protection_gives_the_merchant_5_calendar_days_not_working_days():
    assert BUYER_PROTECTION.merchant_window == Window(5, DayCount.CALENDAR)
    assert BUYER_PROTECTION.merchant_window.day_count is not DayCount.WORKING


def test_buyer_protection_reminds_the_merchant_2_and_1_days_before():
    assert sorted(BUYER_PROTECTION.merchant_reminder_days, reverse=True) == [2, 1]


def test_buyer_protection_does_not_pause_the_invoice():
    assert BUYER_PROTECTION.pauses_invoice is False


def test_buyer_protection_gives_the_customer_20_days_to_react():
    assert BUYER_PROTECTION.customer_window == Window(20, DayCount.CALENDAR)


def test_buyer_protection_has_the_reasons_of_the_design():
    assert set(BUYER_PROTECTION.reason_choices) == {
        Reason.NOT_RECEIVED,
        Reason.NO_REFUND_AFTER_RETURN,
        Reason.NO_REFUND_AFTER_CANCELLATION,
        Reason.OTHER_REQUEST,
    }


def test_another_request_goes_to_support_without_a_fee():
    rule = BUYER_PROTECTION.rule_for(Reason.OTHER_REQUEST)

    assert rule.straight_to_support is True
    assert rule.charges_fee is False


@pytest.mark.parametrize(
    "reason",
    [Reason.NOT_RECEIVED, Reason.NO_REFUND_AFTER_RETURN, Reason.NO_REFUND_AFTER_CANCELLATION],
)
def test_buyer_protection_claims_get_a_merchant_window_and_a_fee(reason):
    rule = BUYER_PROTECTION.rule_for(reason)

    assert rule.straight_to_support is False
    assert rule.charges_fee is True


def test_only_no_refund_after_cancellation_escalates_when_refused():
    escalating = {rule.reason for rule in ALL_RULES if rule.escalate_when_refused}

    assert escalating == {Reason.NO_REFUND_AFTER_CANCELLATION}


def test_rule_for_accepts_the_plain_string_value():
    assert PAYMENT_DISPUTE.rule_for("unauthorized").reason == Reason.UNAUTHORIZED


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        pytest.param(PAYMENT_DISPUTE, "no_such_reason", id="unknown"),
        pytest.param(PAYMENT_DISPUTE, "", id="empty"),
        pytest.param(PAYMENT_DISPUTE, Reason.OTHER_REQUEST, id="buyer-protection-reason"),
        pytest.param(PAYMENT_DISPUTE, Reason.NO_REFUND_AFTER_CANCELLATION, id="bp-cancellation"),
        pytest.param(BUYER_PROTECTION, Reason.UNAUTHORIZED, id="payment-dispute-reason"),
        pytest.param(BUYER_PROTECTION, Reason.OTHER, id="payment-dispute-other"),
        pytest.param(BUYER_PROTECTION, Reason.WRONG_AMOUNT, id="payment-dispute-wrong-amount"),
    ],
)
def test_reason_outside_the_program_is_an_invalid_choice(policy, reason):
    with pytest.raises(InvalidChoice) as excinfo:
        policy.rule_for(reason)

    assert excinfo.value.field == "reason"


@pytest.mark.parametrize(
    ("program", "policy"),
    [
        (Program.PAYMENT_DISPUTE, PAYMENT_DISPUTE),
        ("payment_dispute", PAYMENT_DISPUTE),
        (Program.BUYER_PROTECTION, BUYER_PROTECTION),
        ("buyer_protection", BUYER_PROTECTION),
    ],
)
def test_policy_for_finds_the_programs_policy(program, policy):
    assert policy_for(program) is policy


@pytest.mark.parametrize("program", ["chargeback", "", "PAYMENT_DISPUTE"])
def test_policy_for_an_unknown_program_is_an_invalid_choice(program):
    with pytest.raises(InvalidChoice) as excinfo:
        policy_for(program)

    assert excinfo.value.field == "program"


@pytest.mark.parametrize(
    ("state", "actor"),
    [
        (State.AWAITING_MERCHANT, Party.MERCHANT),
        (State.AWAITING_CUSTOMER, Party.CUSTOMER),
        (State.ESCALATED, Party.SUPPORT),
        (State.DECIDED, Party.NONE),
        (State.RESOLVED, Party.NONE),
        (State.WITHDRAWN, Party.NONE),
    ],
)
def test_next_actor_follows_the_state(state, actor):
    assert NEXT_ACTOR[state] == actor


# --- Money and invoice effects ------------------------------------------------------------------

E = InstructionKind


def opened(current: str, policy: ProgramPolicy, outstanding: str = "100.00"):
    return payment_on_open(current, policy, outstanding=Decimal(outstanding))


def test_opening_a_payment_dispute_pauses_an_active_invoice_for_what_is_owed():
    assert opened(PaymentState.ACTIVE, PAYMENT_DISPUTE, "60.00") == (
        PaymentState.PAUSED,
        [MoneyEffect(E.PAUSE_INVOICE, Decimal("60.00"))],
    )


def test_opening_a_buyer_protection_case_leaves_the_invoice_active():
    assert opened(PaymentState.ACTIVE, BUYER_PROTECTION) == (PaymentState.ACTIVE, [])


@pytest.mark.parametrize("policy", [PAYMENT_DISPUTE, BUYER_PROTECTION])
def test_opening_a_case_on_a_paid_order_leaves_it_paid(policy):
    assert opened(PaymentState.PAID, policy) == (PaymentState.PAID, [])


def close(current: str, outcome: str, settled: str, moved: str = "0.00", order: str = "100.00"):
    return payment_on_close(
        current,
        outcome=outcome,
        settled_amount=Decimal(settled),
        already_moved=Decimal(moved),
        at_stake=Decimal(order),
    )


def effect(kind: InstructionKind, amount: str) -> MoneyEffect:
    return MoneyEffect(kind, Decimal(amount))


PAUSED, ACTIVE, PAID = PaymentState.PAUSED, PaymentState.ACTIVE, PaymentState.PAID
CHARGED_BACK, REFUNDED = PaymentState.CHARGED_BACK, PaymentState.REFUNDED
CANCELLED = PaymentState.CANCELLED

CLOSING = {
    "for-merchant-reactivates-paused-invoice": (
        (PAUSED, Outcome.MERCHANT, "0.00"),
        (ACTIVE, [effect(E.REACTIVATE_INVOICE, "100.00")]),
    ),
    "for-merchant-paid-order-stays-paid": ((PAID, Outcome.MERCHANT, "0.00"), (PAID, [])),
    "for-merchant-active-invoice-stays-active": ((ACTIVE, Outcome.MERCHANT, "0.00"), (ACTIVE, [])),
    "for-customer-cancels-an-unpaid-invoice": (
        (PAUSED, Outcome.CUSTOMER, "100.00"),
        (CANCELLED, [effect(E.CANCEL_INVOICE, "100.00")]),
    ),
    "for-customer-on-paid-order-charges-back": (
        (PAID, Outcome.CUSTOMER, "100.00"),
        (CHARGED_BACK, [effect(E.CHARGE_BACK, "100.00")]),
    ),
    "for-customer-lower-amount-cancels-part-and-reactivates-the-rest": (
        (PAUSED, Outcome.CUSTOMER, "40.00"),
        (ACTIVE, [effect(E.CANCEL_INVOICE, "40.00"), effect(E.REACTIVATE_INVOICE, "60.00")]),
    ),
    "split-on-paid-order-charges-back-part": (
        (PAID, Outcome.SPLIT, "40.00"),
        (CHARGED_BACK, [effect(E.CHARGE_BACK, "40.00")]),
    ),
    "agreement-full-refund-cancels-the-invoice": (
        (PAUSED, Outcome.AGREEMENT, "100.00"),
        (CANCELLED, [effect(E.CANCEL_INVOICE, "100.00")]),
    ),
    "agreement-full-refund-on-paid-order-refunds": (
        (PAID, Outcome.AGREEMENT, "100.00"),
        (REFUNDED, [effect(E.REFUND, "100.00")]),
    ),
    "agreement-partial-cancels-part-and-reactivates": (
        (PAUSED, Outcome.AGREEMENT, "40.00"),
        (ACTIVE, [effect(E.CANCEL_INVOICE, "40.00"), effect(E.REACTIVATE_INVOICE, "60.00")]),
    ),
    "agreement-partial-on-active-invoice-only-cancels": (
        (ACTIVE, Outcome.AGREEMENT, "40.00"),
        (ACTIVE, [effect(E.CANCEL_INVOICE, "40.00")]),
    ),
    "agreement-no-refund-reactivates": (
        (PAUSED, Outcome.AGREEMENT, "0.00"),
        (ACTIVE, [effect(E.REACTIVATE_INVOICE, "100.00")]),
    ),
    "agreement-partial-on-paid-order-refunds-part": (
        (PAID, Outcome.AGREEMENT, "40.00"),
        (PAID, [effect(E.REFUND, "40.00")]),
    ),
    "withdrawn-reactivates": (
        (PAUSED, Outcome.WITHDRAWN, "0.00"),
        (ACTIVE, [effect(E.REACTIVATE_INVOICE, "100.00")]),
    ),
    "withdrawn-paid-order-stays-paid": ((PAID, Outcome.WITHDRAWN, "0.00"), (PAID, [])),
}


@pytest.mark.parametrize(("case", "expected"), list(CLOSING.values()), ids=list(CLOSING))
def test_money_when_a_case_closes(case, expected):
    assert close(*case) == expected


@pytest.mark.parametrize(
    ("current", "outcome", "settled", "moved", "expected"),
    [
        pytest.param(
            CHARGED_BACK,
            Outcome.MERCHANT,
            "0.00",
            "100.00",
            (PAID, [effect(E.REVERSE_CHARGEBACK, "100.00")]),
            id="appeal-won-reverses-the-chargeback",
        ),
        pytest.param(
            CANCELLED,
            Outcome.MERCHANT,
            "0.00",
            "100.00",
            (ACTIVE, [effect(E.REACTIVATE_INVOICE, "100.00")]),
            id="appeal-won-bills-the-cancelled-invoice-again",
        ),
        pytest.param(
            CHARGED_BACK,
            Outcome.SPLIT,
            "40.00",
            "100.00",
            (CHARGED_BACK, [effect(E.REVERSE_CHARGEBACK, "60.00")]),
            id="decided-again-lower-reverses-the-difference",
        ),
        pytest.param(
            CHARGED_BACK,
            Outcome.CUSTOMER,
            "100.00",
            "100.00",
            (CHARGED_BACK, []),
            id="decided-again-the-same-moves-nothing",
        ),
    ],
)
def test_a_case_decided_again_moves_only_the_difference(current, outcome, settled, moved, expected):
    assert close(current, outcome, settled, moved) == expected


def test_full_refund_agreement_compares_amounts_not_their_notation():
    assert close(PaymentState.PAUSED, Outcome.AGREEMENT, "100", order="100.00")[0] == CANCELLED


@given(
    current=st.sampled_from([PAUSED, ACTIVE, PAID]),
    outcome=st.sampled_from(list(Outcome)),
    settled=st.decimals(min_value=0, max_value=100, places=2),
)
def test_what_a_close_moves_to_the_customer_is_what_was_settled(current, outcome, settled):
    _state, effects = close(current, outcome, str(settled))
    to_customer = sum(
        (e.amount for e in effects if e.kind in (E.CANCEL_INVOICE, E.CHARGE_BACK, E.REFUND)),
        Decimal(0),
    )
    expected = settled if outcome in (Outcome.CUSTOMER, Outcome.SPLIT, Outcome.AGREEMENT) else 0
    assert to_customer == expected
    assert all(e.amount > 0 for e in effects)


# --- Support's decision: the amount moved to the customer ----------------------------------------


def settle(outcome: str, amount: str | None, disputed: str = "100.00") -> Decimal:
    return settled_amount_for_decision(
        outcome,
        None if amount is None else Decimal(amount),
        disputed_amount=Decimal(disputed),
        currency="EUR",
    )


@pytest.mark.parametrize("amount", [None, "40.00"])
def test_decision_for_the_merchant_moves_nothing(amount):
    assert settle(Outcome.MERCHANT, amount) == Decimal("0.00")


def test_decision_for_the_customer_defaults_to_the_disputed_amount():
    assert settle(Outcome.CUSTOMER, None) == Decimal("100.00")


def test_decision_for_the_customer_may_give_a_lower_amount():
    assert settle(Outcome.CUSTOMER, "40.00") == Decimal("40.00")


def test_decision_for_the_customer_of_the_whole_disputed_amount_is_allowed():
    assert settle(Outcome.CUSTOMER, "100.00") == Decimal("100.00")


def test_decision_for_the_customer_of_zero_is_rejected():
    with pytest.raises(InvalidAmount):
        settle(Outcome.CUSTOMER, "0.00")


@pytest.mark.parametrize("amount", ["0.01", "40.00", "99.99"])
def test_split_decision_is_more_than_zero_and_less_than_the_disputed_amount(amount):
    assert settle(Outcome.SPLIT, amount) == Decimal(amount)


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(None, id="missing"),
        pytest.param("0.00", id="zero"),
        pytest.param("100.00", id="whole-amount"),
        pytest.param("-1.00", id="negative"),
        pytest.param("12.345", id="three-decimals"),
    ],
)
def test_split_decision_outside_the_range_is_rejected(amount):
    with pytest.raises(InvalidAmount) as excinfo:
        settle(Outcome.SPLIT, amount)

    assert excinfo.value.field == "amount"


@pytest.mark.parametrize("outcome", [Outcome.CUSTOMER, Outcome.SPLIT])
def test_decision_above_the_disputed_amount_is_rejected(outcome):
    with pytest.raises(InvalidAmount) as excinfo:
        settle(outcome, "100.01")

    assert excinfo.value.field == "amount"
    assert "100.00" in excinfo.value.message


@pytest.mark.parametrize("outcome", [Outcome.AGREEMENT, Outcome.WITHDRAWN, Outcome.NONE, "x"])
def test_decision_with_an_outcome_support_cannot_give_is_an_invalid_choice(outcome):
    with pytest.raises(InvalidChoice) as excinfo:
        settle(outcome, "40.00")

    assert excinfo.value.field == "outcome"


# --- Buyer protection ----------------------------------------------------------------------------

PLACED_AT = utc(2025, 5, 1, 10, 0)
ENDS_AT = utc(2025, 5, 31, 10, 0)


def test_buyer_protection_ends_30_days_after_the_order():
    assert protection_ends_at(PLACED_AT) == ENDS_AT


def test_buyer_protection_check_in_is_on_day_23():
    assert protection_checkin_at(PLACED_AT) == utc(2025, 5, 24, 10, 0)
    assert protection_checkin_at(PLACED_AT) < protection_ends_at(PLACED_AT)


def test_protection_extension_is_30_days():
    assert EXTENSION_DAYS == 30


def active(
    *,
    tier: str = ProtectionTier.PLUS,
    status: str = ProtectionStatus.ACTIVE,
    ends_at: datetime | None = ENDS_AT,
    now: datetime = PLACED_AT,
) -> bool:
    return protection_is_active(tier=tier, status=status, ends_at=ends_at, now=now)


@pytest.mark.parametrize(
    "tier", [ProtectionTier.BASIC, ProtectionTier.PLUS, ProtectionTier.ONE_TIME]
)
def test_protection_taken_at_checkout_is_active_until_it_ends(tier):
    assert active(tier=tier) is True
    assert active(tier=tier, now=ENDS_AT - timedelta(microseconds=1)) is True


def test_protection_is_over_at_exactly_its_end():
    assert active(now=ENDS_AT) is False


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"tier": ProtectionTier.NONE}, id="not-taken-at-checkout"),
        pytest.param({"status": ProtectionStatus.ENDED}, id="ended-by-customer"),
        pytest.param({"status": ProtectionStatus.EXPIRED}, id="expired"),
        pytest.param({"status": ProtectionStatus.NONE}, id="no-status"),
        pytest.param({"ends_at": None}, id="no-end-date"),
        pytest.param({"now": ENDS_AT + timedelta(days=1)}, id="past-the-end"),
    ],
)
def test_protection_is_not_active(kwargs):
    assert active(**kwargs) is False


def extension(
    *,
    tier: str = ProtectionTier.PLUS,
    status: str = ProtectionStatus.ACTIVE,
    ends_at: datetime | None = ENDS_AT,
    extended: bool = False,
    now: datetime | None = None,
) -> ExtensionDecision:
    return protection_extension(
        tier=tier,
        status=status,
        ends_at=ends_at,
        extended=extended,
        now=now or protection_checkin_at(PLACED_AT),
    )


@pytest.mark.parametrize("tier", [ProtectionTier.PLUS, ProtectionTier.ONE_TIME])
def test_plus_and_one_time_protection_can_be_extended(tier):
    assert extension(tier=tier) is ExtensionDecision.GRANTED


def test_basic_protection_must_be_upgraded_before_it_can_be_extended():
    assert extension(tier=ProtectionTier.BASIC) is ExtensionDecision.UPGRADE_REQUIRED


@pytest.mark.parametrize("tier", [ProtectionTier.PLUS, ProtectionTier.ONE_TIME])
def test_protection_can_be_extended_only_once(tier):
    extended_end = ENDS_AT + timedelta(days=EXTENSION_DAYS)

    assert extension(tier=tier, ends_at=extended_end, extended=True) is (
        ExtensionDecision.ALREADY_EXTENDED
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"status": ProtectionStatus.EXPIRED}, id="expired"),
        pytest.param({"status": ProtectionStatus.ENDED}, id="ended"),
        pytest.param({"tier": ProtectionTier.NONE, "status": ProtectionStatus.NONE}, id="no-tier"),
        pytest.param({"tier": ProtectionTier.NONE}, id="no-tier-active-status"),
        pytest.param({"ends_at": None}, id="no-end-date"),
        pytest.param({"now": ENDS_AT}, id="at-the-end"),
        pytest.param({"tier": ProtectionTier.BASIC, "now": ENDS_AT}, id="basic-at-the-end"),
        pytest.param({"extended": True, "now": ENDS_AT}, id="extended-and-over"),
    ],
)
def test_protection_that_is_not_active_cannot_be_extended(kwargs):
    assert extension(**kwargs) is ExtensionDecision.NOT_ACTIVE


# --- Eligibility ---------------------------------------------------------------------------------


def eligibility(
    program: str,
    *,
    payment_state: str = PaymentState.ACTIVE,
    tier: str = ProtectionTier.NONE,
    protection_status: str = ProtectionStatus.NONE,
    protection_ends_at: datetime | None = None,
    history: tuple[PastCase, ...] = (),
    now: datetime = PLACED_AT,
) -> None:
    check_program_eligibility(
        program,
        payment_state=payment_state,
        tier=tier,
        protection_status=protection_status,
        protection_ends_at=protection_ends_at,
        history=history,
        now=now,
        support_email="help@portal.example",
    )


@pytest.mark.parametrize("state", [PaymentState.ACTIVE, PaymentState.PAID])
def test_payment_dispute_is_open_to_an_unsettled_order(state):
    assert eligibility(Program.PAYMENT_DISPUTE, payment_state=state) is None


def test_payment_dispute_does_not_need_buyer_protection():
    assert eligibility(Program.PAYMENT_DISPUTE, tier=ProtectionTier.NONE) is None


@pytest.mark.parametrize("state", [PaymentState.REFUNDED, PaymentState.CHARGED_BACK])
def test_payment_dispute_is_refused_for_a_refunded_or_charged_back_order(state):
    with pytest.raises(NotEligible) as excinfo:
        eligibility(Program.PAYMENT_DISPUTE, payment_state=state)

    assert excinfo.value.message != NotEligible.default_message


def test_buyer_protection_case_is_open_while_protection_is_active():
    assert (
        eligibility(
            Program.BUYER_PROTECTION,
            tier=ProtectionTier.BASIC,
            protection_status=ProtectionStatus.ACTIVE,
            protection_ends_at=ENDS_AT,
        )
        is None
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="not-taken-at-checkout"),
        pytest.param(
            {
                "tier": ProtectionTier.PLUS,
                "protection_status": ProtectionStatus.EXPIRED,
                "protection_ends_at": ENDS_AT,
            },
            id="expired",
        ),
        pytest.param(
            {
                "tier": ProtectionTier.PLUS,
                "protection_status": ProtectionStatus.ENDED,
                "protection_ends_at": ENDS_AT,
            },
            id="ended-all-fine",
        ),
        pytest.param(
            {
                "tier": ProtectionTier.PLUS,
                "protection_status": ProtectionStatus.ACTIVE,
                "protection_ends_at": ENDS_AT,
                "now": ENDS_AT,
            },
            id="period-over",
        ),
    ],
)
def test_buyer_protection_case_is_refused_without_active_protection(kwargs):
    with pytest.raises(NotEligible) as excinfo:
        eligibility(Program.BUYER_PROTECTION, **kwargs)

    assert excinfo.value.message != NotEligible.default_message


def test_eligibility_for_an_unknown_program_is_an_invalid_choice():
    with pytest.raises(InvalidChoice) as excinfo:
        eligibility("chargeback")

    assert excinfo.value.field == "program"


# --- One history per order -----------------------------------------------------------------------

ACTIVE_PROTECTION = {
    "tier": ProtectionTier.PLUS,
    "protection_status": ProtectionStatus.ACTIVE,
    "protection_ends_at": ENDS_AT,
}


@pytest.mark.parametrize("state", [State.DECIDED, State.RESOLVED])
@pytest.mark.parametrize("program", [Program.PAYMENT_DISPUTE, Program.BUYER_PROTECTION])
def test_a_decided_or_settled_case_is_the_orders_last_word_on_its_program(program, state):
    earlier = PastCase(public_id="DP-AAAA-BBBB-CCCC", program=program, state=state)

    with pytest.raises(CaseAlreadyClosed) as refused:
        eligibility(program, history=(earlier,), **ACTIVE_PROTECTION)

    assert refused.value.public_id == "DP-AAAA-BBBB-CCCC"
    assert "DP-AAAA-BBBB-CCCC" in refused.value.message
    assert "help@portal.example" in refused.value.message  # how to reach support
    assert isinstance(refused.value, NotEligible)


def test_a_withdrawn_case_does_not_block_a_new_one_while_the_program_allows_it():
    withdrawn = PastCase("DP-AAAA-BBBB-CCCC", Program.BUYER_PROTECTION, State.WITHDRAWN)

    assert eligibility(Program.BUYER_PROTECTION, history=(withdrawn,), **ACTIVE_PROTECTION) is None


def test_a_closed_case_of_the_other_program_does_not_block():
    decided = PastCase("DP-AAAA-BBBB-CCCC", Program.BUYER_PROTECTION, State.DECIDED)

    assert eligibility(Program.PAYMENT_DISPUTE, history=(decided,)) is None


@pytest.mark.parametrize("state", [PaymentState.CHARGED_BACK, PaymentState.REFUNDED])
def test_buyer_protection_is_refused_once_the_money_went_back(state):
    with pytest.raises(NotEligible):
        eligibility(Program.BUYER_PROTECTION, payment_state=state, **ACTIVE_PROTECTION)


@pytest.mark.parametrize(
    ("program", "outcome", "payment_state", "ends"),
    [
        (Program.BUYER_PROTECTION, Outcome.CUSTOMER, PaymentState.CHARGED_BACK, True),
        (Program.BUYER_PROTECTION, Outcome.MERCHANT, PaymentState.ACTIVE, True),
        (Program.BUYER_PROTECTION, Outcome.AGREEMENT, PaymentState.ACTIVE, True),
        (Program.BUYER_PROTECTION, Outcome.WITHDRAWN, PaymentState.ACTIVE, False),
        (Program.PAYMENT_DISPUTE, Outcome.MERCHANT, PaymentState.ACTIVE, False),
        (Program.PAYMENT_DISPUTE, Outcome.CUSTOMER, PaymentState.CHARGED_BACK, True),
        (Program.PAYMENT_DISPUTE, Outcome.AGREEMENT, PaymentState.REFUNDED, True),
        (Program.PAYMENT_DISPUTE, Outcome.WITHDRAWN, PaymentState.ACTIVE, False),
    ],
)
def test_protection_ends_with_its_case_and_when_the_money_goes_back(
    program, outcome, payment_state, ends
):
    assert (
        protection_ended_by(program=program, outcome=outcome, payment_state=payment_state) is ends
    )


@pytest.mark.parametrize(
    ("state", "other_open", "allowed"),
    [
        (State.DECIDED, False, True),
        (State.RESOLVED, False, True),
        (State.WITHDRAWN, False, False),
        (State.ESCALATED, False, False),
        (State.DECIDED, True, False),
    ],
)
def test_support_reopens_only_a_decided_or_settled_case(state, other_open, allowed):
    assert can_reopen(state=state, order_has_open_case=other_open) is allowed


@pytest.mark.parametrize(
    ("state", "appealed", "expected"),
    [
        (State.ESCALATED, True, True),
        (State.INFO_REQUESTED, True, True),
        (State.DECIDED, True, False),  # decided again: the appeal is over
        (State.ESCALATED, False, False),
    ],
)
def test_a_case_is_under_appeal_while_the_appeal_is_with_support(state, appealed, expected):
    assert under_appeal(state=state, appealed=appealed) is expected


def test_another_request_is_not_a_claim_and_every_other_reason_is():
    assert Reason.OTHER_REQUEST not in CLAIM_REASONS
    assert set(Reason.values) - {Reason.OTHER_REQUEST} == CLAIM_REASONS


# --- Windows end at the end of a local day, also where DST changes at midnight --------------------


def test_the_appeal_window_runs_to_the_end_of_its_14th_local_day():
    decided = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 16:30 in Amsterdam

    closes = appeal_deadline(decided, time_zone="Europe/Amsterdam", country="NL")

    assert closes == datetime(2026, 3, 16, 23, 0, tzinfo=UTC)  # 17 March 00:00 in Amsterdam
    args = {"closed_at": decided, "appealed": False, "time_zone": "Europe/Amsterdam"}
    assert appeal_open(**args, country="NL", now=closes - timedelta(seconds=1))
    assert not appeal_open(**args, country="NL", now=closes)


SANTIAGO = "America/Santiago"


@pytest.mark.parametrize(
    ("start", "last_day"),
    [
        # Chile's clocks jump from 00:00 to 01:00 on 6 September 2026: that day begins at 01:00.
        pytest.param(datetime(2026, 8, 15, 15, 0, tzinfo=UTC), date(2026, 9, 5), id="spring"),
        # ...and fall back from 00:00 to 23:00 on 5 April 2026: 4 April has its last hour twice.
        pytest.param(datetime(2026, 3, 14, 15, 0, tzinfo=UTC), date(2026, 4, 4), id="autumn"),
    ],
)
def test_a_window_ending_where_dst_changes_at_midnight_shows_its_last_days_last_minute(
    start, last_day
):
    closes = deadline_after(start, Window(21), time_zone=SANTIAGO, country="CL")
    shown = deadline_for_display(closes, SANTIAGO)

    assert (shown.date(), shown.hour, shown.minute) == (last_day, 23, 59)
    zone = ZoneInfo(SANTIAGO)
    assert (closes - timedelta(seconds=1)).astimezone(zone).date() == last_day
    assert closes.astimezone(zone).date() == last_day + timedelta(days=1)


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=1, max_value=40),
    zone=st.sampled_from(
        [SANTIAGO, "Europe/Amsterdam", "Europe/Helsinki", "America/Havana", "Asia/Tehran", "UTC"]
    ),
)
def test_every_deadline_is_shown_as_the_last_minute_of_a_local_day(start, days, zone):
    closes = deadline_after(start, Window(days), time_zone=zone, country="NL")
    shown = deadline_for_display(closes, zone)

    assert (shown.hour, shown.minute) == (23, 59)
    assert shown.date() == (closes - timedelta(seconds=1)).astimezone(ZoneInfo(zone)).date()


def test_what_is_at_stake_leaves_out_other_cases_and_refunds_outside_the_portal():
    from disputes.policies import at_stake_for

    def stake(amount: str, others: str = "0", outside: str = "0", cancelled: bool = False):  # type: ignore[no-untyped-def]
        return at_stake_for(
            amount=Decimal(amount),
            moved_by_other_cases=Decimal(others),
            refunded_outside=Decimal(outside),
            cancelled=cancelled,
        )

    assert stake("100.00") == Decimal("100.00")
    assert stake("100.00", others="40.00", outside="30.00") == Decimal("30.00")
    assert stake("100.00", others="80.00", outside="30.00") == Decimal("0.00")
    assert stake("100.00", cancelled=True) == Decimal("0.00")


def test_a_case_never_moves_more_than_is_still_at_stake():
    from disputes.policies import moved_on_close

    assert moved_on_close(
        Outcome.CUSTOMER, Decimal("100.00"), at_stake=Decimal("70.00")
    ) == Decimal("70.00")
    assert moved_on_close(Outcome.SPLIT, Decimal("40.00"), at_stake=Decimal("70.00")) == Decimal(
        "40.00"
    )
    assert moved_on_close(Outcome.MERCHANT, Decimal("0.00"), at_stake=Decimal("70.00")) == 0
    state, effects = payment_on_close(
        PaymentState.REFUNDED,
        outcome=Outcome.CUSTOMER,
        settled_amount=Decimal("100.00"),
        already_moved=Decimal("0.00"),
        at_stake=Decimal("0.00"),
    )
    assert (state, effects) == (PaymentState.REFUNDED, [])
