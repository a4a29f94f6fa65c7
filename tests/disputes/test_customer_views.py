"""The customer's pages through HTTP: find the order, open a case, follow it, answer."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from disputes import services
from disputes.choices import (
    EventType,
    Party,
    PaymentState,
    Program,
    ProtectionStatus,
    Reason,
    RefundOffer,
    State,
)
from disputes.links import customer_case_path
from disputes.models import Attachment, Dispute
from disputes.views.customer import VERIFIED_ORDER
from notifications.models import OutboxMessage
from tests.documents import PDF
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    merchant_actor,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def pdf(name: str = "receipt.pdf", content: bytes = PDF) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def order():
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    MembershipFactory(merchant=merchant)
    return OrderFactory(merchant=merchant, order_number="A-100", customer_email="ann@mail.example")


def find(client, order, **overrides):
    data = {
        "shop": order.merchant.slug,
        "order_number": order.order_number,
        "email": order.customer_email,
        **overrides,
    }
    return client.post(reverse("disputes:find-order"), data)


def stored_files(settings) -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- Finding the order ---------------------------------------------------------------------------


def test_find_order_lists_shops_and_prefills_from_the_shops_help_page(client, order):
    response = client.get(reverse("disputes:find-order") + "?shop=demo-shop")
    assert response.status_code == 200
    assert b'<option value="demo-shop" selected>Demo Shop</option>' in response.content


@pytest.mark.parametrize(
    "wrong",
    [{"order_number": "A-999"}, {"email": "eve@mail.example"}, {"shop": "other-shop"}],
)
def test_a_wrong_combination_gets_the_same_message_whatever_was_wrong(client, order, wrong):
    MerchantFactory(slug="other-shop")
    response = find(client, order, **wrong)
    assert response.status_code == 200
    assert "We could not find an order with these details" in response.content.decode()
    assert VERIFIED_ORDER not in client.session


def test_the_right_details_lead_to_the_choices_for_the_order(client, order):
    response = find(client, order, email="ANN@mail.example ", order_number=" A-100")
    assert response.status_code == 302
    assert response["Location"] == reverse("disputes:start")
    page = client.get(response["Location"]).content.decode()
    assert "Dispute the payment" in page
    assert "Buyer protection" not in page  # not taken at checkout


def test_an_order_with_an_open_case_leads_to_that_case_by_email(client, order):
    dispute = open_dispute(order=order)
    response = find(client, order)
    assert response.status_code == 200
    assert "already has an open case" in response.content.decode()
    assert Dispute.objects.count() == 1
    link = OutboxMessage.objects.get(kind="customer_case_link")
    assert link.recipient == order.customer_email
    assert link.context["case_id"] == dispute.public_id
    assert VERIFIED_ORDER not in client.session


def test_the_steps_after_finding_need_a_found_order(client):
    for name in ("start", "open-dispute", "protection"):
        response = client.get(reverse(f"disputes:{name}"))
        assert response.status_code == 302
        assert response["Location"] == reverse("disputes:find-order")


# --- Opening a payment dispute -------------------------------------------------------------------


def test_opening_a_payment_dispute_with_a_document(client, order, settings, time_machine):
    # The clock stands still: the case link's signature carries the second it was made.
    time_machine.move_to(timezone.now(), tick=False)
    find(client, order)
    response = client.post(
        reverse("disputes:open-dispute"),
        {
            "reason": Reason.NOT_RECEIVED,
            "message": "Tracking says delivered, but nothing came.",
            "documents": [pdf(), SimpleUploadedFile("photo.png", png_bytes())],
        },
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert dispute.state == State.AWAITING_MERCHANT
    assert dispute.order.payment_state == PaymentState.PAUSED
    documents = list(dispute.attachments.order_by("id"))
    assert [(d.original_name, d.content_type, d.uploaded_by) for d in documents] == [
        ("receipt.pdf", "application/pdf", "customer"),
        ("photo.png", "image/png", "customer"),
    ]
    assert documents[0].event.event_type == EventType.OPENED
    assert len(stored_files(settings)) == 2

    confirmation = client.get(response["Location"]).content.decode()
    assert dispute.public_id in confirmation
    assert "Your invoice is paused" in confirmation
    assert "has until" in confirmation
    assert customer_case_path(dispute) in confirmation

    email = OutboxMessage.objects.get(kind="customer_case_opened")
    assert email.context["case_url"].endswith(customer_case_path(dispute))


def test_the_case_follows_the_language_the_customer_used(client, order):
    client.cookies["django_language"] = "nl"
    find(client, order)
    client.post(
        reverse("disputes:open-dispute"),
        {"reason": Reason.FAULTY, "message": "Kapot aangekomen."},
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    dispute = Dispute.objects.get()
    assert dispute.customer_language == "nl"
    assert OutboxMessage.objects.get(kind="customer_case_opened").language == "nl"


@pytest.mark.parametrize(
    ("documents", "expected"),
    [
        ([SimpleUploadedFile("invoice.pdf", b"<html><script>x</script></html>")], "invoice.pdf"),
        ([SimpleUploadedFile("empty.pdf", b"")], "empty.pdf"),
        ([pdf(f"doc{i}.pdf") for i in range(6)], "5"),
        (
            [SimpleUploadedFile("huge.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"%%EOF")],
            "huge.pdf",
        ),
    ],
    ids=["wrong-type-by-content", "empty", "too-many", "too-big"],
)
def test_a_rejected_document_keeps_the_form_and_stores_nothing(
    client, order, settings, documents, expected
):
    find(client, order)
    response = client.post(
        reverse("disputes:open-dispute"),
        {"reason": Reason.FAULTY, "message": "Screen cracked on arrival.", "documents": documents},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert expected in page
    assert "Screen cracked on arrival." in page  # what the customer wrote is kept
    assert re.search(r'<input[^>]*value="faulty"[^>]*checked', page)  # the choice is kept
    assert not Dispute.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(settings) == []
    assert client.session[VERIFIED_ORDER] == order.pk


def test_missing_reason_and_message_are_named(client, order):
    find(client, order)
    page = client.post(reverse("disputes:open-dispute"), {}).content.decode()
    assert 'href="#id_reason"' in page
    assert 'href="#id_message"' in page
    assert not Dispute.objects.exists()


def test_an_unauthorized_purchase_goes_straight_to_support(client, order):
    find(client, order)
    response = client.post(
        reverse("disputes:open-dispute"),
        {"reason": Reason.UNAUTHORIZED, "message": "I never ordered this."},
    )
    page = client.get(response["Location"]).content.decode()
    assert "Our support team handles this case directly" in page
    assert Dispute.objects.get().state == State.ESCALATED


# --- Buyer protection ----------------------------------------------------------------------------


@pytest.fixture
def protected_order(order):
    order.protection_tier = "plus"
    order.protection_status = ProtectionStatus.ACTIVE
    order.protection_ends_at = order.placed_at + timedelta(days=30)
    order.save()
    return order


def protection(client, **data):
    return client.post(reverse("disputes:protection"), data)


def test_a_protected_order_offers_buyer_protection(client, protected_order):
    find(client, protected_order)
    page = client.get(reverse("disputes:start")).content.decode()
    assert "Use buyer protection" in page
    form = client.get(reverse("disputes:protection")).content.decode()
    for answer in ("all_fine", "not_received", "no_refund", "extend", "other_request"):
        assert f'value="{answer}"' in form


def test_everything_fine_ends_the_protection_once_confirmed(client, protected_order):
    find(client, protected_order)
    asked = protection(client, answer="all_fine").content.decode()
    assert "end my protection" in asked
    protected_order.refresh_from_db()
    assert protected_order.protection_status == ProtectionStatus.ACTIVE  # not one click
    page = protection(client, answer="all_fine", confirm_withdrawal="on").content.decode()
    assert "Your buyer protection for this order has ended" in page
    protected_order.refresh_from_db()
    assert protected_order.protection_status == ProtectionStatus.ENDED


@pytest.mark.parametrize(
    ("tier", "text", "days"),
    [
        ("plus", "extended by 30 days", 60),
        ("one_time", "extended by 30 days", 60),
        ("basic", "upgrade to buyer protection plus", 30),
    ],
)
def test_extending_protection(client, protected_order, tier, text, days):
    protected_order.protection_tier = tier
    protected_order.save()
    find(client, protected_order)
    assert text in protection(client, answer="extend").content.decode()
    protected_order.refresh_from_db()
    assert protected_order.protection_ends_at == protected_order.placed_at + timedelta(days=days)


def test_not_received_opens_a_buyer_protection_case(client, protected_order):
    find(client, protected_order)
    response = protection(
        client,
        answer="not_received",
        message="Still waiting after three weeks.",
        documents=[pdf()],
    )
    assert response.status_code == 302
    dispute = Dispute.objects.get()
    assert (dispute.program, dispute.reason) == (Program.BUYER_PROTECTION, Reason.NOT_RECEIVED)
    assert dispute.order.payment_state == PaymentState.ACTIVE  # protection pauses no invoice
    assert dispute.attachments.count() == 1


def test_no_refund_needs_to_know_whether_returned_or_cancelled(client, protected_order):
    find(client, protected_order)
    page = protection(client, answer="no_refund", message="No money back.").content.decode()
    assert "Tell us whether you returned or cancelled it." in page
    assert not Dispute.objects.exists()
    protection(
        client,
        answer="no_refund",
        no_refund_kind="no_refund_after_cancellation",
        message="Cancelled the same day, no refund.",
    )
    assert Dispute.objects.get().reason == Reason.NO_REFUND_AFTER_CANCELLATION


def test_another_request_goes_to_support(client, protected_order):
    find(client, protected_order)
    protection(client, answer="other_request", message="Can you change the address?")
    assert Dispute.objects.get().state == State.ESCALATED


def test_outside_the_protection_period_the_form_says_so(client, protected_order):
    protected_order.placed_at = timezone.now() - timedelta(days=45)
    protected_order.protection_ends_at = protected_order.placed_at + timedelta(days=30)
    protected_order.save()
    find(client, protected_order)
    start = client.get(reverse("disputes:start")).content.decode()
    assert "The protection period ended on" in start
    page = client.get(reverse("disputes:protection")).content.decode()
    assert "no active buyer protection" in page
    assert "<form" not in page.split("</header>")[1]
    response = protection(client, answer="not_received", message="Too late?")
    assert "no active buyer protection" in response.content.decode()
    assert not Dispute.objects.exists()


# --- The case page through the private link ------------------------------------------------------


def case_url(dispute) -> str:
    dispute.refresh_from_db()
    return customer_case_path(dispute)


def test_the_case_page_says_where_the_case_stands(client, order):
    dispute = open_dispute(order=order, message="Never arrived.")
    page = client.get(case_url(dispute)).content.decode()
    assert dispute.public_id in page
    assert "Waiting for Demo Shop. They have until" in page
    assert "23:59" in page  # the deadline's last minute, not midnight
    assert "Never arrived." in page
    assert "Invoice: Paused during a dispute." in page


def test_the_customer_sees_only_what_is_meant_for_them(client, order):
    dispute = open_dispute(order=order, reason=Reason.UNAUTHORIZED)
    services.dispute_request_information(
        dispute=dispute,
        actor=staff_actor(),
        party=Party.MERCHANT,
        message="Merchant: send the signed delivery note.",
    )
    page = client.get(case_url(dispute)).content.decode()
    assert "asked the shop for more information" in page
    assert "signed delivery note" not in page


def test_the_case_page_costs_the_same_queries_however_long_the_timeline(client, order):
    dispute = open_dispute(order=order)
    url = case_url(dispute)
    client.get(url)
    with CaptureQueriesContext(connection) as short:
        client.get(url)
    actor = merchant_actor(dispute.merchant)
    for i in range(5):
        services.dispute_add_message(
            dispute=dispute,
            actor=actor,
            message=f"Update {i}",
            documents=[],
        )
    with CaptureQueriesContext(connection) as long:
        client.get(url)
    assert len(long) == len(short)


def test_a_tampered_link_is_refused_with_a_way_to_get_a_new_one(client, order):
    dispute = open_dispute(order=order)
    url = case_url(dispute)
    tampered = url[:-3] + ("A" if url[-3] != "A" else "B") + url[-2:]
    response = client.get(tampered)
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()
    assert reverse("disputes:renew-link") in response.content.decode()


def test_a_link_expires(client, order, settings):
    dispute = open_dispute(order=order)
    url = case_url(dispute)
    with time_machine.travel(timezone.now() + settings.CUSTOMER_LINK_MAX_AGE + timedelta(hours=1)):
        response = client.get(url)
    assert response.status_code == 404
    assert "This link has expired" in response.content.decode()


def test_renewing_the_link_emails_a_new_one_and_revokes_the_old(client, order):
    dispute = open_dispute(order=order)
    old_url = case_url(dispute)
    response = client.post(
        reverse("disputes:renew-link"),
        {"shop": "demo-shop", "order_number": "A-100", "email": "ann@mail.example"},
    )
    assert "we have sent a new link" in response.content.decode()
    assert client.get(old_url).status_code == 404
    new_link = OutboxMessage.objects.get(kind="customer_case_link").context["case_url"]
    assert client.get(new_link.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_renewing_with_wrong_details_says_the_same_and_sends_nothing(client, order):
    open_dispute(order=order)
    response = client.post(
        reverse("disputes:renew-link"),
        {"shop": "demo-shop", "order_number": "A-100", "email": "eve@mail.example"},
    )
    assert "we have sent a new link" in response.content.decode()
    assert not OutboxMessage.objects.filter(kind="customer_case_link").exists()


# --- Answering the merchant ----------------------------------------------------------------------


def offered(order, refund, amount=None):
    dispute = (
        open_dispute(order=order, program=Program.BUYER_PROTECTION)
        if (order.protection_tier != "none")
        else open_dispute(order=order)
    )
    services.dispute_respond(
        dispute=dispute,
        actor=merchant_actor(dispute.merchant),
        refund=refund,
        amount=amount,
        message="We offer this.",
    )
    return dispute


def test_a_partial_offer_shows_exactly_its_three_choices(client, order):
    dispute = offered(order, RefundOffer.PARTIAL, "40.00")
    page = client.get(case_url(dispute)).content.decode()
    assert "Partial refund: €40.00" in page
    for reply in ("received_refund", "refund_not_received", "reject_partial"):
        assert f'value="{reply}"' in page
    assert 'value="disagree"' not in page


def test_rejecting_a_partial_refund_escalates_with_documents(client, order):
    dispute = offered(order, RefundOffer.PARTIAL, "40.00")
    url = case_url(dispute)
    response = client.post(
        url + "reply/",
        {
            "reply-reply": "reject_partial",
            "reply-message": "40 is not enough.",
            "reply-documents": [pdf()],
        },
    )
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    reply_event = dispute.events.get(event_type=EventType.CUSTOMER_REPLIED)
    assert reply_event.attachments.count() == 1
    assert "Thank you, your answer is saved." in client.get(url).content.decode()


def test_a_reply_not_offered_for_this_offer_is_refused(client, order):
    dispute = offered(order, RefundOffer.FULL)
    page = client.post(case_url(dispute) + "reply/", {"reply-reply": "reject_partial"})
    assert "Select a valid choice" in page.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_CUSTOMER


def test_after_the_20_days_the_choices_disappear_and_answers_are_refused(client, order):
    dispute = offered(order, RefundOffer.NONE)
    url = case_url(dispute)
    dispute.refresh_from_db()
    with time_machine.travel(dispute.due_at + timedelta(minutes=5)):
        page = client.get(url).content.decode()
        assert "The time to answer the offer has ended" in page
        assert 'value="disagree"' not in page
        response = client.post(url + "reply/", {"reply-reply": "disagree"})
        assert "The time to answer the offer has ended" in response.content.decode()
        services.dispute_close_overdue_customer_windows()
        page = client.get(url).content.decode()
    assert "closed by agreement" in page
    dispute.refresh_from_db()
    assert dispute.state == State.RESOLVED


def test_a_message_with_a_document_reaches_the_merchant(client, order):
    dispute = open_dispute(order=order)
    url = case_url(dispute)
    response = client.post(
        url + "message/",
        {"message-message": "Here is the photo.", "message-documents": [pdf("photo.pdf")]},
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    download = client.get(url + f"documents/{attachment.pk}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == PDF
    assert OutboxMessage.objects.filter(kind="merchant_customer_replied").count() == 1


def test_a_document_of_another_case_is_not_reachable(client, order):
    other = open_dispute()
    services.dispute_add_message(
        dispute=other,
        actor=merchant_actor(other.merchant),
        message="x",
        documents=[],
    )
    mine = open_dispute(order=order)
    client.post(
        case_url(other) + "message/", {"message-message": "theirs", "message-documents": [pdf()]}
    )
    foreign = Attachment.objects.get()
    assert client.get(case_url(mine) + f"documents/{foreign.pk}/").status_code == 404


def test_an_empty_message_is_refused_with_its_field_named(client, order):
    dispute = open_dispute(order=order)
    page = client.post(case_url(dispute) + "message/", {"message-message": "  "}).content.decode()
    assert 'href="#id_message-message"' in page
    assert dispute.events.count() == 1


def test_answering_supports_information_request_sends_the_case_back(client, order):
    dispute = open_dispute(order=order, reason=Reason.UNAUTHORIZED)
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.CUSTOMER, message="Police report?"
    )
    url = case_url(dispute)
    assert "needs more information from you" in client.get(url).content.decode()
    client.post(url + "message/", {"message-message": "Attached.", "message-documents": [pdf()]})
    dispute.refresh_from_db()
    assert dispute.state == State.ESCALATED
    assert dispute.events.filter(event_type=EventType.INFO_PROVIDED).count() == 1


def test_withdrawing_needs_confirmation(client, order):
    dispute = open_dispute(order=order)
    url = case_url(dispute)
    page = client.post(url + "withdraw/", {}).content.decode()
    assert 'href="#id_withdraw-confirm"' in page
    client.post(
        url + "withdraw/", {"withdraw-confirm": "on", "withdraw-message": "Arrived after all."}
    )
    dispute.refresh_from_db()
    assert dispute.state == State.WITHDRAWN
    assert dispute.order.payment_state == PaymentState.ACTIVE
    page = client.get(url).content.decode()
    assert "You withdrew this case." in page
    assert "Withdraw my case" not in page


# --- Abuse and access ----------------------------------------------------------------------------


def test_the_public_form_is_rate_limited_per_client(client, order, settings):
    settings.PUBLIC_FORM_RATE_LIMIT = 3
    for _ in range(3):
        assert find(client, order, email="x@mail.example").status_code == 200
    limited = find(client, order)
    assert limited.status_code == 429
    assert "Too many attempts" in limited.content.decode()
    assert int(limited["Retry-After"]) > 0


def test_another_address_is_not_limited_by_someone_elses_attempts(client, order, settings):
    settings.PUBLIC_FORM_RATE_LIMIT = 1
    find(client, order, email="x@mail.example")
    assert find(client, order).status_code == 429
    response = client.post(
        reverse("disputes:find-order"),
        {"shop": "demo-shop", "order_number": "A-100", "email": "ann@mail.example"},
        REMOTE_ADDR="192.0.2.7",
    )
    assert response.status_code == 302


def test_pages_declare_the_language_and_fit_small_screens(client):
    page = client.get(reverse("disputes:find-order"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de">' in page
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page


def test_the_dispute_form_names_the_shop_and_its_window(client, order):
    find(client, order)
    page = client.get(reverse("disputes:open-dispute")).content.decode()
    assert "Demo Shop then has 21 days to solve it with you." in " ".join(page.split())
