"""The outbox: queued in the caller's transaction, delivered once, retried with backoff."""

from __future__ import annotations

import smtplib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.db import connection, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from disputes.choices import Reason
from disputes.models import Dispute
from disputes.notices import queue_notices
from notifications import tasks
from notifications.models import Channel, DeliveryStatus, OutboxMessage
from notifications.policies import MAX_ATTEMPTS, retry_delay
from notifications.services import (
    EmailNotice,
    outbox_deliver_due,
    outbox_deliver_one,
    outbox_enqueue,
    outbox_retry,
)
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    UserFactory,
    open_dispute,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "case_id": "DP-OUTBOX1",
        "merchant_name": "Smith & Sons",
        "order_number": "ORD-5001",
        "order_placed_at": "2026-02-20T10:00:00+00:00",
        "currency": "EUR",
        "order_amount": "89.9",
        "disputed_amount": "89.90",
        "program": "payment_dispute",
        "reason": "not_received",
        "state": "awaiting_merchant",
        "due_at": "2026-03-10T23:00:00+00:00",
        "refund_offer": "",
        "refund_offer_amount": None,
        "settled_amount": None,
        "outcome": "",
        "decision_reason": "",
        "message": "The parcel never arrived.",
        "event": {"program": "payment_dispute", "reason": "not_received"},
    }
    values.update(overrides)
    return values


def notice(n: int = 1, **overrides: Any) -> EmailNotice:
    values: dict[str, Any] = {
        "kind": "merchant_new_case",
        "recipient": f"owner{n}@shop.example",
        "dedupe_key": f"merchant_new_case:{n}:owner{n}",
        "language": "en",
        "time_zone": "Europe/Amsterdam",
        "context": context(),
    }
    values.update(overrides)
    return EmailNotice(**values)


def enqueue(*notices: EmailNotice, now: datetime = NOW) -> list[OutboxMessage]:
    outbox_enqueue(notices=list(notices), now=now)
    keys = [n.dedupe_key for n in notices]
    return list(OutboxMessage.objects.filter(dedupe_key__in=keys).order_by("pk"))


class FlakyBackend(BaseEmailBackend):
    """An SMTP server that drops the first `failures` sends, then delivers to mail.outbox."""

    failures = 0
    calls = 0

    def send_messages(self, email_messages):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        if type(self).failures > 0:
            type(self).failures -= 1
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return LocmemBackend().send_messages(email_messages)


@pytest.fixture
def flaky(settings, mailoutbox):  # type: ignore[no-untyped-def]
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FlakyBackend"
    FlakyBackend.failures = 0
    FlakyBackend.calls = 0
    yield FlakyBackend
    FlakyBackend.failures = 0
    FlakyBackend.calls = 0


# --- Enqueue --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enqueue_writes_one_pending_row_per_notice():
    first = notice(1, language="fi", time_zone="Europe/Helsinki")
    second = notice(2, kind="customer_case_opened", dedupe_key="customer_case_opened:1:buyer")

    rows = enqueue(first, second)

    assert len(rows) == 2
    assert OutboxMessage.objects.count() == 2
    row = rows[0]
    assert row.channel == Channel.EMAIL
    assert row.kind == "merchant_new_case"
    assert row.recipient == "owner1@shop.example"
    assert row.language == "fi"
    assert row.time_zone == "Europe/Helsinki"
    assert row.context == context()
    assert row.status == DeliveryStatus.PENDING
    assert row.attempts == 0
    assert row.next_attempt_at == NOW
    assert row.created_at == NOW
    assert row.sent_at is None
    assert row.last_error == ""
    assert rows[1].kind == "customer_case_opened"


@pytest.mark.django_db
def test_enqueue_of_nothing_writes_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        outbox_enqueue(notices=[], now=NOW)
    assert OutboxMessage.objects.count() == 0
    assert callbacks == []


@pytest.mark.django_db
def test_enqueue_writes_inside_the_callers_transaction_and_asks_for_delivery_on_commit(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        outbox_enqueue(notices=[notice()], now=NOW)
        # Visible to the caller's own transaction before it commits; nothing sent yet.
        assert OutboxMessage.objects.filter(dedupe_key=notice().dedupe_key).exists()
        assert mailoutbox == []
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_second_enqueue_with_the_same_dedupe_key_adds_nothing():
    enqueue(notice(context=context(message="first")))
    enqueue(notice(context=context(message="second"), recipient="someone@else.example"))

    rows = list(OutboxMessage.objects.all())
    assert len(rows) == 1
    assert rows[0].context["message"] == "first"
    assert rows[0].recipient == "owner1@shop.example"


@pytest.mark.django_db
def test_the_same_dedupe_key_twice_in_one_batch_is_written_once():
    outbox_enqueue(notices=[notice(), notice()], now=NOW)
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_a_job_run_twice_sends_nothing_twice(mailoutbox):
    enqueue(notice(1), notice(2))
    outbox_deliver_due(now=NOW)
    enqueue(notice(1), notice(2), now=NOW + timedelta(minutes=5))
    outbox_deliver_due(now=NOW + timedelta(minutes=5))

    assert OutboxMessage.objects.count() == 2
    assert sorted(m.to[0] for m in mailoutbox) == ["owner1@shop.example", "owner2@shop.example"]


def _enqueue_then_fail(*notices: EmailNotice) -> None:
    """A service that queues its emails, then fails before its transaction commits."""
    with transaction.atomic():
        outbox_enqueue(notices=list(notices), now=NOW)
        raise RuntimeError("the dispute change failed")


@pytest.mark.django_db
def test_nothing_is_written_when_the_surrounding_transaction_rolls_back(
    django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        _enqueue_then_fail(notice(1), notice(2))
    assert OutboxMessage.objects.count() == 0
    assert callbacks == []
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_rolled_back_enqueue_leaves_nothing_after_a_real_rollback(mailoutbox):
    with pytest.raises(RuntimeError):
        _enqueue_then_fail(notice())
    assert OutboxMessage.objects.count() == 0
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_a_committed_notice_is_delivered_right_after_commit(mailoutbox):
    # Tasks run eagerly in tests (conftest): the on_commit hook sends at once.
    with transaction.atomic():
        outbox_enqueue(notices=[notice()], now=datetime.now(UTC))
        assert mailoutbox == []
    assert len(mailoutbox) == 1
    assert OutboxMessage.objects.get().status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_a_broker_outage_does_not_fail_the_caller(
    monkeypatch, django_capture_on_commit_callbacks, mailoutbox
):
    def broker_down() -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.deliver_outbox, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        outbox_enqueue(notices=[notice()], now=NOW)

    # The row is kept for the periodic job.
    message = OutboxMessage.objects.get()
    assert message.status == DeliveryStatus.PENDING
    assert mailoutbox == []
    assert outbox_deliver_due(now=NOW).sent == 1
    assert len(mailoutbox) == 1


# --- Delivery -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_delivery_sends_each_due_message_once_with_text_and_html(settings, mailoutbox):
    first, second = enqueue(notice(1), notice(2))

    with time_machine.travel(NOW + timedelta(seconds=3), tick=False):
        report = outbox_deliver_due(now=NOW)

    assert (report.sent, report.retried, report.failed) == (2, 0, 0)
    assert len(mailoutbox) == 2
    by_recipient = {email.to[0]: email for email in mailoutbox}
    email = by_recipient["owner1@shop.example"]
    assert isinstance(email, EmailMultiAlternatives)
    assert email.to == ["owner1@shop.example"]
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    assert email.subject == "New case DP-OUTBOX1 for order ORD-5001"
    assert "ORD-5001" in email.body
    assert "The parcel never arrived." in email.body
    assert "<" not in email.body  # plain text, not HTML
    assert len(email.alternatives) == 1
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "<html" in html
    assert "ORD-5001" in html
    assert email.extra_headers["X-Outbox-Id"] == str(first.pk)

    for row in (first, second):
        row.refresh_from_db()
        assert row.status == DeliveryStatus.SENT
        assert row.sent_at == NOW + timedelta(seconds=3)
        assert row.attempts == 1
        assert row.last_error == ""


@pytest.mark.django_db
def test_running_delivery_twice_sends_nothing_the_second_time(mailoutbox):
    enqueue(notice(1), notice(2))
    assert outbox_deliver_due(now=NOW).sent == 2
    report = outbox_deliver_due(now=NOW + timedelta(hours=1))
    assert (report.sent, report.retried, report.failed) == (0, 0, 0)
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_deliver_one_skips_a_message_already_sent(mailoutbox):
    [message] = enqueue(notice())
    assert outbox_deliver_one(message_id=message.pk, now=NOW) == "sent"
    assert outbox_deliver_one(message_id=message.pk, now=NOW) == "skipped"
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_messages_not_yet_due_are_not_sent(mailoutbox):
    [later] = enqueue(notice(), now=NOW + timedelta(hours=1))

    assert outbox_deliver_due(now=NOW).sent == 0
    assert outbox_deliver_one(message_id=later.pk, now=NOW) == "skipped"
    assert mailoutbox == []
    later.refresh_from_db()
    assert later.status == DeliveryStatus.PENDING
    assert later.attempts == 0

    assert outbox_deliver_due(now=NOW + timedelta(hours=1)).sent == 1
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_delivery_takes_the_oldest_due_messages_first_up_to_the_limit(mailoutbox):
    enqueue(notice(3), now=NOW)
    enqueue(notice(1), now=NOW - timedelta(minutes=10))
    enqueue(notice(2), now=NOW - timedelta(minutes=5))

    assert outbox_deliver_due(now=NOW, limit=2).sent == 2
    assert [m.to[0] for m in mailoutbox] == ["owner1@shop.example", "owner2@shop.example"]
    assert outbox_deliver_due(now=NOW, limit=2).sent == 1


@pytest.mark.django_db
def test_delivery_renders_in_the_messages_language_and_time_zone(mailoutbox):
    enqueue(notice(language="fi", time_zone="Europe/Helsinki"))
    outbox_deliver_due(now=NOW)
    [email] = mailoutbox
    # 2026-03-10T23:00Z is past midnight in Helsinki.
    assert "11. maaliskuuta 2026" in email.body
    assert "89,90 EUR" in email.body


@pytest.mark.django_db
def test_the_html_part_escapes_what_the_text_part_shows_verbatim(mailoutbox):
    hostile = "<script>alert(1)</script> Tom & Jerry"
    enqueue(notice(context=context(message=hostile)))
    outbox_deliver_due(now=NOW)
    [email] = mailoutbox
    assert hostile in email.body
    html, _mimetype = email.alternatives[0]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tom &amp; Jerry" in html


@pytest.mark.django_db
def test_the_delivery_task_sends_what_is_due(mailoutbox):
    enqueue(notice(), now=datetime.now(UTC) - timedelta(minutes=1))
    assert tasks.deliver_outbox() == {"sent": 1, "retried": 0, "failed": 0}
    assert len(mailoutbox) == 1


# --- SMTP failures, backoff, giving up, sending again ---------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPException("421 Service not available"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["smtp-error", "smtp-disconnected", "connection-refused"],
)
def test_a_failed_send_stays_pending_with_the_error_and_a_later_attempt(
    monkeypatch, mailoutbox, error
):
    def fail(self, fail_silently=False):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(EmailMultiAlternatives, "send", fail)
    [message] = enqueue(notice())

    report = outbox_deliver_due(now=NOW)

    assert (report.sent, report.retried, report.failed) == (0, 1, 0)
    message.refresh_from_db()
    assert message.status == DeliveryStatus.PENDING
    assert message.attempts == 1
    assert message.last_error.startswith(type(error).__name__)
    assert str(error) in message.last_error
    assert message.next_attempt_at == NOW + retry_delay(1)
    assert message.sent_at is None
    assert mailoutbox == []


@pytest.mark.django_db
def test_retries_back_off_and_send_exactly_once_when_the_server_recovers(flaky, mailoutbox):
    flaky.failures = 2
    [message] = enqueue(notice())

    with time_machine.travel(NOW, tick=False):
        assert outbox_deliver_due().retried == 1
    message.refresh_from_db()
    assert message.attempts == 1
    assert message.next_attempt_at == NOW + timedelta(minutes=1)

    # Before the backoff has passed nothing is tried.
    with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
        assert outbox_deliver_due().retried == 0
    assert flaky.calls == 1

    second_try = NOW + timedelta(minutes=1)
    with time_machine.travel(second_try, tick=False):
        assert outbox_deliver_due().retried == 1
    message.refresh_from_db()
    assert message.attempts == 2
    assert message.next_attempt_at == second_try + timedelta(minutes=2)
    assert "SMTPServerDisconnected" in message.last_error
    assert mailoutbox == []

    third_try = second_try + timedelta(minutes=2)
    with time_machine.travel(third_try, tick=False):
        assert outbox_deliver_due().sent == 1
    with time_machine.travel(third_try + timedelta(hours=1), tick=False):
        assert outbox_deliver_due().sent == 0

    assert len(mailoutbox) == 1
    assert flaky.calls == 3
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT
    assert message.sent_at == third_try
    assert message.attempts == 3
    assert message.last_error == ""


@pytest.mark.django_db
def test_a_failing_message_does_not_hold_back_the_others(flaky, mailoutbox):
    flaky.failures = 1
    first, second = enqueue(notice(1), notice(2))

    report = outbox_deliver_due(now=NOW)

    assert (report.sent, report.retried) == (1, 1)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == DeliveryStatus.PENDING
    assert second.status == DeliveryStatus.SENT
    assert [m.to[0] for m in mailoutbox] == ["owner2@shop.example"]


def _fail_until_given_up(message: OutboxMessage) -> list[str]:
    outcomes = []
    for _attempt in range(MAX_ATTEMPTS):
        message.refresh_from_db()
        outcomes.append(outbox_deliver_one(message_id=message.pk, now=message.next_attempt_at))
    message.refresh_from_db()
    return outcomes


@pytest.mark.django_db
def test_after_max_attempts_a_message_is_marked_failed(flaky, mailoutbox):
    flaky.failures = 1000
    [message] = enqueue(notice())

    outcomes = _fail_until_given_up(message)

    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert message.status == DeliveryStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert "SMTPServerDisconnected" in message.last_error
    assert message.sent_at is None
    # The waits between attempts followed the backoff.
    assert message.next_attempt_at == NOW + sum(
        (retry_delay(n) for n in range(1, MAX_ATTEMPTS)), timedelta()
    )
    # A failed message is not picked up again by the periodic job.
    assert outbox_deliver_due(now=NOW + timedelta(days=30)).retried == 0
    assert flaky.calls == MAX_ATTEMPTS
    assert mailoutbox == []


@pytest.mark.django_db
def test_outbox_retry_puts_a_failed_message_back_and_it_is_delivered(
    flaky, mailoutbox, django_capture_on_commit_callbacks
):
    flaky.failures = MAX_ATTEMPTS
    [message] = enqueue(notice())
    _fail_until_given_up(message)
    assert message.status == DeliveryStatus.FAILED

    later = NOW + timedelta(days=2)
    with django_capture_on_commit_callbacks() as callbacks:
        assert outbox_retry(message_ids=[message.pk], now=later) == 1
    assert len(callbacks) == 1

    message.refresh_from_db()
    assert message.status == DeliveryStatus.PENDING
    assert message.attempts == 0
    assert message.last_error == ""
    assert message.next_attempt_at == later

    assert outbox_deliver_due(now=later).sent == 1
    assert outbox_deliver_due(now=later + timedelta(hours=1)).sent == 0
    assert len(mailoutbox) == 1
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT


@pytest.mark.django_db
def test_outbox_retry_leaves_pending_and_sent_messages_alone(mailoutbox):
    sent, pending = enqueue(notice(1), notice(2))
    outbox_deliver_one(message_id=sent.pk, now=NOW)

    assert outbox_retry(message_ids=[sent.pk, pending.pk], now=NOW + timedelta(hours=1)) == 0

    sent.refresh_from_db()
    pending.refresh_from_db()
    assert sent.status == DeliveryStatus.SENT
    assert pending.next_attempt_at == NOW
    outbox_deliver_due(now=NOW + timedelta(hours=2))
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_a_message_that_cannot_be_rendered_does_not_block_the_queue(mailoutbox):
    broken, _good = enqueue(
        notice(1, kind="no_such_email_kind"),
        notice(2),
    )

    outbox_deliver_due(now=NOW)

    assert [m.to[0] for m in mailoutbox] == ["owner2@shop.example"]
    broken.refresh_from_db()
    assert broken.status != DeliveryStatus.SENT
    assert broken.last_error


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_message_claimed_by_another_worker_is_skipped_not_waited_for(mailoutbox):
    # Due tomorrow, so the delivery the commit triggers (autocommit here) leaves it alone.
    due = datetime.now(UTC) + timedelta(days=1)
    [message] = enqueue(notice(), now=due)
    assert mailoutbox == []
    locked = threading.Event()
    release = threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(pk=message.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    try:
        assert locked.wait(timeout=10)
        assert outbox_deliver_one(message_id=message.pk, now=due) == "skipped"
        assert outbox_deliver_due(now=due).sent == 0
    finally:
        release.set()
        worker.join(timeout=10)
    assert mailoutbox == []
    assert outbox_deliver_due(now=due).sent == 1


# --- The admin's "send again" ---------------------------------------------------------------------


@pytest.fixture
def staff_client(client, admin_user):  # type: ignore[no-untyped-def]
    assert admin_user.is_staff
    assert admin_user.is_superuser
    client.force_login(admin_user)
    return client


@pytest.mark.django_db
def test_admin_lists_outbox_messages_and_offers_no_add(staff_client):
    enqueue(notice())
    changelist = staff_client.get(reverse("admin:notifications_outboxmessage_changelist"))
    assert changelist.status_code == 200
    assert "owner1@shop.example" in changelist.content.decode()
    assert "send_again" in changelist.content.decode()
    add = staff_client.get(reverse("admin:notifications_outboxmessage_add"))
    assert add.status_code == 403


@pytest.mark.django_db
def test_admin_send_again_requeues_a_failed_message_and_it_is_delivered(
    staff_client, flaky, mailoutbox, django_capture_on_commit_callbacks
):
    flaky.failures = MAX_ATTEMPTS
    [message] = enqueue(notice())
    _fail_until_given_up(message)
    assert message.status == DeliveryStatus.FAILED

    url = reverse("admin:notifications_outboxmessage_changelist")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = staff_client.post(
            url, {"action": "send_again", "_selected_action": [message.pk]}, follow=True
        )

    assert response.status_code == 200
    assert "1 message queued again." in response.content.decode()
    assert len(callbacks) == 1
    # The after-commit hook ran the delivery task (eager in tests).
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT
    assert message.attempts == 1
    assert [m.to[0] for m in mailoutbox] == ["owner1@shop.example"]


@pytest.mark.django_db
def test_admin_send_again_on_a_sent_message_changes_nothing(staff_client, mailoutbox):
    [message] = enqueue(notice())
    outbox_deliver_due(now=NOW)
    response = staff_client.post(
        reverse("admin:notifications_outboxmessage_changelist"),
        {"action": "send_again", "_selected_action": [message.pk]},
        follow=True,
    )
    assert "0 messages queued again." in response.content.decode()
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT
    assert len(mailoutbox) == 1


@pytest.mark.django_db
def test_send_again_is_refused_to_a_user_who_is_not_staff(client, mailoutbox):
    [message] = enqueue(notice())
    client.force_login(UserFactory())
    response = client.post(
        reverse("admin:notifications_outboxmessage_changelist"),
        {"action": "send_again", "_selected_action": [message.pk]},
    )
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- End to end through the dispute services ------------------------------------------------------


@pytest.fixture
def merchant():  # type: ignore[no-untyped-def]
    return MerchantFactory(language="fi", time_zone="Europe/Helsinki")


@pytest.fixture
def merchant_users(merchant):  # type: ignore[no-untyped-def]
    owner = MembershipFactory(merchant=merchant)
    agent = MembershipFactory(merchant=merchant, role="agent")
    # Nobody else hears about the case: not a former employee, not a user without an
    # address, not another shop's user.
    MembershipFactory(merchant=merchant, user=UserFactory(is_active=False))
    MembershipFactory(merchant=merchant, user=UserFactory(email=""))
    MembershipFactory()
    return [owner.user, agent.user]


@pytest.fixture
def order(merchant):  # type: ignore[no-untyped-def]
    return OrderFactory(
        merchant=merchant, customer_email="buyer@mail.example", customer_language="sv"
    )


@pytest.mark.django_db
def test_opening_a_payment_dispute_queues_one_email_per_merchant_user_and_one_for_the_customer(
    merchant, merchant_users, order, mailoutbox
):
    dispute = open_dispute(order=order)

    rows = list(OutboxMessage.objects.all())
    assert all(row.dispute_id == dispute.pk for row in rows)
    merchant_rows = [row for row in rows if row.kind == "merchant_new_case"]
    customer_rows = [row for row in rows if row.kind == "customer_case_opened"]
    assert len(rows) == 3
    assert sorted(row.recipient for row in merchant_rows) == sorted(
        user.email for user in merchant_users
    )
    assert [row.recipient for row in customer_rows] == ["buyer@mail.example"]
    assert {row.language for row in merchant_rows} == {merchant.language}
    assert customer_rows[0].language == order.customer_language
    assert {row.time_zone for row in rows} == {merchant.time_zone}
    for row in rows:
        assert row.status == DeliveryStatus.PENDING
        assert row.context["case_id"] == dispute.public_id
        assert row.context["order_number"] == order.order_number
        assert row.context["due_at"] == dispute.due_at.isoformat()
    # Nothing leaves before the transaction commits.
    assert mailoutbox == []

    report = outbox_deliver_due()

    assert report.sent == 3
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        [*(user.email for user in merchant_users), "buyer@mail.example"]
    )
    for email in mailoutbox:
        assert dispute.public_id in email.subject
        assert order.order_number in email.body
        assert email.alternatives[0][1] == "text/html"
    assert outbox_deliver_due().sent == 0


@pytest.mark.django_db
def test_opening_a_dispute_sends_its_emails_after_commit(
    merchant, merchant_users, order, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        dispute = open_dispute(order=order)

    assert len(mailoutbox) == 3
    assert all(dispute.public_id in email.subject for email in mailoutbox)
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.django_db
def test_merchant_and_customer_emails_use_their_own_language_formats(
    merchant, merchant_users, order, mailoutbox
):
    open_dispute(order=order)
    outbox_deliver_due()
    customer_email = next(m for m in mailoutbox if m.to == ["buyer@mail.example"])
    merchant_email = next(m for m in mailoutbox if m.to != ["buyer@mail.example"])
    # Order amount 100.00: Finnish for the merchant, the deadline in Swedish for the customer.
    assert "100,00 EUR" in merchant_email.body
    assert "kello" in merchant_email.body
    assert "kello" not in customer_email.body


@pytest.mark.django_db
def test_queueing_the_same_events_again_adds_and_sends_nothing(
    merchant, merchant_users, order, mailoutbox
):
    dispute = open_dispute(order=order)
    outbox_deliver_due()
    assert len(mailoutbox) == 3

    events = list(
        Dispute.objects.get(pk=dispute.pk).events.select_related(
            "dispute__merchant", "dispute__order"
        )
    )
    with transaction.atomic():
        queue_notices(events=events, now=datetime.now(UTC))

    assert OutboxMessage.objects.count() == 3
    assert outbox_deliver_due().sent == 0
    assert len(mailoutbox) == 3


@pytest.mark.django_db
def test_an_unauthorized_purchase_tells_the_merchant_it_went_straight_to_support(
    merchant, merchant_users, order, mailoutbox
):
    dispute = open_dispute(order=order, reason=Reason.UNAUTHORIZED)

    kinds = sorted(OutboxMessage.objects.values_list("kind", "recipient"))
    owner, agent = sorted(user.email for user in merchant_users)
    assert kinds == sorted(
        [
            ("customer_case_opened", "buyer@mail.example"),
            ("merchant_escalated", owner),
            ("merchant_escalated", agent),
            ("merchant_new_case", owner),
            ("merchant_new_case", agent),
        ]
    )
    outbox_deliver_due()
    customer = next(m for m in mailoutbox if m.to == ["buyer@mail.example"])
    assert dispute.public_id in customer.subject
    with translation.override("sv"):  # the customer's language
        assert gettext("Our support team handles this case and will contact you.") in customer.body
    new_case_id = str(OutboxMessage.objects.filter(kind="merchant_new_case").first().pk)
    new_case = next(m for m in mailoutbox if m.extra_headers["X-Outbox-Id"] == new_case_id)
    with translation.override("fi"):  # the merchant's language
        assert gettext("This case went straight to support.") in new_case.body
    assert "None" not in new_case.body
