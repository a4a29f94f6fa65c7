"""Evidence per reason, the hearing rule, itemised decision records and allowed actions,
through the pages, the API and the services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from api.keys import api_key_create
from disputes import services
from disputes.choices import (
    CustomerReply,
    EventType,
    EvidenceWeight,
    Outcome,
    Party,
    Program,
    Reason,
    RefundOffer,
    State,
)
from disputes.errors import DecisionIncomplete, DomainError, HearingRequired, InvalidChoice
from disputes.links import customer_case_path
from disputes.models import DecisionAssessment, Dispute
from disputes.policies import (
    EVIDENCE,
    EVIDENCE_PARTIES,
    Assessment,
    CaseAction,
    allowed_actions,
    completeness,
    evidence_for,
)
from disputes.uploads import check_uploads
from tests.documents import PDF
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    UserFactory,
    customer_actor,
    decision_marks,
    merchant_actor,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db


def pdf(name: str = "proof.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


def checked_pdf(name: str = "proof.pdf"):  # type: ignore[no-untyped-def]
    return check_uploads([pdf(name)])


def portal_client(merchant) -> Client:  # type: ignore[no-untyped-def]
    membership = MembershipFactory(merchant=merchant)
    client = Client()
    client.force_login(membership.user)
    return client


def staff(group: str = "support agent"):  # type: ignore[no-untyped-def]
    user = UserFactory(is_staff=True, first_name="Anna")
    user.groups.add(Group.objects.get(name=group))
    return user


def desk_url(dispute: Dispute, action: str = "") -> str:
    if not action:
        return reverse("admin:disputes_dispute_change", args=[dispute.pk])
    return reverse("admin:disputes_dispute_desk_action", args=[dispute.pk, action])


def marks(dispute: Dispute, weight: str = EvidenceWeight.NOT_RELEVANT) -> dict[str, str]:
    return {
        f"decide-mark_{party}_{entry.key}": weight
        for party in EVIDENCE_PARTIES
        for entry in evidence_for(dispute.program, dispute.reason, party)
    }


# --- The checklists as data ---------------------------------------------------------------------


def test_every_reason_of_both_programs_has_a_checklist_for_both_sides():
    from disputes.policies import BUYER_PROTECTION, PAYMENT_DISPUTE

    for policy in (PAYMENT_DISPUTE, BUYER_PROTECTION):
        for reason in policy.reason_choices:
            for party in EVIDENCE_PARTIES:
                assert evidence_for(policy.program, reason, party), (policy.program, reason, party)
    # Every claim's merchant side names what defends it.
    for (_program, reason, party), entries in EVIDENCE.items():
        if party == Party.MERCHANT and reason != Reason.OTHER_REQUEST:
            assert any(entry.essential for entry in entries), reason


def test_completeness_counts_the_essential_items_of_one_side_only():
    given = ["merchant:carrier", "merchant:tracking_number", "customer:order_confirmation"]
    state = completeness(Program.PAYMENT_DISPUTE, Reason.NOT_RECEIVED, Party.MERCHANT, given)
    assert (state.essential_given, state.essential_total, state.complete) == (2, 3, False)
    assert state.missing == ("proof_of_delivery",)


# --- The merchant's evidence ---------------------------------------------------------------------


def test_a_merchant_with_complete_evidence_sees_complete_on_the_page_and_in_the_api():
    merchant = MerchantFactory()
    order = OrderFactory(
        merchant=merchant,
        shipments=[{"carrier": "PostNL", "tracking_number": "3S123456789"}],
    )
    dispute = open_dispute(order=order)
    client = portal_client(merchant)
    page = client.get(reverse("portal:case", args=[dispute.public_id])).content.decode()
    assert "0 of 3 essential items given" in page
    assert 'value="PostNL"' in page  # the carrier is filled in from the order feed
    response = client.post(
        reverse("portal:case-respond", args=[dispute.public_id]),
        {
            "answer-refund": "no",
            "answer-message": "Delivered, see the proof.",
            "answer-evidence_carrier": "PostNL",
            "answer-evidence_tracking_number": "3S123456789",
            "answer-evidence_proof_of_delivery": pdf("delivery.pdf"),
        },
    )
    assert response.status_code == 302
    page = client.get(reverse("portal:case", args=[dispute.public_id])).content.decode()
    assert "Complete" in page
    assert "all 3 essential items are given" in page
    assert "proves: Proof of delivery" in page
    dispute.refresh_from_db()
    assert dispute.attachments.get().evidence_item == "proof_of_delivery"

    key = api_key_create(name="t", merchant=merchant, now=timezone.now()).key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = api.get(f"/api/v1/disputes/{dispute.public_id}", secure=True).json()
    assert body["evidence"] == {
        "essential_given": 3,
        "essential_total": 3,
        "complete": True,
        "missing": [],
    }
    assert [item["key"] for item in body["evidence_checklist"] if item["given"]] == [
        "carrier",
        "tracking_number",
        "proof_of_delivery",
    ]
    listed = api.get("/api/v1/disputes", secure=True).json()["data"][0]
    assert listed["evidence"]["complete"] is True


def test_evidence_through_the_api_is_tagged_and_counted_and_refused_when_not_on_the_list():
    merchant = MerchantFactory()
    dispute = open_dispute(merchant=merchant)
    key = api_key_create(name="t", merchant=merchant, now=timezone.now()).key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/disputes/{dispute.public_id}/evidence"
    refused = api.post(
        url,
        {"evidence": [{"item": "fault_photos", "value": ""}]},
        content_type="application/json",
        secure=True,
    )
    assert refused.status_code == 422
    assert "is not evidence this side gives" in refused.json()["error"]["message"]
    empty = api.post(
        url, {"evidence": [{"item": "carrier"}]}, content_type="application/json", secure=True
    )
    assert empty.status_code == 422
    assert empty.json()["error"]["message"] == "Fill in “Carrier”."
    done = api.post(
        url,
        {"evidence": [{"item": "tracking_number", "value": "JV123"}], "message": "For support"},
        content_type="application/json",
        secure=True,
    )
    assert done.status_code == 200
    assert done.json()["evidence"]["essential_given"] == 1
    event = dispute.events.get(event_type=EventType.EVIDENCE_ADDED)
    assert event.data["items"] == [{"item": "tracking_number", "value": "JV123"}]
    assert event.visibility == "merchant"  # support and the merchant, not the customer


def test_each_addition_is_a_new_event_until_the_case_is_decided():
    dispute = open_dispute(reason=Reason.UNAUTHORIZED)  # straight to support
    actor = merchant_actor(dispute.merchant)
    for number in ("A1", "A2"):
        services.dispute_add_evidence(
            dispute=dispute,
            actor=actor,
            evidence=[services.EvidenceInput("account_records", documents=checked_pdf())],
            message=f"Log {number}",
        )
    assert dispute.events.filter(event_type=EventType.EVIDENCE_ADDED).count() == 2
    dispute.refresh_from_db()
    assert dispute.evidence_provided == ["merchant:account_records"]
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.MERCHANT,
        reason="The logs tie the purchase to the customer.",
        **decision_marks(dispute),
    )
    with pytest.raises(DomainError, match="until the case is decided"):
        services.dispute_add_evidence(dispute=dispute, actor=actor, evidence=[], message="Late")


def test_the_customer_gives_evidence_when_opening_and_the_shop_does_not_see_later_additions():
    order = OrderFactory(customer_email="kim@mail.example")
    client = Client()
    session = client.session
    session["customer.verified_order"] = order.pk
    session.save()
    response = client.post(
        reverse("disputes:open-dispute"),
        {
            "reason": Reason.RETURNED_NOT_REFUNDED,
            "message": "I sent it back a month ago.",
            "evidence_return_tracking": "RR123NL",
            "evidence_return_receipt": pdf("receipt.pdf"),
            "evidence_fault_photos": pdf("photo.pdf"),  # another reason's item: kept, untagged
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dispute = Dispute.objects.get(order=order)
    assert dispute.evidence_provided == ["customer:return_receipt", "customer:return_tracking"]
    tags = sorted(dispute.attachments.values_list("evidence_item", flat=True))
    assert tags == ["", "return_receipt"]
    services.dispute_add_evidence(
        dispute=dispute,
        actor=customer_actor(dispute),
        evidence=[services.EvidenceInput("order_confirmation", documents=checked_pdf())],
    )
    merchant_page = portal_client(dispute.merchant).get(
        reverse("portal:case", args=[dispute.public_id])
    )
    assert "Evidence added" not in merchant_page.content.decode()
    customer_page = Client().get(customer_case_path(dispute)).content.decode()
    assert "all 2 essential items are given" in customer_page


# --- Hearing the merchant and the decision record ------------------------------------------------


def test_the_desk_refuses_an_unheard_unauthorized_case_for_the_customer_until_overridden(client):
    dispute = open_dispute(reason=Reason.UNAUTHORIZED)
    client.force_login(staff())
    desk = client.get(desk_url(dispute)).content.decode()
    assert "has not had its say" in desk
    data = {
        "decide-outcome": "customer",
        "decide-reason": "The card was stolen.",
        "decide-code": "not_authorised",
        **marks(dispute),
    }
    refused = client.post(desk_url(dispute, "decide"), data)
    assert refused.status_code == 200
    assert "has not had its say" in refused.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED

    override = "The bank confirmed the theft; the shop can appeal with its records."
    accepted = client.post(
        desk_url(dispute, "decide"), {**data, "decide-override_reason": override}
    )
    assert accepted.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.state, dispute.outcome, dispute.override_reason) == (
        State.DECIDED,
        Outcome.CUSTOMER,
        override,
    )
    merchant_page = portal_client(dispute.merchant).get(
        reverse("portal:case", args=[dispute.public_id])
    )
    text = merchant_page.content.decode()
    assert override in text
    assert "even if you appealed before" in text


def test_an_overridden_decision_is_appealable_and_an_appeal_counts_as_heard():
    dispute = open_dispute(reason=Reason.UNAUTHORIZED)
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="Not the customer.",
        **decision_marks(dispute),
    )
    dispute.refresh_from_db()
    assert dispute.override_reason
    merchant = merchant_actor(dispute.merchant)
    services.dispute_appeal(dispute=dispute, actor=merchant, message="Our delivery records.")
    # The appeal is the merchant's say: the case can now be decided against it without one.
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="On appeal: still not the customer.",
        **decision_marks(dispute, override=False),
    )
    dispute.refresh_from_db()
    assert (dispute.state, dispute.override_reason) == (State.DECIDED, "")
    with pytest.raises(DomainError, match="once"):
        services.dispute_appeal(dispute=dispute, actor=merchant, message="Again")


def test_an_unheard_decision_for_the_merchant_needs_no_override():
    dispute = open_dispute(reason=Reason.UNAUTHORIZED)
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.MERCHANT,
        reason="Delivered to the customer's own address.",
        **decision_marks(dispute, override=False),
    )
    dispute.refresh_from_db()
    assert dispute.outcome == Outcome.MERCHANT
    split = open_dispute(reason=Reason.UNAUTHORIZED)
    with pytest.raises(HearingRequired):
        services.dispute_decide(
            dispute=split,
            actor=staff_actor(),
            outcome=Outcome.SPLIT,
            amount="10.00",
            reason="Half.",
            **decision_marks(split, override=False),
        )


def test_a_decision_without_marking_the_evidence_is_refused_with_a_clear_message(client):
    dispute = open_dispute(reason=Reason.FAULTY)
    services.dispute_escalate_overdue(now=dispute.due_at)
    client.force_login(staff())
    data = {
        "decide-outcome": "merchant",
        "decide-reason": "As described.",
        "decide-code": "goods_as_described",
    }
    response = client.post(desk_url(dispute, "decide"), data)
    assert response.status_code == 200
    assert "Weigh this item." in response.content.decode()
    with pytest.raises(DecisionIncomplete, match="Not marked: Photos of the goods as sent"):
        services.dispute_decide(
            dispute=dispute,
            actor=staff_actor(),
            outcome=Outcome.MERCHANT,
            reason="As described.",
            code="goods_as_described",
        )
    decisive = {**marks(dispute), "decide-mark_merchant_product_photos": EvidenceWeight.DECISIVE}
    no_line = client.post(desk_url(dispute, "decide"), {**data, **decisive})
    assert "Write a line on why this item was decisive." in no_line.content.decode()
    wrong_code = {**data, **marks(dispute), "decide-code": "goods_faulty"}
    refused = client.post(desk_url(dispute, "decide"), wrong_code)
    assert "Pick a decision reason code that fits the outcome." in refused.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED


def test_both_parties_read_the_itemised_record_in_their_language(client):
    merchant = MerchantFactory(language="nl")
    dispute = open_dispute(merchant=merchant, customer_language="fi")
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(merchant),
        refund=RefundOffer.NONE,
        amount=None,
        message="Bezorgd.",
        evidence=[services.EvidenceInput("tracking_number", "3S1")],
    )
    services.dispute_customer_reply(
        dispute=dispute, actor=customer_actor(dispute), reply=CustomerReply.DISAGREE, message="Ei."
    )
    assessments = [
        Assessment(party, entry.key, EvidenceWeight.INSUFFICIENT)
        for party in EVIDENCE_PARTIES
        for entry in evidence_for(dispute.program, dispute.reason, party)
    ]
    assessments[1] = Assessment(
        Party.MERCHANT, "tracking_number", EvidenceWeight.DECISIVE, "Tracking shows delivery."
    )
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.MERCHANT,
        reason="Delivered.",
        code="delivery_proven",
        assessments=assessments,
    )
    record = DecisionAssessment.objects.get(dispute=dispute, item="tracking_number")
    assert (record.provided, record.weight) == (True, EvidenceWeight.DECISIVE)
    customer = Client(HTTP_ACCEPT_LANGUAGE="fi").get(customer_case_path(dispute))
    text = customer.content.decode()
    assert "Tracking shows delivery." in text
    assert "Toimitus todistettu" in text  # "Delivery proven" in Finnish
    assert "Ratkaiseva" in text  # "Decisive"
    merchant_client = portal_client(merchant)
    merchant_client.cookies["django_language"] = "nl"
    page = merchant_client.get(
        reverse("portal:case", args=[dispute.public_id]), HTTP_ACCEPT_LANGUAGE="nl"
    ).content.decode()
    assert "Levering bewezen" in page
    assert "Doorslaggevend" in page


def test_the_decision_email_carries_the_code_and_links_to_the_record():
    from notifications.emails import render_email
    from notifications.models import OutboxMessage

    dispute = open_dispute(reason=Reason.NOT_RECEIVED)
    MembershipFactory(merchant=dispute.merchant)
    services.dispute_escalate_overdue(now=dispute.due_at)
    services.dispute_decide(
        dispute=dispute,
        actor=staff_actor(),
        outcome=Outcome.CUSTOMER,
        reason="No proof.",
        code="no_proof_of_delivery",
        assessments=decision_marks(dispute)["assessments"],
    )
    for kind in ("merchant_decision", "customer_decision"):
        message = OutboxMessage.objects.filter(dispute=dispute, kind=kind).first()
        email = render_email(kind, message.context, language="en", time_zone="UTC")
        assert "Decision reason code: No proof of delivery" in email.text
        assert "#decision-record" in email.text


# --- What each side can do now -------------------------------------------------------------------


def _escalated(program: str) -> Dispute:
    reason = Reason.NOT_RECEIVED
    dispute = open_dispute(program=program, reason=reason)
    services.dispute_escalate_overdue(now=dispute.due_at)
    return dispute


def _offered(program: str) -> Dispute:
    dispute = open_dispute(program=program)
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=RefundOffer.PARTIAL,
        amount="40.00",
        message="Half back.",
    )
    return dispute


def _asked(party: Party) -> Callable[[str], Dispute]:
    def build(program: str) -> Dispute:
        dispute = _escalated(program)
        services.dispute_request_information(
            dispute=dispute, actor=staff_actor(), party=party, message="Please send more."
        )
        return dispute

    return build


def _return(shipped: bool) -> Callable[[str], Dispute]:
    def build(program: str) -> Dispute:
        dispute = _escalated(program)
        services.dispute_decide_return(
            dispute=dispute, actor=staff_actor(), reason="Send it back.", **decision_marks(dispute)
        )
        if shipped:
            services.dispute_mark_return_shipped(
                dispute=dispute, actor=customer_actor(dispute), message="PostNL 3S1"
            )
        return dispute

    return build


def _decided(*, appealed_then: str = "") -> Callable[[str], Dispute]:
    def build(program: str) -> Dispute:
        dispute = open_dispute(program=program, reason=Reason.NOT_RECEIVED)
        services.dispute_escalate_overdue(now=dispute.due_at)
        first = staff_actor()
        services.dispute_decide(
            dispute=dispute,
            actor=first,
            outcome=Outcome.MERCHANT,
            reason="Delivered.",
            **decision_marks(dispute),
        )
        if appealed_then:
            merchant = merchant_actor(dispute.merchant)
            services.dispute_appeal(dispute=dispute, actor=merchant, message="More.")
            services.dispute_decide(
                dispute=dispute,
                actor=staff_actor(),
                outcome=Outcome.CUSTOMER,
                reason="On appeal.",
                **decision_marks(dispute),
            )
        return dispute

    return build


def _resolved(program: str) -> Dispute:
    dispute = _offered(program)
    services.dispute_customer_reply(
        dispute=dispute, actor=customer_actor(dispute), reply=CustomerReply.RECEIVED_REFUND
    )
    return dispute


def _withdrawn(program: str) -> Dispute:
    dispute = open_dispute(program=program)
    services.dispute_withdraw(dispute=dispute, actor=customer_actor(dispute))
    return dispute


def _under_appeal(program: str) -> Dispute:
    dispute = _decided()(program)
    services.dispute_appeal(dispute=dispute, actor=merchant_actor(dispute.merchant), message="x")
    return dispute


STATES: dict[str, Callable[[str], Dispute]] = {
    "awaiting_merchant": lambda program: open_dispute(program=program),
    "awaiting_customer": _offered,
    "escalated": _escalated,
    "info_requested_from_merchant": _asked(Party.MERCHANT),
    "info_requested_from_customer": _asked(Party.CUSTOMER),
    "awaiting_return": _return(shipped=False),
    "awaiting_return_shipped": _return(shipped=True),
    "decided": _decided(),
    "decided_after_appeal": _decided(appealed_then="customer"),
    "under_appeal": _under_appeal,
    "resolved": _resolved,
    "withdrawn": _withdrawn,
}


def _attempt(action: CaseAction, dispute: Dispute) -> None:
    merchant = merchant_actor(dispute.merchant)
    tracking = [services.EvidenceInput("tracking_number", "3S1")]
    run = {
        CaseAction.RESPOND: lambda: services.dispute_respond(
            dispute=dispute, actor=merchant, refund=RefundOffer.NONE, amount=None, message="No."
        ),
        CaseAction.ACCEPT: lambda: services.dispute_accept(dispute=dispute, actor=merchant),
        CaseAction.ADD_EVIDENCE: lambda: services.dispute_add_evidence(
            dispute=dispute, actor=merchant, evidence=tracking
        ),
        CaseAction.SEND_MESSAGE: lambda: services.dispute_add_message(
            dispute=dispute, actor=merchant, message="Hello"
        ),
        CaseAction.PROVIDE_INFORMATION: lambda: services.dispute_provide_information(
            dispute=dispute, actor=merchant, message="Here"
        ),
        CaseAction.CONFIRM_RETURN: lambda: services.dispute_confirm_return(
            dispute=dispute, actor=merchant
        ),
        CaseAction.APPEAL: lambda: services.dispute_appeal(
            dispute=dispute, actor=merchant, message="New facts"
        ),
    }
    run[action]()


def _attempt_as_customer(action: CaseAction, dispute: Dispute) -> None:
    dispute.refresh_from_db()
    customer = customer_actor(dispute)
    replies = {
        CaseAction.REPLY: lambda: services.dispute_customer_reply(
            dispute=dispute,
            actor=customer,
            reply=(
                CustomerReply.REJECT_PARTIAL
                if dispute.refund_offer == RefundOffer.PARTIAL
                else CustomerReply.DISAGREE
            ),
        ),
        CaseAction.ADD_EVIDENCE: lambda: services.dispute_add_evidence(
            dispute=dispute,
            actor=customer,
            evidence=[services.EvidenceInput("order_confirmation", documents=checked_pdf())],
        ),
        CaseAction.SEND_MESSAGE: lambda: services.dispute_add_message(
            dispute=dispute, actor=customer, message="Hello"
        ),
        CaseAction.PROVIDE_INFORMATION: lambda: services.dispute_provide_information(
            dispute=dispute, actor=customer, message="Here"
        ),
        CaseAction.MARK_RETURN_SHIPPED: lambda: services.dispute_mark_return_shipped(
            dispute=dispute, actor=customer, message="PostNL 3S1"
        ),
        CaseAction.WITHDRAW: lambda: services.dispute_withdraw(dispute=dispute, actor=customer),
    }
    replies[action]()


MERCHANT_ACTIONS = [
    CaseAction.RESPOND,
    CaseAction.ACCEPT,
    CaseAction.ADD_EVIDENCE,
    CaseAction.SEND_MESSAGE,
    CaseAction.PROVIDE_INFORMATION,
    CaseAction.CONFIRM_RETURN,
    CaseAction.APPEAL,
]
CUSTOMER_ACTIONS = [
    CaseAction.REPLY,
    CaseAction.ADD_EVIDENCE,
    CaseAction.SEND_MESSAGE,
    CaseAction.PROVIDE_INFORMATION,
    CaseAction.MARK_RETURN_SHIPPED,
    CaseAction.WITHDRAW,
]


@pytest.mark.parametrize("program", [Program.PAYMENT_DISPUTE, Program.BUYER_PROTECTION])
@pytest.mark.parametrize("state", list(STATES))
def test_allowed_actions_are_exactly_what_succeeds(state, program):
    """For every state of both programs: each action the API lists for the merchant (and the
    rules list for the customer) succeeds, and each one not listed is refused."""
    probe = STATES[state](program)
    merchant = probe.merchant
    key = api_key_create(name="t", merchant=merchant, now=timezone.now()).key
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    listed = api.get(f"/api/v1/disputes/{probe.public_id}", secure=True).json()
    merchant_allowed = {a["action"] for a in listed["allowed_actions"]}
    for action in MERCHANT_ACTIONS:
        dispute = STATES[state](program)
        succeeded = _succeeds(lambda a=action, d=dispute: _attempt(a, d))
        assert succeeded == (action in merchant_allowed), (state, program, "merchant", action)
    probe.refresh_from_db()
    customer_allowed = {
        a.action
        for a in allowed_actions(
            probe,
            Party.CUSTOMER,
            now=timezone.now(),
            time_zone=merchant.time_zone,
            country=merchant.country,
        )
    }
    for action in CUSTOMER_ACTIONS:
        dispute = STATES[state](program)
        succeeded = _succeeds(lambda a=action, d=dispute: _attempt_as_customer(a, d))
        assert succeeded == (action in customer_allowed), (state, program, "customer", action)


def _succeeds(attempt: Callable[[], object]) -> bool:
    try:
        attempt()
    except DomainError:
        return False
    return True


def test_the_pages_show_exactly_the_allowed_forms():
    dispute = open_dispute()
    page = portal_client(dispute.merchant).get(reverse("portal:case", args=[dispute.public_id]))
    text = page.content.decode()
    assert reverse("portal:case-respond", args=[dispute.public_id]) in text
    assert reverse("portal:case-evidence", args=[dispute.public_id]) in text
    assert reverse("portal:case-appeal", args=[dispute.public_id]) not in text
    customer = Client().get(customer_case_path(dispute)).content.decode()
    assert "/reply/" not in customer
    assert "/withdraw/" in customer
    assert "/evidence/" in customer


def test_the_named_person_and_what_support_waits_for_are_shown_to_both_sides(settings):
    settings.SUPPORT_TEAM_NAME = "Disputes team"
    dispute = open_dispute(reason=Reason.UNAUTHORIZED)
    anna = staff()
    services.dispute_assign(dispute=dispute, actor=staff_actor(), assignee_id=anna.pk)
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.MERCHANT, message="Delivery proof?"
    )
    page = portal_client(dispute.merchant).get(reverse("portal:case", args=[dispute.public_id]))
    text = page.content.decode()
    assert "Anna, Disputes team" in text
    assert "information from the merchant" in text
    assert anna.username not in text  # the login stays inside support
    customer = Client().get(customer_case_path(dispute)).content.decode()
    assert "Anna, Disputes team" in customer


def test_unknown_items_are_refused_by_the_service():
    dispute = open_dispute()
    with pytest.raises(InvalidChoice):
        services.dispute_add_evidence(
            dispute=dispute,
            actor=merchant_actor(dispute.merchant),
            evidence=[services.EvidenceInput("earlier_orders", "3")],  # found by the portal
        )


def test_the_desk_shows_earlier_undisputed_orders_of_the_customer_at_this_shop(client):
    merchant = MerchantFactory()
    earlier = OrderFactory(
        merchant=merchant,
        customer_email="pat@mail.example",
        placed_at=timezone.now() - timedelta(days=90),
    )
    disputed = OrderFactory(
        merchant=merchant,
        customer_email="pat@mail.example",
        placed_at=timezone.now() - timedelta(days=60),
    )
    open_dispute(order=disputed, reason=Reason.OTHER)  # not undisputed
    elsewhere = OrderFactory(customer_email="pat@mail.example")  # another shop
    order = OrderFactory(merchant=merchant, customer_email="PAT@mail.example")
    dispute = open_dispute(order=order, reason=Reason.UNAUTHORIZED)
    client.force_login(staff())
    text = client.get(desk_url(dispute)).content.decode()
    assert earlier.order_number in text
    assert disputed.order_number not in text.split("Earlier undisputed orders")[1]
    assert elsewhere.order_number not in text


# --- Completeness, for any set of given items ---------------------------------------------------

checklist_keys = [(program, reason, party) for (program, reason, party) in EVIDENCE]


@given(
    case=st.sampled_from(checklist_keys),
    chosen=st.sets(st.integers(min_value=0, max_value=5)),
    noise=st.sets(st.sampled_from(["merchant:invoice", "customer:fault_photos", "x:y"])),
)
def test_completeness_is_the_essential_items_given_whatever_else_is_there(case, chosen, noise):
    program, reason, party = case
    entries = evidence_for(program, reason, party)
    given = {entries[i].key for i in chosen if i < len(entries)}
    other_side = "customer" if party == "merchant" else "merchant"
    provided = [f"{party}:{key}" for key in given] + [f"{other_side}:{e.key}" for e in entries]
    provided += [key for key in noise if key.split(":")[1] not in {e.key for e in entries}]
    state = completeness(program, reason, party, provided)
    essential = {e.key for e in entries if e.essential}
    assert state.essential_given == len(essential & given)
    assert state.essential_total == len(essential)
    assert state.complete == (essential <= given)
    assert set(state.missing) == essential - given
