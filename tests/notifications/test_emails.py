"""Every email kind under templates/emails/, rendered in every language the portal offers."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from disputes.choices import Outcome, Party, Program, Reason, RefundOffer, State
from disputes.notices import _NOTICES, _PARTY_NOTICES
from notifications.emails import render_email

EMAILS_DIR = Path(settings.BASE_DIR) / "templates" / "emails"
KINDS = sorted(path.name for path in EMAILS_DIR.iterdir() if path.is_dir())
LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]

HOSTILE_MESSAGE = "<script>alert('pwned')</script> Fish & Chips <b>now</b>"
DECISION_REASON = "Tracking shows no delivery & the carrier's <signature> is missing."
MERCHANT_NAME = "Smith & Sons"
ORDER_NUMBER = "ORD-2026-0042"
CASE_ID = "DP-7K3QX9"
# 23:00 UTC on the 10th is 01:00 on the 11th in Helsinki (UTC+2 in March).
LATE_EVENING_UTC = "2026-03-10T23:00:00+00:00"

# How each language writes the 11th and the 10th of March 2026 (Django's DATE_FORMAT).
MARCH_11 = {
    "en": "11 March 2026",
    "nl": "11 maart 2026",
    "fi": "11. maaliskuuta 2026",
    "sv": "11 mars 2026",
    "de": "11. März 2026",
}
MARCH_10 = {
    "en": "10 March 2026",
    "nl": "10 maart 2026",
    "fi": "10. maaliskuuta 2026",
    "sv": "10 mars 2026",
    "de": "10. März 2026",
}
# (thousands separator, decimal separator) per language.
NUMBER_SEPARATORS = {
    "en": (",", "."),
    "nl": (".", ","),
    "fi": ("\xa0", ","),
    "sv": ("\xa0", ","),
    "de": (".", ","),
}


def shown_money(amount: str, language: str, currency: str = "EUR") -> str:
    """How an amount must read: grouped thousands, two decimals, the ISO code after it."""
    thousands, decimal = NUMBER_SEPARATORS[language]
    whole, cents = f"{Decimal(amount):.2f}".split(".")
    return f"{int(whole):,}".replace(",", thousands) + f"{decimal}{cents} {currency}"


def realistic_context(**overrides: Any) -> dict[str, Any]:
    """What disputes.notices stores in the outbox: codes, ISO timestamps, decimal strings."""
    context: dict[str, Any] = {
        "case_id": CASE_ID,
        "merchant_name": MERCHANT_NAME,
        "order_number": ORDER_NUMBER,
        "order_placed_at": "2026-02-14T08:15:00+00:00",
        "currency": "EUR",
        "order_amount": "1234.5",
        "disputed_amount": "1234.50",
        "program": Program.PAYMENT_DISPUTE.value,
        "reason": Reason.NOT_RECEIVED.value,
        "state": State.AWAITING_MERCHANT.value,
        "due_at": LATE_EVENING_UTC,
        "refund_offer": RefundOffer.PARTIAL.value,
        "refund_offer_amount": "617.25",
        "settled_amount": "617.3",
        "outcome": Outcome.CUSTOMER.value,
        "decision_reason": DECISION_REASON,
        "message": HOSTILE_MESSAGE,
        "event": {"cause": "merchant_deadline", "fee": "7.5", "days_left": 3},
        "protection_ends_at": LATE_EVENING_UTC,
        # Invitations and password resets (the link itself is made when the email is sent).
        "email": "owner@shop.example",
        "valid_days": 1,
        "password_url": "http://127.0.0.1:8000/portal/password-reset/MQ/set-password/",
    }
    context.update(overrides)
    return context


def template_source(kind: str) -> str:
    return (EMAILS_DIR / kind / "subject.txt").read_text() + (
        EMAILS_DIR / kind / "body.txt"
    ).read_text()


def kinds_using(*placeholders: str) -> list[str]:
    return [kind for kind in KINDS if any(p in template_source(kind) for p in placeholders)]


DATED_KINDS = kinds_using("due_at_display", "due_at_date", "protection_ends_at_date")
MESSAGE_KINDS = kinds_using("{{ message }}")
MONEY_PLACEHOLDERS = {
    "order_amount_display": "order_amount",
    "disputed_amount_display": "disputed_amount",
    "refund_offer_amount_display": "refund_offer_amount",
    "settled_amount_display": "settled_amount",
}
MONEY_KINDS = kinds_using("fee_display", *MONEY_PLACEHOLDERS)

every_kind_and_language = pytest.mark.parametrize(
    ("kind", "language"), [(kind, language) for kind in KINDS for language in LANGUAGE_CODES]
)


def render(kind: str, language: str, time_zone: str = "Europe/Helsinki", **overrides: Any):
    return render_email(
        kind, realistic_context(**overrides), language=language, time_zone=time_zone
    )


# --- Discovery guards: the parametrized tests below really cover something ------------------------


def test_the_email_folder_holds_the_known_kinds():
    assert {"merchant_new_case", "customer_case_opened", "merchant_reminder"} <= set(KINDS)
    for kind in KINDS:
        assert (EMAILS_DIR / kind / "subject.txt").is_file(), kind
        assert (EMAILS_DIR / kind / "body.txt").is_file(), kind
    assert DATED_KINDS
    assert MESSAGE_KINDS
    assert MONEY_KINDS


def test_expected_formats_are_known_for_every_configured_language():
    assert set(LANGUAGE_CODES) <= set(MARCH_11) & set(MARCH_10) & set(NUMBER_SEPARATORS)


def test_every_kind_the_dispute_notices_can_queue_has_a_template():
    routed = {kind for audiences in _NOTICES.values() for _party, kind in audiences}
    # Reminders and information requests go to whichever side the event names.
    per_party = {
        f"{party}_{suffix}"
        for suffix in _PARTY_NOTICES.values()
        for party in (Party.MERCHANT, Party.CUSTOMER)
    }
    order_notices = {"customer_protection_checkin", "customer_protection_extended"}
    assert routed | per_party | order_notices <= set(KINDS)


# --- Every kind in every language ----------------------------------------------------------------


@every_kind_and_language
def test_subject_is_one_non_empty_line(kind, language):
    subject = render(kind, language).subject
    assert subject.strip()
    assert subject == subject.strip()
    assert "\n" not in subject
    assert "\r" not in subject


# Emails about one case or one order name the order; these are about a merchant's account.
ACCOUNT_KINDS = {
    "merchant_monthly_statement",
    "merchant_webhook_disabled",
    "merchant_invitation",
    "merchant_team_invitation",
    "merchant_password_reset",
}


@pytest.mark.parametrize(
    ("kind", "language"),
    [
        (kind, language)
        for kind in KINDS
        if kind not in ACCOUNT_KINDS
        for language in LANGUAGE_CODES
    ],
)
def test_text_body_names_the_order(kind, language):
    assert ORDER_NUMBER in render(kind, language).text


@every_kind_and_language
def test_nothing_is_left_unrendered(kind, language):
    email = render(kind, language)
    for part in (email.subject, email.text, email.html):
        for marker in ("{{", "}}", "{%", "%}", "{#"):
            assert marker not in part, (marker, part)
    # A missing value must not surface as Python's "None".
    assert "None" not in email.subject
    assert "None" not in email.text


@every_kind_and_language
def test_text_part_is_not_html_escaped(kind, language):
    email = render(kind, language)
    for escaped in ("&amp;", "&lt;", "&gt;", "&#x27;", "&quot;", "&#39;"):
        assert escaped not in email.subject
        assert escaped not in email.text
    if "merchant_name" in template_source(kind):
        assert MERCHANT_NAME in email.subject + email.text


@every_kind_and_language
def test_html_part_never_carries_live_markup_from_the_context(kind, language):
    email = render(kind, language)
    assert "<script" not in email.html
    assert "<b>now</b>" not in email.html
    assert "<signature>" not in email.html


@pytest.mark.parametrize(
    ("kind", "language"),
    [(kind, language) for kind in MESSAGE_KINDS for language in LANGUAGE_CODES],
)
def test_hostile_message_is_verbatim_in_text_and_escaped_in_html(kind, language):
    email = render(kind, language)
    assert HOSTILE_MESSAGE in email.text
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in email.html
    assert "Fish &amp; Chips &lt;b&gt;now&lt;/b&gt;" in email.html


@pytest.mark.parametrize("language", LANGUAGE_CODES)
@pytest.mark.parametrize("kind", kinds_using("{{ decision_reason }}"))
def test_decision_reason_is_verbatim_in_text_and_escaped_in_html(kind, language):
    email = render(kind, language)
    assert DECISION_REASON in email.text
    assert html.escape(DECISION_REASON) in email.html


@every_kind_and_language
def test_html_part_is_the_text_body_in_the_layout(kind, language):
    email = render(kind, language)
    assert email.html.lstrip().lower().startswith("<!doctype html>")
    assert f"<title>{html.escape(email.subject)}</title>" in email.html
    # urlize links addresses (an email address becomes a mailto: link): compare the words.
    shown = re.sub(r"<[^>]+>", "", email.html)
    for line in email.text.splitlines():
        if line.strip():
            assert html.escape(line) in shown, line
    assert CASE_ID in email.html


@pytest.mark.parametrize(
    ("kind", "language"),
    [(kind, language) for kind in DATED_KINDS for language in LANGUAGE_CODES],
)
def test_dates_are_shown_in_the_readers_time_zone(kind, language):
    email = render(kind, language, time_zone="Europe/Helsinki")
    shown = email.subject + "\n" + email.text
    assert MARCH_11[language] in shown
    assert MARCH_10[language] not in shown


@pytest.mark.parametrize(
    ("kind", "language"),
    [(kind, language) for kind in DATED_KINDS for language in LANGUAGE_CODES],
)
def test_the_same_moment_read_in_utc_is_still_the_tenth(kind, language):
    email = render(kind, language, time_zone="UTC")
    shown = email.subject + "\n" + email.text
    assert MARCH_10[language] in shown
    assert MARCH_11[language] not in shown


@pytest.mark.parametrize("language", LANGUAGE_CODES)
def test_deadline_shows_the_local_hour_and_names_the_time_zone(language):
    text = render("merchant_new_case", language, time_zone="Europe/Helsinki").text
    assert "(Europe/Helsinki)" in text
    assert "23:00" not in text
    assert "11 p.m." not in text


@pytest.mark.parametrize(
    ("kind", "language"),
    [(kind, language) for kind in MONEY_KINDS for language in LANGUAGE_CODES],
)
def test_money_is_shown_with_two_decimals_and_the_currency(kind, language):
    context = realistic_context()
    email = render(kind, language)
    source = template_source(kind)
    expected = [
        shown_money(context[key], language)
        for placeholder, key in MONEY_PLACEHOLDERS.items()
        if placeholder in source
    ]
    if "fee_display" in source:
        expected.append(shown_money(context["event"]["fee"], language))
    assert expected
    for money in expected:
        assert money in email.text, (money, email.text)


def test_english_amounts_read_as_expected():
    text = render("merchant_new_case", "en").text
    assert "1,234.50 EUR" in text
    assert render("merchant_escalated", "en").text.count("7.50 EUR") == 1


# --- Particular cases -----------------------------------------------------------------------------


def test_codes_are_shown_as_labels():
    text = render("merchant_new_case", "en").text
    assert "Payment dispute" in text
    assert "Goods not received" in text
    assert "payment_dispute" not in text
    assert "not_received" not in text


def test_decision_shows_the_outcome_label():
    text = render("customer_decision", "en", outcome=Outcome.MERCHANT.value, settled_amount="0.00")
    assert "Decided for the merchant" in text.text
    assert "Returned to you" not in text.text
    assert "please pay it" in text.text


@pytest.mark.parametrize("kind", ["merchant_new_case", "customer_case_opened"])
def test_a_case_without_a_merchant_window_says_support_handles_it(kind):
    email = render(kind, "en", due_at=None, reason=Reason.UNAUTHORIZED.value, event={"cause": ""})
    assert "support" in email.text
    assert "None" not in email.text
    assert "until" not in email.text
    assert "before" not in email.text


@pytest.mark.parametrize(("days_left", "wording"), [(1, "1 day left."), (3, "3 days left.")])
def test_reminder_counts_the_days_left(days_left, wording):
    text = render("merchant_reminder", "en", event={"days_left": days_left}).text
    assert wording in text


def test_escalation_without_a_fee_does_not_mention_one():
    text = render("merchant_escalated", "en", event={"cause": "customer_rejected"}).text
    assert "fee of" not in text


@pytest.mark.parametrize("language", [code for code in LANGUAGE_CODES if code != "en"])
def test_html_part_declares_the_readers_language(language):
    assert f'<html lang="{language}">' in render("merchant_new_case", language).html


def test_money_follows_the_currencys_minor_unit():
    text = render("merchant_new_case", "en", currency="ISK", order_amount="12900").text
    assert "12,900 ISK" in text


def test_a_deadline_at_local_midnight_reads_as_the_last_minute_of_the_day_before():
    context = {
        "case_id": "DP-AAAA-BBBB-CCCC",
        "merchant_name": "Shop",
        "order_number": "A-1",
        "program": "payment_dispute",
        "reason": "not_received",
        # 23:00 UTC on 23 March is midnight in Amsterdam: the window closes as the 23rd ends.
        "due_at": "2026-03-23T23:00:00+00:00",
        "message": "Where is it?",
        "currency": "EUR",
        "order_amount": "10.00",
    }
    rendered = render_email(
        "merchant_new_case", context, language="en", time_zone="Europe/Amsterdam"
    )
    assert "23 March 2026, 23:59" in rendered.text
    assert "24 March" not in rendered.text


def test_the_sender_name_is_in_the_readers_language(settings):
    from notifications.emails import sender_in

    settings.DEFAULT_FROM_EMAIL = "Dispute portal <disputes@portal.example>"
    assert sender_in("fi") == "Riitaportaali <disputes@portal.example>"
    assert sender_in("en") == "Dispute portal <disputes@portal.example>"
    settings.DEFAULT_FROM_EMAIL = "Acme Disputes <disputes@acme.example>"
    assert sender_in("fi") == "Acme Disputes <disputes@acme.example>"  # the operator's own name
