"""The beat jobs: on time, late, twice, and racing a user's action (on PostgreSQL)."""

import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import FeeLine
from disputes import services, tasks
from disputes.choices import (
    CustomerReply,
    EventType,
    Outcome,
    Party,
    PaymentState,
    ProtectionStatus,
    Reason,
    RefundOffer,
    State,
)
from disputes.errors import DeadlinePassed, TransitionNotAllowed
from disputes.models import Dispute, DisputeEvent, Order
from notifications.models import OutboxMessage
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    customer_actor,
    decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 3, 23, 23, 0, tzinfo=UTC)  # 21 days, to local midnight in Amsterdam


def merchant_with_user():
    merchant = MerchantFactory()
    MembershipFactory(merchant=merchant)
    return merchant


def count(dispute, event_type):
    return DisputeEvent.objects.filter(dispute=dispute, event_type=event_type).count()


# --- Merchant window -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_unanswered_dispute_escalates_after_21_days():
    dispute = open_dispute(merchant=merchant_with_user(), now=NOW)
    assert dispute.due_at == DUE

    with time_machine.travel(DUE - timedelta(seconds=1), tick=False):
        assert tasks.escalate_overdue_merchant_windows() == 0
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_MERCHANT

    with time_machine.travel(DUE, tick=False):
        assert tasks.escalate_overdue_merchant_windows() == 1
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert dispute.escalated_at == DUE
    assert dispute.next_actor == Party.SUPPORT
    assert FeeLine.objects.filter(dispute=dispute).count() == 1
    escalated = dispute.events.get(event_type=EventType.ESCALATED)
    assert escalated.data == {"cause": "merchant_deadline", "fee": "7.50"}
    assert OutboxMessage.objects.filter(dispute=dispute, kind="merchant_escalated").count() == 1


@pytest.mark.django_db
def test_running_the_sweep_twice_changes_nothing_the_second_time():
    dispute = open_dispute(merchant=merchant_with_user(), now=NOW)
    assert services.dispute_escalate_overdue(now=DUE) == 1
    outbox_after_first = OutboxMessage.objects.count()
    assert services.dispute_escalate_overdue(now=DUE) == 0
    assert services.dispute_escalate_overdue(now=DUE + timedelta(hours=1)) == 0
    assert count(dispute, EventType.ESCALATED) == 1
    assert FeeLine.objects.filter(dispute=dispute).count() == 1
    assert OutboxMessage.objects.count() == outbox_after_first


@pytest.mark.django_db
def test_a_late_sweep_escalates_once_as_if_it_had_run_on_time():
    dispute = open_dispute(merchant=merchant_with_user(), now=NOW)
    late = DUE + timedelta(days=3)
    assert services.dispute_escalate_overdue(now=late) == 1
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert FeeLine.objects.filter(dispute=dispute).count() == 1
    assert count(dispute, EventType.ESCALATED) == 1


@pytest.mark.django_db
def test_an_answer_in_time_is_never_escalated():
    dispute = open_dispute(now=NOW)
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.NONE,
        amount=None,
        message="No.",
        now=DUE - timedelta(microseconds=1),
    )
    assert services.dispute_escalate_overdue(now=DUE) == 0
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_CUSTOMER


@pytest.mark.django_db
def test_the_sweep_works_in_batches_with_a_fixed_number_of_queries():
    merchant = merchant_with_user()
    for _ in range(7):
        open_dispute(merchant=merchant, now=NOW)
    assert services.dispute_escalate_overdue(now=DUE, batch_size=3) == 7
    assert Dispute.objects.filter(state=State.ESCALATED).count() == 7
    assert FeeLine.objects.count() == 7


@pytest.mark.django_db
def test_sweep_queries_do_not_grow_with_the_number_of_cases():
    def queries_to_escalate(cases: int, at: datetime) -> int:
        merchant = merchant_with_user()
        for _ in range(cases):
            open_dispute(merchant=merchant, now=at - timedelta(days=30))
        with CaptureQueriesContext(connection) as captured:
            assert services.dispute_escalate_overdue(now=at, batch_size=100) == cases
        return len(captured)

    assert queries_to_escalate(2, NOW) == queries_to_escalate(12, NOW + timedelta(days=60))


# --- Customer window -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_silent_customer_accepts_the_offer_after_20_days():
    dispute = open_dispute(now=NOW)
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.PARTIAL,
        amount="40.00",
        message="Partial refund sent.",
        now=NOW,
    )
    dispute.refresh_from_db()
    customer_due = dispute.due_at
    assert (
        services.dispute_close_overdue_customer_windows(now=customer_due - timedelta(seconds=1))
        == 0
    )
    with time_machine.travel(customer_due, tick=False):
        assert tasks.close_overdue_customer_windows() == 1
        assert tasks.close_overdue_customer_windows() == 0
    dispute.refresh_from_db()
    assert dispute.state == State.RESOLVED
    assert dispute.outcome == Outcome.AGREEMENT
    assert str(dispute.settled_amount) == "40.00"
    assert dispute.order.payment_state == PaymentState.ACTIVE  # the rest is to be paid
    resolved = dispute.events.get(event_type=EventType.RESOLVED)
    assert resolved.data["cause"] == "customer_silent"
    assert not FeeLine.objects.exists()


# --- Information requests ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_merchant_silent_to_support_loses_the_case():
    dispute = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW)
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.MERCHANT, message="Proof?", now=NOW
    )
    dispute.refresh_from_db()
    assert services.dispute_expire_information_requests(now=dispute.due_at) == 1
    assert services.dispute_expire_information_requests(now=dispute.due_at) == 0
    dispute.refresh_from_db()
    assert dispute.state == State.DECIDED
    assert dispute.outcome == Outcome.CUSTOMER
    assert dispute.decided_by is None
    assert "did not send the information" in dispute.decision_reason
    assert dispute.order.payment_state == PaymentState.CANCELLED


@pytest.mark.django_db
def test_a_customer_silent_to_support_sends_the_case_back_to_support():
    dispute = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW)
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.CUSTOMER, message="Photos?", now=NOW
    )
    dispute.refresh_from_db()
    services.dispute_expire_information_requests(now=dispute.due_at)
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert dispute.due_at is None
    assert count(dispute, EventType.INFO_REQUEST_EXPIRED) == 1


# --- Reminders -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_merchant_reminders_go_out_7_3_and_1_days_before_each_once():
    dispute = open_dispute(merchant=merchant_with_user(), now=NOW)
    for days_before in (7, 3, 1):
        moment = DUE - timedelta(days=days_before)
        with time_machine.travel(moment - timedelta(seconds=1), tick=False):
            assert tasks.queue_due_reminders() == 0
        with time_machine.travel(moment, tick=False):
            assert tasks.queue_due_reminders() == 1
            assert tasks.queue_due_reminders() == 0
    reminders = list(
        dispute.events.filter(event_type=EventType.REMINDER_SENT).values_list("data", flat=True)
    )
    assert [r["days_left"] for r in reminders] == [7, 3, 1]
    assert OutboxMessage.objects.filter(dispute=dispute, kind="merchant_reminder").count() == 3
    dispute.refresh_from_db()
    assert dispute.reminder_due_at is None


@pytest.mark.django_db
def test_a_late_reminder_run_sends_one_reminder_not_a_burst():
    dispute = open_dispute(merchant=merchant_with_user(), now=NOW)
    assert services.dispute_send_due_reminders(now=DUE - timedelta(days=2)) == 1
    dispute.refresh_from_db()
    assert dispute.reminder_due_at == DUE - timedelta(days=1)
    assert count(dispute, EventType.REMINDER_SENT) == 1


@pytest.mark.django_db
def test_no_reminder_after_the_deadline_or_once_answered():
    dispute = open_dispute(now=NOW)
    assert services.dispute_send_due_reminders(now=DUE) == 0
    assert count(dispute, EventType.REMINDER_SENT) == 0
    answered = open_dispute(now=NOW)
    services.dispute_respond(
        dispute=answered,
        actor=merchant_actor(answered.merchant),
        refund=RefundOffer.FULL,
        amount=None,
        message="Refunded",
        now=NOW,
    )
    services.dispute_send_due_reminders(now=DUE - timedelta(days=7))
    assert count(answered, EventType.REMINDER_SENT) == 0


@pytest.mark.django_db
def test_the_customer_is_reminded_before_the_reply_window_ends():
    dispute = open_dispute(now=NOW)
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.NONE,
        amount=None,
        message="No.",
        now=NOW,
    )
    dispute.refresh_from_db()
    assert services.dispute_send_due_reminders(now=dispute.due_at - timedelta(days=3)) == 1
    assert OutboxMessage.objects.filter(dispute=dispute, kind="customer_reminder").count() == 1


# --- Buyer protection ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_day_23_check_in_is_sent_once_and_not_when_a_case_is_open():
    quiet = OrderFactory(protected=True, placed_at=NOW)
    with_case = OrderFactory(protected=True, placed_at=NOW)
    open_dispute(order=with_case, program="buyer_protection", now=NOW + timedelta(days=1))
    assert services.order_send_protection_checkins(now=NOW + timedelta(days=23, seconds=-1)) == 0
    with time_machine.travel(NOW + timedelta(days=23), tick=False):
        assert tasks.send_protection_checkins() == 1
        assert tasks.send_protection_checkins() == 0
    quiet.refresh_from_db()
    assert quiet.protection_checkin_sent_at == NOW + timedelta(days=23)
    checkin = OutboxMessage.objects.get(kind="customer_protection_checkin")
    assert checkin.recipient == quiet.customer_email


@pytest.mark.django_db
def test_protection_expires_at_day_30_or_60_after_an_extension():
    plain = OrderFactory(protected=True, placed_at=NOW)
    extended = OrderFactory(protected=True, placed_at=NOW)
    services.order_extend_protection(order=extended, now=NOW + timedelta(days=23))
    assert services.order_expire_protection(now=NOW + timedelta(days=30, seconds=-1)) == 0
    with time_machine.travel(NOW + timedelta(days=30), tick=False):
        assert tasks.expire_protection() == 1
        assert tasks.expire_protection() == 0
    assert services.order_expire_protection(now=NOW + timedelta(days=60)) == 1
    statuses = dict(Order.objects.values_list("pk", "protection_status"))
    assert statuses == {plain.pk: ProtectionStatus.EXPIRED, extended.pk: ProtectionStatus.EXPIRED}


# --- Races on PostgreSQL, with real concurrent connections ----------------------------------------


def run_together(*actions):
    """Start the actions in threads at the same instant; each gets its own DB connection."""
    barrier = threading.Barrier(len(actions))
    results: list[object] = [None] * len(actions)

    def runner(index, action):
        try:
            barrier.wait()
            results[index] = action()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=runner, args=(i, action)) for i, action in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


ROUNDS = 25


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_merchant_answer_racing_the_deadline_sweep_takes_effect_exactly_once():
    merchant = merchant_with_user()
    actor = merchant_actor(merchant)
    winners: Counter[str] = Counter()
    for _ in range(ROUNDS):
        dispute = open_dispute(merchant=merchant, now=NOW)

        def answer(dispute=dispute):
            return services.dispute_respond(
                dispute=dispute,
                actor=actor,
                refund=RefundOffer.FULL,
                amount=None,
                message="Refunded",
                now=DUE - timedelta(microseconds=1),
            )

        answer_result, swept = run_together(
            answer, lambda: services.dispute_escalate_overdue(now=DUE)
        )
        dispute.refresh_from_db()
        offers, escalations = (
            count(dispute, EventType.OFFER_MADE),
            count(dispute, EventType.ESCALATED),
        )
        fees = FeeLine.objects.filter(dispute=dispute).count()
        if isinstance(answer_result, Dispute):
            winners["merchant"] += 1
            assert (dispute.state, swept, offers, escalations, fees) == (
                State.AWAITING_CUSTOMER,
                0,
                1,
                0,
                0,
            )
        else:
            winners["sweep"] += 1
            assert isinstance(answer_result, DeadlinePassed), answer_result
            assert (dispute.state, swept, offers, escalations, fees) == (
                State.ESCALATED,
                1,
                0,
                1,
                1,
            )
        sent = Counter(
            OutboxMessage.objects.filter(dispute=dispute).values_list("kind", "recipient")
        )
        assert all(n == 1 for n in sent.values()), sent
    print(f"\n{ROUNDS} rounds of answer vs sweep: {dict(winners)}")
    assert sum(winners.values()) == ROUNDS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_customer_reply_racing_the_window_expiry_takes_effect_exactly_once():
    merchant = merchant_with_user()
    actor = merchant_actor(merchant)
    winners: Counter[str] = Counter()
    for _ in range(ROUNDS):
        dispute = open_dispute(merchant=merchant, now=NOW)
        services.dispute_respond(
            dispute=dispute,
            actor=actor,
            refund=RefundOffer.NONE,
            amount=None,
            message="No",
            now=NOW,
        )
        dispute.refresh_from_db()
        due = dispute.due_at

        def reply(dispute=dispute, due=due):
            return services.dispute_customer_reply(
                dispute=dispute,
                actor=customer_actor(dispute),
                reply=CustomerReply.DISAGREE,
                now=due - timedelta(microseconds=1),
            )

        replied, closed = run_together(
            reply, lambda due=due: services.dispute_close_overdue_customer_windows(now=due)
        )
        dispute.refresh_from_db()
        if isinstance(replied, Dispute):
            winners["customer"] += 1
            assert (dispute.state, closed) == (State.ESCALATED, 0)
            assert FeeLine.objects.filter(dispute=dispute).count() == 1
        else:
            winners["expiry"] += 1
            assert isinstance(replied, DeadlinePassed), replied
            assert (dispute.state, closed) == (State.RESOLVED, 1)
            assert not FeeLine.objects.filter(dispute=dispute).exists()
        assert count(dispute, EventType.RESOLVED) + count(dispute, EventType.ESCALATED) == 1
    print(f"\n{ROUNDS} rounds of reply vs expiry: {dict(winners)}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_escalate_each_case_once():
    merchant = merchant_with_user()
    for _ in range(40):
        open_dispute(merchant=merchant, now=NOW)
    first, second = run_together(
        lambda: services.dispute_escalate_overdue(now=DUE, batch_size=5),
        lambda: services.dispute_escalate_overdue(now=DUE, batch_size=5),
    )
    assert first + second == 40, (first, second)
    assert Dispute.objects.filter(state=State.ESCALATED).count() == 40
    assert DisputeEvent.objects.filter(event_type=EventType.ESCALATED).count() == 40
    assert FeeLine.objects.count() == 40
    assert OutboxMessage.objects.filter(kind="merchant_escalated").count() == 40


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_staff_decisions_at_once_yield_one_decision():
    for _ in range(10):
        dispute = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW)
        alice, bob = staff_actor(), staff_actor()
        results = run_together(
            lambda d=dispute, alice=alice: services.dispute_decide(
                dispute=d,
                **decision_marks(d),
                actor=alice,
                outcome=Outcome.MERCHANT,
                reason="Alice",
                now=NOW,
            ),
            lambda d=dispute, bob=bob: services.dispute_decide(
                dispute=d,
                **decision_marks(d),
                actor=bob,
                outcome=Outcome.CUSTOMER,
                reason="Bob",
                now=NOW,
            ),
        )
        successes = [r for r in results if isinstance(r, Dispute)]
        assert len(successes) == 1, results
        (refused,) = [r for r in results if not isinstance(r, Dispute)]
        assert isinstance(refused, TransitionNotAllowed)  # a clear message, not a crash
        assert "not possible in the case's current state" in refused.message
        assert count(dispute, EventType.DECIDED) == 1
        dispute.refresh_from_db()
        assert dispute.decision_reason == successes[0].decision_reason


@pytest.mark.django_db
def test_protection_ending_notice_goes_out_once_per_end_date():
    order = OrderFactory(protected=True, placed_at=NOW)  # ends NOW + 30 days
    ends = NOW + timedelta(days=30)
    assert (
        services.order_send_protection_ending_notices(now=ends - timedelta(days=3, seconds=1)) == 0
    )
    with time_machine.travel(ends - timedelta(days=3), tick=False):
        assert tasks.send_protection_ending_notices() == 1
        assert tasks.send_protection_ending_notices() == 0
    services.order_extend_protection(order=order, now=ends - timedelta(days=2))
    # A new end date: the notice is due again three days before it.
    assert services.order_send_protection_ending_notices(now=ends + timedelta(days=27)) == 1
    assert OutboxMessage.objects.filter(kind="customer_protection_ending").count() == 2


@pytest.mark.django_db
def test_the_check_in_links_lead_straight_to_the_chosen_answer(client):
    order = OrderFactory(protected=True, placed_at=timezone.now() - timedelta(days=23))
    services.order_send_protection_checkins()
    checkin = OutboxMessage.objects.get(kind="customer_protection_checkin")
    extend_url = checkin.context["answer_urls"]["extend"].removeprefix("http://127.0.0.1:8000")
    response = client.get(extend_url)
    assert response.status_code == 302
    form_page = client.get(response["Location"]).content.decode()
    assert 'value="extend" id="id_answer_3" checked' in form_page or re.search(
        r'<input[^>]*value="extend"[^>]*checked', form_page
    )
    client.post(reverse("disputes:protection"), {"answer": "extend"})
    order.refresh_from_db()
    assert order.protection_extended_at is not None
    path, query = extend_url.split("?")
    tampered = path[:-6] + ("AAAAA/" if path[-6:-1] != "AAAAA" else "BBBBB/")
    assert client.get(f"{tampered}?{query}").status_code == 404


@pytest.mark.django_db
def test_a_second_beat_running_the_same_job_at_once_skips_its_tick():
    from disputes_portal.locks import SKIPPED, single_flight

    dispute = open_dispute(merchant=merchant_with_user(), now=NOW)
    with time_machine.travel(DUE, tick=False):
        with single_flight("disputes.escalate_overdue_merchant_windows", ttl=60) as first:
            assert first
            assert tasks.escalate_overdue_merchant_windows() == SKIPPED  # the other beat's tick
            dispute.refresh_from_db()
            assert dispute.state == State.AWAITING_MERCHANT
        assert tasks.escalate_overdue_merchant_windows() == 1
        assert tasks.escalate_overdue_merchant_windows() == 0
    assert FeeLine.objects.filter(dispute=dispute).count() == 1
