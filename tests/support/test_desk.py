"""The support desk: returns, appeals, and the admin case desk with its permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.urls import reverse

from disputes import services
from disputes.choices import EventType, Outcome, Party, PaymentState, Reason, State
from disputes.errors import DeadlinePassed, TransitionNotAllowed
from disputes.models import Dispute
from disputes.policies import appeal_deadline
from notifications.models import OutboxMessage
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    UserFactory,
    customer_actor,
    decision_marks,
    desk_decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def escalated(**kwargs) -> Dispute:
    merchant = MerchantFactory()
    MembershipFactory(merchant=merchant)
    return open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=NOW, **kwargs)


def staff(group: str | None):
    user = UserFactory(is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


# --- Groups ---------------------------------------------------------------------------------------


def test_the_support_groups_exist_with_their_permissions():
    def codenames(name):
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    assert {"view_dispute", "decide_dispute"} <= codenames("support agent")
    assert "assign_dispute" not in codenames("support agent")
    assert {"decide_dispute", "assign_dispute", "decide_appeal"} <= codenames("support lead")
    assert "decide_dispute" not in codenames("read only")
    assert "view_dispute" in codenames("read only")


# --- Refund after return --------------------------------------------------------------------------


def decide_return(dispute, amount=None):
    return services.dispute_decide_return(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        reason="Refund once the jacket is back.",
        amount=amount,
        now=NOW,
    )


def test_refund_after_return_gives_the_customer_a_return_deadline():
    dispute = decide_return(escalated(), amount="60.00")
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_RETURN
    assert dispute.next_actor == Party.CUSTOMER
    assert dispute.refund_offer_amount == Decimal("60.00")
    assert dispute.due_at == datetime(2026, 3, 16, 23, 0, tzinfo=UTC)  # 14 days, local midnight
    kinds = set(OutboxMessage.objects.filter(dispute=dispute).values_list("kind", flat=True))
    assert {"customer_return_requested", "merchant_return_decided"} <= kinds


def test_goods_sent_back_and_received_make_the_refund():
    dispute = decide_return(escalated())
    services.dispute_mark_return_shipped(
        dispute=dispute, actor=customer_actor(dispute), message="PostNL 3S123", now=NOW
    )
    dispute.refresh_from_db()
    assert dispute.next_actor == Party.MERCHANT
    assert "merchant_return_shipped" in set(
        OutboxMessage.objects.filter(dispute=dispute).values_list("kind", flat=True)
    )
    services.dispute_confirm_return(
        dispute=dispute, actor=merchant_actor(dispute.merchant), now=NOW + timedelta(days=3)
    )
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (State.DECIDED, Outcome.CUSTOMER)
    assert dispute.settled_amount == Decimal("100.00")
    assert dispute.order.payment_state == PaymentState.CANCELLED
    assert dispute.decision_reason == "Refund once the jacket is back."


def test_goods_not_sent_back_in_time_decide_for_the_merchant():
    dispute = decide_return(escalated())
    dispute.refresh_from_db()
    assert services.dispute_expire_returns(now=dispute.due_at - timedelta(seconds=1)) == 0
    assert services.dispute_expire_returns(now=dispute.due_at) == 1
    assert services.dispute_expire_returns(now=dispute.due_at) == 0
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (State.DECIDED, Outcome.MERCHANT)
    assert dispute.order.payment_state == PaymentState.ACTIVE  # the customer must pay
    with pytest.raises(DeadlinePassed):
        services.dispute_mark_return_shipped(
            dispute=dispute, actor=customer_actor(dispute), message="late", now=dispute.due_at
        )


def test_goods_sent_back_but_not_confirmed_in_time_make_the_refund():
    dispute = decide_return(escalated())
    services.dispute_mark_return_shipped(
        dispute=dispute, actor=customer_actor(dispute), message="DHL 42", now=NOW
    )
    dispute.refresh_from_db()
    services.dispute_expire_returns(now=dispute.due_at)
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome) == (State.DECIDED, Outcome.CUSTOMER)


# --- Appeals -------------------------------------------------------------------------------------


def decided_case(outcome=Outcome.CUSTOMER):
    dispute = escalated()
    first = staff_actor()
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=first,
        outcome=outcome,
        reason="First decision.",
        now=NOW,
    )
    return dispute, first


def test_a_merchant_appeals_once_and_a_different_colleague_decides():
    dispute, first = decided_case()
    merchant = merchant_actor(dispute.merchant)
    services.dispute_appeal(
        dispute=dispute,
        actor=merchant,
        message="Signed delivery note attached.",
        now=NOW + timedelta(days=13),
    )
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert dispute.appealed_decision_by_id == first.user_id
    assert dispute.outcome == Outcome.NONE
    appeal = dispute.events.get(event_type=EventType.APPEALED)
    assert appeal.visibility == "merchant"  # the merchant's new evidence is for support
    notice = OutboxMessage.objects.get(dispute=dispute, kind="customer_case_appealed")
    assert notice.context["message"] == ""

    with pytest.raises(TransitionNotAllowed, match="different staff member"):
        services.dispute_decide(
            dispute=dispute,
            **decision_marks(dispute),
            actor=first,
            outcome=Outcome.MERCHANT,
            reason="Mine again",
            now=NOW,
        )
    services.dispute_decide(
        dispute=dispute,
        **decision_marks(dispute),
        actor=staff_actor(),
        outcome=Outcome.MERCHANT,
        reason="The delivery note proves delivery.",
        now=NOW + timedelta(days=14),
    )
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.MERCHANT
    assert dispute.order.payment_state == PaymentState.ACTIVE  # chargeback reversed
    with pytest.raises(DeadlinePassed, match="once"):  # one appeal only
        services.dispute_appeal(
            dispute=dispute, actor=merchant, message="Again!", now=NOW + timedelta(days=15)
        )


def test_an_appeal_after_the_14th_local_day_is_refused():
    dispute, _ = decided_case()
    merchant = dispute.merchant
    closes = appeal_deadline(NOW, time_zone=merchant.time_zone, country=merchant.country)
    assert closes > NOW + timedelta(days=14)  # to the end of the 14th day, not 14 x 24 hours
    with pytest.raises(DeadlinePassed, match="within 14 days"):
        services.dispute_appeal(
            dispute=dispute, actor=merchant_actor(merchant), message="Late", now=closes
        )
    services.dispute_appeal(
        dispute=dispute,
        actor=merchant_actor(merchant),
        message="Just in time",
        now=closes - timedelta(seconds=1),
    )


def test_only_the_merchant_can_appeal():
    dispute, _ = decided_case()
    with pytest.raises(TransitionNotAllowed):
        services.dispute_appeal(dispute=dispute, actor=customer_actor(dispute), message="Me")


# --- The admin case desk -------------------------------------------------------------------------


def desk_url(dispute, action=None):
    if action:
        return reverse("admin:disputes_dispute_desk_action", args=[dispute.pk, action])
    return reverse("admin:disputes_dispute_change", args=[dispute.pk])


def test_the_queue_shows_cases_with_support_oldest_escalation_first(client):
    client.force_login(staff("support agent"))
    older = escalated()
    newer = open_dispute(reason=Reason.UNAUTHORIZED, now=NOW + timedelta(days=1))
    waiting = open_dispute(now=NOW)  # still with the merchant
    page = client.get(reverse("admin:disputes_dispute_changelist")).content.decode()
    assert page.index(older.public_id) < page.index(newer.public_id)
    assert waiting.public_id not in page
    everything = client.get(reverse("admin:disputes_dispute_changelist") + "?queue=all")
    assert waiting.public_id in everything.content.decode()


@pytest.mark.parametrize("how", ["case_id", "email", "order_number", "merchant"])
def test_the_queue_searches_by_case_order_email_and_merchant(client, how):
    client.force_login(staff("read only"))
    wanted, other = escalated(), escalated()
    term = {
        "case_id": wanted.public_id.lower(),
        "email": wanted.order.customer_email.upper(),
        "order_number": wanted.order.order_number,
        "merchant": wanted.merchant.name,
    }[how]
    response = client.get(reverse("admin:disputes_dispute_changelist"), {"q": term})
    ids = [d.public_id for d in response.context["cl"].result_list]
    assert ids == [wanted.public_id]
    assert other.public_id not in ids


def test_assigned_filter_and_assign_to_me(client):
    agent = staff("support agent")
    client.force_login(agent)
    mine, free = escalated(), escalated()
    client.post(desk_url(mine, "assign_me"))
    mine.refresh_from_db()
    assert mine.assigned_to == agent
    ids = lambda params: [  # noqa: E731
        d.public_id
        for d in client.get(reverse("admin:disputes_dispute_changelist"), params)
        .context["cl"]
        .result_list
    ]
    assert ids({"assigned": "me"}) == [mine.public_id]
    assert ids({"assigned": "nobody"}) == [free.public_id]


def test_the_case_desk_shows_the_whole_case_on_one_screen(client):
    client.force_login(staff("read only"))
    dispute = escalated(message="I never bought this.")
    earlier = open_dispute(customer_email=dispute.order.customer_email, now=NOW)
    page = client.get(desk_url(dispute)).content.decode()
    for expected in (
        dispute.public_id,
        "I never bought this.",
        dispute.order.order_number,
        dispute.order.customer_email,
        earlier.public_id,
        "Previous cases of this customer",
        "dispute rate",
    ):
        assert expected in page, expected
    assert "No action is open to you" in page  # read only: no buttons


@time_machine.travel(NOW, tick=False)
def test_an_agent_asks_the_merchant_for_information(client):
    client.force_login(staff("support agent"))
    dispute = escalated()
    response = client.post(
        desk_url(dispute, "request_info"),
        {
            "info-party": "merchant",
            "info-message": "Send the proof of delivery.",
            "info-working_days": "3",
        },
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.state == State.INFO_REQUESTED
    assert dispute.due_at == datetime(2026, 3, 5, 23, 0, tzinfo=UTC)  # 3 working days
    assert OutboxMessage.objects.filter(dispute=dispute, kind="merchant_info_requested").exists()


def test_an_agent_decides_with_a_reason_that_both_parties_see(client):
    agent = staff("support agent")
    client.force_login(agent)
    dispute = escalated()
    client.post(
        desk_url(dispute, "decide"),
        {
            "decide-outcome": "split",
            "decide-amount": "40.00",
            "decide-reason": "Half the order was delivered.",
            **desk_decision_marks(dispute),
        },
    )
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome, dispute.decided_by) == (State.DECIDED, "split", agent)
    assert dispute.settled_amount == Decimal("40.00")
    assert dispute.order.payment_state == PaymentState.ACTIVE  # 60.00 left to pay
    kinds = set(OutboxMessage.objects.filter(dispute=dispute).values_list("kind", flat=True))
    assert {"merchant_decision", "customer_decision"} <= kinds


def test_a_decision_without_a_reason_is_refused_and_changes_nothing(client):
    client.force_login(staff("support agent"))
    dispute = escalated()
    response = client.post(
        desk_url(dispute, "decide"), {"decide-outcome": "merchant", "decide-reason": ""}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED


def test_an_action_not_allowed_now_gets_a_clear_message(client):
    client.force_login(staff("support agent"))
    dispute = open_dispute(now=NOW)  # still with the merchant
    response = client.post(
        desk_url(dispute, "decide"),
        {
            "decide-outcome": "merchant",
            "decide-reason": "Too early",
            **desk_decision_marks(dispute),
        },
        follow=True,
    )
    assert "not possible in the case&#x27;s current state" in response.content.decode()
    assert response.redirect_chain[-1][0] == desk_url(dispute)
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_MERCHANT


def test_refund_after_return_from_the_desk(client):
    client.force_login(staff("support agent"))
    dispute = escalated()
    client.post(
        desk_url(dispute, "decide_return"),
        {
            "return-amount": "",
            "return-reason": "Return first.",
            **desk_decision_marks(dispute, "return"),
        },
    )
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_RETURN


@pytest.mark.parametrize(
    ("group", "action", "allowed"),
    [
        ("read only", "decide", False),
        ("read only", "assign_me", False),
        ("support agent", "decide", True),
        ("support agent", "assign", False),
        ("support lead", "assign", True),
        (None, "decide", False),  # staff without any support group
    ],
)
def test_permissions_are_checked_on_every_action(client, group, action, allowed):
    user = staff(group)
    client.force_login(user)
    dispute = escalated()
    data = {"decide-outcome": "merchant", "decide-reason": "Checked.", "assign-assignee": user.pk}
    response = client.post(desk_url(dispute, action), data)
    assert (response.status_code != 403) is allowed
    dispute.refresh_from_db()
    if not allowed:
        assert dispute.state == State.ESCALATED
        assert dispute.assigned_to_id is None


def test_an_appeal_needs_a_lead_who_did_not_decide_first(client):
    dispute, _first_decider = decided_case()
    services.dispute_appeal(
        dispute=dispute, actor=merchant_actor(dispute.merchant), message="New proof", now=NOW
    )
    agent = staff("support agent")
    client.force_login(agent)
    denied = client.post(
        desk_url(dispute, "decide"), {"decide-outcome": "merchant", "decide-reason": "x"}
    )
    assert denied.status_code == 403
    lead = staff("support lead")
    client.force_login(lead)
    client.post(
        desk_url(dispute, "decide"),
        {
            "decide-outcome": "merchant",
            "decide-reason": "Proof holds.",
            **desk_decision_marks(dispute),
        },
    )
    dispute.refresh_from_db()
    assert (dispute.state, dispute.decided_by) == (State.DECIDED, lead)


def test_the_state_is_never_edited_by_hand(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root@x.example", "root@x.example", "pw")
    client.force_login(admin)
    dispute = escalated()
    response = client.post(desk_url(dispute), {"state": "decided"})
    assert response.status_code == 405
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert client.get(reverse("admin:disputes_dispute_add")).status_code == 403


def test_proven_fraud_is_recorded_only_for_unauthorized_purchases(client):
    client.force_login(staff("support agent"))
    fraud = escalated()  # an unauthorized purchase
    client.post(
        desk_url(fraud, "decide"),
        {
            "decide-outcome": "customer",
            "decide-reason": "Stolen card.",
            "decide-fraud_proven": "on",
            **desk_decision_marks(fraud),
        },
    )
    fraud.refresh_from_db()
    assert fraud.fraud_proven is True
    other = open_dispute(reason=Reason.FAULTY, now=NOW)
    services.dispute_escalate_overdue(now=NOW + timedelta(days=30))
    services.dispute_decide(
        dispute=other,
        **decision_marks(other),
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="Broken.",
        fraud_proven=True,
    )
    other.refresh_from_db()
    assert other.fraud_proven is False
