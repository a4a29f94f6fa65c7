"""The merchant portal through HTTP: queue, case page, answers, dashboard, tenant isolation."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing.models import FeeLine
from disputes import selectors, services
from disputes.choices import EventType, MemberRole, Party, Program, Reason, RefundOffer, State
from disputes.models import Attachment, Dispute
from tests.documents import PDF
from tests.factories import (
    MembershipFactory,
    MerchantFactory,
    OrderFactory,
    customer_actor,
    open_dispute,
    staff_actor,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def membership():
    merchant = MerchantFactory(name="Demo Shop", slug="demo-shop")
    return MembershipFactory(merchant=merchant, role=MemberRole.AGENT)


@pytest.fixture
def merchant(membership):
    return membership.merchant


@pytest.fixture
def portal(client, membership):
    client.force_login(membership.user)
    return client


def case_url(dispute, suffix=""):
    return reverse("portal:case", args=[dispute.public_id]) + suffix


# --- Access --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["portal:dashboard", "portal:queue", "portal:queue-export"])
def test_portal_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_a_user_without_a_shop_gets_a_clear_refusal(client, django_user_model):
    user = django_user_model.objects.create_user("nobody@mail.example", "nobody@mail.example")
    client.force_login(user)
    assert client.get(reverse("portal:dashboard")).status_code == 403


# --- Work queue ----------------------------------------------------------------------------------


def test_tabs_count_and_sort_by_time_left(portal, merchant):
    with time_machine.travel(NOW, tick=False):
        later = open_dispute(merchant=merchant, now=NOW - timedelta(days=1))
        sooner = open_dispute(merchant=merchant, now=NOW - timedelta(days=20))
        escalated = open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=NOW)
        withdrawn = open_dispute(merchant=merchant, now=NOW)
        services.dispute_withdraw(dispute=withdrawn, actor=customer_actor(withdrawn), now=NOW)
        open_dispute(now=NOW)  # another merchant's case
        page = portal.get(reverse("portal:queue")).content.decode()
    assert page.index(sooner.public_id) < page.index(later.public_id)
    assert escalated.public_id not in page
    assert withdrawn.public_id not in page
    assert 'class="urgent"' in page  # the case due within 48 hours stands out
    counts = portal.get(reverse("portal:queue")).context["counts"]
    assert counts == {
        "needs_response": 2,
        "waiting_customer": 0,
        "with_support": 1,
        "closed": 1,
    }
    support_tab = portal.get(reverse("portal:queue") + "?tab=with_support").content.decode()
    assert escalated.public_id in support_tab
    assert sooner.public_id not in support_tab


def test_the_deadline_is_shown_in_the_merchants_time_zone(portal, merchant):
    merchant.time_zone = "Europe/Helsinki"
    merchant.save()
    with time_machine.travel(NOW, tick=False):
        open_dispute(merchant=merchant, now=NOW)  # Nov 10 + 21 days ends Dec 1, Helsinki
        page = portal.get(reverse("portal:queue")).content.decode()
    assert "1 December 2026, 23:59" in page


@pytest.mark.parametrize("how", ["case_id", "case_id_lowercase", "order_number", "email"])
def test_search_finds_the_case(portal, merchant, how):
    wanted = open_dispute(merchant=merchant, customer_email="Ann@Mail.example")
    other = open_dispute(merchant=merchant)
    query = {
        "case_id": wanted.public_id,
        "case_id_lowercase": wanted.public_id.lower().replace("-", " "),
        "order_number": wanted.order.order_number,
        "email": "ann@mail.EXAMPLE",
    }[how]
    rows = portal.get(reverse("portal:queue"), {"q": query}).context["rows"]
    assert [dispute.public_id for dispute, _ in rows] == [wanted.public_id]
    assert other.public_id != wanted.public_id


def test_search_never_finds_another_merchants_case(portal, merchant):
    foreign = open_dispute()
    for tab in ("needs_response", "closed"):
        response = portal.get(reverse("portal:queue"), {"q": foreign.public_id, "tab": tab})
        assert response.context["rows"] == []
        assert response.context["counts"]["needs_response"] == 0


def test_filters_by_program_reason_and_date(portal, merchant):
    protected = OrderFactory(merchant=merchant, protected=True)
    bp = open_dispute(order=protected, program=Program.BUYER_PROTECTION)
    pd = open_dispute(merchant=merchant, reason=Reason.FAULTY)

    def ids(**params):
        rows = portal.get(reverse("portal:queue"), params).context["rows"]
        return [dispute.public_id for dispute, _ in rows]

    assert ids(program="buyer_protection") == [bp.public_id]
    assert ids(reason="faulty") == [pd.public_id]
    page = portal.get(
        reverse("portal:queue"), {"opened_from": "2000-01-01", "opened_to": "2000-01-31"}
    )
    assert page.context["rows"] == []
    bad = portal.get(reverse("portal:queue"), {"opened_from": "not-a-date"})
    assert bad.status_code == 200
    assert "Enter a valid date" in bad.content.decode()


def test_keyset_pages_cover_every_case_once(portal, merchant):
    created = {
        open_dispute(merchant=merchant, now=NOW - timedelta(hours=i)).public_id for i in range(30)
    }
    first = portal.get(reverse("portal:queue"))
    assert len(first.context["rows"]) == 25
    cursor = first.context["next_cursor"]
    assert cursor
    second = portal.get(reverse("portal:queue"), {"after": cursor})
    seen = [d.public_id for d, _ in first.context["rows"]] + [
        d.public_id for d, _ in second.context["rows"]
    ]
    assert sorted(seen) == sorted(created)
    assert second.context["next_cursor"] is None
    tampered = portal.get(reverse("portal:queue"), {"after": cursor[:-2] + "xx"})
    assert len(tampered.context["rows"]) == 25  # a bad cursor is the first page, not a 500


def test_closed_pages_cover_every_case_once_when_cases_close_at_the_same_moment(portal, merchant):
    created = set()
    for i in range(30):
        dispute = open_dispute(merchant=merchant, now=NOW - timedelta(hours=i + 1))
        # Two cases per moment: the page boundary falls between cases closed at the same time.
        services.dispute_withdraw(
            dispute=dispute, actor=customer_actor(dispute), now=NOW - timedelta(minutes=i // 2)
        )
        created.add(dispute.public_id)
    seen: list[str] = []
    cursor = ""
    while True:
        response = portal.get(reverse("portal:queue"), {"tab": "closed", "after": cursor})
        seen += [d.public_id for d, _ in response.context["rows"]]
        cursor = response.context["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(created)
    assert set(seen) == created
    closed_at = dict(Dispute.objects.values_list("public_id", "closed_at"))
    assert [closed_at[p] for p in seen] == sorted(closed_at.values(), reverse=True)


def test_tab_counts_stop_at_the_cap_and_say_so(portal, merchant, monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_COUNT_CAP", 3)
    for _ in range(3):
        open_dispute(merchant=merchant)
    at_cap = portal.get(reverse("portal:queue"))
    assert at_cap.context["counts"]["needs_response"] == 3
    assert '<span class="count">3</span>' in at_cap.content.decode()
    open_dispute(merchant=merchant)
    open_dispute(merchant=merchant)
    above = portal.get(reverse("portal:queue"))
    assert above.context["counts"]["needs_response"] == 4  # counting stopped at cap + 1
    page = above.content.decode()
    assert '<span class="count">3+</span>' in page
    assert '<span class="count">0</span>' in page  # the other tabs are exact
    assert len(above.context["rows"]) == 5  # the list itself is never capped


def test_a_capped_count_reads_as_more_than_a_thousand_in_the_users_language(
    portal, merchant, monkeypatch
):
    assert selectors.QUEUE_COUNT_CAP == 1000
    counts = {"needs_response": 1001, "waiting_customer": 1000, "with_support": 0, "closed": 7}
    monkeypatch.setattr(selectors, "queue_counts", lambda merchant, filters: counts)
    english = portal.get(reverse("portal:queue")).content.decode()
    assert '<span class="count">1,000+</span>' in english
    assert '<span class="count">1,000</span>' in english
    dutch = portal.get(reverse("portal:queue"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert '<span class="count">1.000+</span>' in dutch


def test_queue_queries_do_not_grow_with_the_number_of_cases(portal, merchant):
    for _ in range(3):
        open_dispute(merchant=merchant)
    with CaptureQueriesContext(connection) as few:
        portal.get(reverse("portal:queue"))
    for _ in range(25):
        open_dispute(merchant=merchant)
    with CaptureQueriesContext(connection) as many:
        portal.get(reverse("portal:queue"))
    assert len(many) == len(few)


def test_csv_export_streams_the_filtered_list(portal, merchant):
    wanted = open_dispute(
        merchant=merchant, customer_email="=cmd@mail.example", reason=Reason.FAULTY
    )
    open_dispute(merchant=merchant, reason=Reason.NOT_RECEIVED)
    open_dispute()  # another merchant's
    response = portal.get(reverse("portal:queue-export"), {"reason": "faulty"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["case_id", "order_number", "order_date"]
    assert [row[0] for row in rows[1:]] == [wanted.public_id]
    assert rows[1][3] == "'=cmd@mail.example"  # no formula injection into spreadsheets
    assert rows[1][7] == "100.00"


# --- Case page and answers -----------------------------------------------------------------------


def test_the_case_page_has_everything_needed_to_answer(portal, merchant):
    dispute = open_dispute(merchant=merchant, message="The screen was cracked.")
    services.dispute_add_message(
        dispute=dispute,
        actor=customer_actor(dispute),
        message="Photo attached.",
        documents=[],
    )
    page = portal.get(case_url(dispute)).content.decode()
    for expected in (
        dispute.order.order_number,
        "€100.00",
        dispute.order.customer_email,
        "Payment dispute",
        "Goods not received",
        "The screen was cracked.",
        "Photo attached.",
        "Do you offer a refund?",
        'value="100.00"',
    ):
        assert expected in page, expected


def test_the_merchant_does_not_see_what_the_customer_sent_support_only(portal, merchant):
    dispute = open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED)
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.CUSTOMER, message="Police report?"
    )
    services.dispute_add_message(
        dispute=dispute, actor=customer_actor(dispute), message="My police report number 42."
    )
    page = portal.get(case_url(dispute)).content.decode()
    assert "police report number 42" not in page
    assert "Police report?" not in page


def respond(portal, dispute, **data):
    # The answer form's fields carry its prefix on the case page: "answer-refund", ...
    return portal.post(case_url(dispute, "respond/"), {f"answer-{k}": v for k, v in data.items()})


@pytest.mark.parametrize(
    ("data", "offer", "amount"),
    [
        ({"refund": "yes", "amount": "100.00"}, RefundOffer.FULL, "100.00"),
        ({"refund": "yes", "amount": "35.50"}, RefundOffer.PARTIAL, "35.50"),
        ({"refund": "after_return", "amount": "100.00"}, RefundOffer.AFTER_RETURN, "100.00"),
        ({"refund": "no"}, RefundOffer.NONE, "0.00"),
    ],
)
def test_answering_with_each_kind_of_offer(portal, merchant, data, offer, amount):
    dispute = open_dispute(merchant=merchant)
    document = SimpleUploadedFile("proof.pdf", PDF)
    response = respond(portal, dispute, message="Sorry about that.", documents=[document], **data)
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_CUSTOMER
    assert (dispute.refund_offer, dispute.refund_offer_amount) == (offer, Decimal(amount))
    attachment = Attachment.objects.get()
    assert attachment.uploaded_by == "merchant"
    assert attachment.event.event_type == EventType.OFFER_MADE


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"refund": "yes", "amount": "100.01", "message": "x"}, "can be at most €100.00"),
        ({"refund": "yes", "amount": "", "message": "x"}, "Enter the amount you refund."),
        ({"refund": "yes", "amount": "-3", "message": "x"}, "Enter an amount above zero."),
        ({"refund": "yes", "amount": "abc", "message": "x"}, "Enter a number."),
        ({"refund": "yes", "amount": "50"}, "This field is required."),
        ({"amount": "50", "message": "x"}, "This field is required."),
    ],
)
def test_every_bad_answer_gets_a_clear_error_and_changes_nothing(portal, merchant, data, error):
    dispute = open_dispute(merchant=merchant)
    response = respond(portal, dispute, **data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "There is a problem" in page
    assert error in page
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_MERCHANT


def test_an_answer_after_the_deadline_is_refused_with_the_reason(portal, merchant, membership):
    dispute = open_dispute(merchant=merchant, now=NOW)
    dispute.refresh_from_db()
    with time_machine.travel(dispute.due_at + timedelta(seconds=1), tick=False):
        portal.force_login(membership.user)  # weeks later: a new session
        page = portal.get(case_url(dispute)).content.decode()
        assert "Do you offer a refund?" not in page
        response = respond(portal, dispute, refund="no", message="Too late?")
    assert "The deadline for this action has passed." in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.state == State.AWAITING_MERCHANT


def test_accepting_a_payment_dispute_outright(portal, merchant):
    dispute = open_dispute(merchant=merchant)
    missing = portal.post(case_url(dispute, "accept/"), {})
    assert "There is a problem" in missing.content.decode()
    portal.post(case_url(dispute, "accept/"), {"accept-confirm": "on"})
    dispute.refresh_from_db()
    assert dispute.state == State.RESOLVED


def test_buyer_protection_cannot_be_accepted_outright(portal, merchant):
    dispute = open_dispute(
        order=OrderFactory(merchant=merchant, protected=True), program=Program.BUYER_PROTECTION
    )
    assert "Accept the dispute outright" not in portal.get(case_url(dispute)).content.decode()
    response = portal.post(case_url(dispute, "accept/"), {"accept-confirm": "on"})
    assert "Only a payment dispute can be accepted outright." in response.content.decode()


def test_messages_to_the_customer_and_evidence_for_support(portal, merchant):
    dispute = open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED)
    page = portal.get(case_url(dispute)).content.decode()
    assert 'value="support" id="id_audience_1" checked' in page or "checked" in page
    portal.post(
        case_url(dispute, "message/"),
        {
            "message-audience": "support",
            "message-message": "Delivery proof.",
            "message-documents": [SimpleUploadedFile("p.pdf", PDF)],
        },
    )
    portal.post(
        case_url(dispute, "message/"),
        {"message-audience": "customer", "message-message": "We are looking."},
    )
    events = list(dispute.events.filter(event_type=EventType.MESSAGE).order_by("id"))
    assert [(e.message, e.visibility) for e in events] == [
        ("Delivery proof.", "merchant"),
        ("We are looking.", "both"),
    ]
    assert events[0].attachments.count() == 1


def test_documents_are_served_only_to_their_merchant(portal, merchant, client):
    dispute = open_dispute(merchant=merchant)
    services.dispute_add_message(
        dispute=dispute,
        actor=customer_actor(dispute),
        message="x",
        documents=__import__("disputes.uploads", fromlist=["check_uploads"]).check_uploads(
            [SimpleUploadedFile("r.pdf", PDF)]
        ),
    )
    attachment = Attachment.objects.get()
    url = reverse("portal:case-document", args=[dispute.public_id, attachment.pk])
    assert b"".join(portal.get(url).streaming_content) == PDF
    stranger = MembershipFactory()
    client.force_login(stranger.user)
    assert client.get(url).status_code == 404


def test_case_page_queries_do_not_grow_with_the_timeline(portal, merchant):
    dispute = open_dispute(merchant=merchant)
    with CaptureQueriesContext(connection) as short:
        portal.get(case_url(dispute))
    for i in range(8):
        services.dispute_add_message(
            dispute=dispute, actor=customer_actor(dispute), message=f"m{i}"
        )
    with CaptureQueriesContext(connection) as long:
        portal.get(case_url(dispute))
    assert len(long) == len(short)


# --- Dashboard -----------------------------------------------------------------------------------


def test_dashboard_shows_rate_fees_due_cases_and_chart(portal, merchant):
    with time_machine.travel(NOW, tick=False):
        for _ in range(60):
            OrderFactory(merchant=merchant, placed_at=NOW - timedelta(days=2))
        due_soon = open_dispute(merchant=merchant, now=NOW - timedelta(days=20))  # within 48 h
        open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED, now=NOW)  # fee 7.50
        response = portal.get(reverse("portal:dashboard"))
    page = response.content.decode()
    month = response.context["month"]
    # This month: 1 case opened (the other in October) for 61 orders (60 + its own).
    assert (month.disputes_opened, month.orders_placed) == (1, 61)
    assert "1.64 %" in page
    assert "above the threshold" in page
    assert "€7.50" in page
    assert [d.public_id for d, _ in response.context["due_soon"]] == [due_soon.public_id]
    assert len(response.context["chart"]["bars"]) == 12
    assert "<svg" in page
    assert FeeLine.objects.count() == 1


def test_dashboard_without_orders_has_no_rate(portal):
    page = portal.get(reverse("portal:dashboard")).content.decode()
    assert "No orders this month yet" in page


def test_dashboard_queries_do_not_grow(portal, merchant):
    portal.get(reverse("portal:dashboard"))  # the first view keeps the ended months' figures
    with CaptureQueriesContext(connection) as few:
        portal.get(reverse("portal:dashboard"))
    for _ in range(10):
        open_dispute(merchant=merchant)
    with CaptureQueriesContext(connection) as many:
        portal.get(reverse("portal:dashboard"))
    assert len(many) == len(few)


# --- Tenant isolation: every portal URL with another merchant's objects is a 404 -----------------

# How to build each portal URL with objects of ANOTHER merchant, or why it has none.
FOREIGN_OBJECT_URLS = {
    "case": lambda o: [o["dispute"].public_id],
    "case-respond": lambda o: [o["dispute"].public_id],
    "case-accept": lambda o: [o["dispute"].public_id],
    "case-message": lambda o: [o["dispute"].public_id],
    "case-evidence": lambda o: [o["dispute"].public_id],
    "case-return-received": lambda o: [o["dispute"].public_id],
    "case-appeal": lambda o: [o["dispute"].public_id],
    "case-document": lambda o: [o["dispute"].public_id, o["attachment"].pk],
    "team-remove": lambda o: [o["membership"].pk],
    "team-invitation-withdraw": lambda o: [
        __import__("disputes.memberships", fromlist=["team_invite"])
        .team_invite(
            merchant=o["dispute"].merchant,
            email="invited@other.example",
            role=MemberRole.AGENT,
            invited_by_id=o["membership"].user_id,
        )
        .pk
    ],
    "switch-merchant": lambda o: [o["dispute"].merchant.slug],
    "api-key-revoke": lambda o: __import__("tests.api.foreign", fromlist=["x"]).api_key_args(o),
    "api-webhook": lambda o: __import__("tests.api.foreign", fromlist=["x"]).webhook_args(o),
    "api-webhook-rotate": lambda o: __import__("tests.api.foreign", fromlist=["x"]).webhook_args(o),
    "api-webhook-resend": lambda o: __import__("tests.api.foreign", fromlist=["x"]).delivery_args(
        o
    ),
    # The statement of the merchant that owns the dispute: another merchant's for the user.
    **{
        name: lambda o: [
            __import__("tests.billing.factories", fromlist=["issued_statement"])
            .issued_statement(o["dispute"].merchant)
            .pk
        ]
        for name in ("fees-statement", "fees-statement-csv", "fees-statement-pdf")
    },
}
# Pages that show only the user's own merchant and take no object from the URL.
NO_OBJECT_IN_URL = {
    "dashboard",
    "queue",
    "queue-export",
    "login",
    "logout",
    "password-reset",
    "password-reset-done",
    "password-reset-confirm",
    "password-reset-complete",
    "preferences",
    "team",
    "leave",
    # The invitation link names no shop object: its signed token is tested for tampering, and
    # it opens only for the invited address (tests/portal/test_team_invitations.py).
    "invitation",
    "api-index",
    "api-key-create",
    "api-webhook-create",
    "fees-statements",
}


def portal_url_names() -> set[str]:
    resolver = get_resolver()
    names: set[str] = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and namespace == "portal" and pattern.name:
                names.add(pattern.name)

    walk(resolver.url_patterns, None)
    return names


def test_every_portal_url_is_classified_for_tenant_isolation():
    unclassified = portal_url_names() - set(FOREIGN_OBJECT_URLS) - NO_OBJECT_IN_URL
    assert not unclassified, f"add a foreign-object case for: {sorted(unclassified)}"


@pytest.mark.parametrize("name", sorted(FOREIGN_OBJECT_URLS))
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_merchants_objects_are_not_found(portal, membership, name, method):
    foreign = open_dispute()
    services.dispute_add_message(
        dispute=foreign,
        actor=customer_actor(foreign),
        message="theirs",
        documents=__import__("disputes.uploads", fromlist=["check_uploads"]).check_uploads(
            [SimpleUploadedFile("r.pdf", PDF)]
        ),
    )
    # The user is an owner, so only tenant scoping can stop them.
    membership.role = MemberRole.OWNER
    membership.save()
    objects = {
        "dispute": foreign,
        "attachment": Attachment.objects.get(dispute=foreign),
        "membership": MembershipFactory(merchant=foreign.merchant, role=MemberRole.AGENT),
    }
    url = reverse(f"portal:{name}", args=FOREIGN_OBJECT_URLS[name](objects))
    response = getattr(portal, method)(url)
    assert response.status_code in (404, 405), (name, method, response.status_code)
    if response.status_code == 405:
        # Refused by method alone: the user's own object gets the same answer, so it leaks
        # nothing about whether the foreign object exists.
        own = open_dispute(merchant=membership.merchant)
        own_objects = {
            "dispute": own,
            "attachment": objects["attachment"],
            "membership": membership,
        }
        own_url = reverse(f"portal:{name}", args=FOREIGN_OBJECT_URLS[name](own_objects))
        assert getattr(portal, method)(own_url).status_code == 405
    assert Dispute.objects.get(pk=foreign.pk).state == State.AWAITING_MERCHANT


def test_merchant_emails_link_straight_to_the_case_in_the_portal(merchant, mailoutbox):
    from notifications.models import OutboxMessage
    from notifications.services import outbox_deliver_due

    dispute = open_dispute(merchant=merchant)
    notice = OutboxMessage.objects.get(kind="merchant_new_case")
    assert notice.context["case_url"] == "http://127.0.0.1:8000" + case_url(dispute)
    outbox_deliver_due()
    sent = next(m for m in mailoutbox if m.to == [merchant.memberships.get().user.email])
    assert case_url(dispute) in sent.body
    assert case_url(dispute) in sent.alternatives[0][0]


@pytest.mark.parametrize(
    ("switched_off", "kind", "happen"),
    [
        ("notify_new_case", "merchant_new_case", lambda d: None),
        (
            "notify_escalation",
            "merchant_escalated",
            lambda d: services.dispute_escalate_overdue(now=d.due_at),
        ),
        (
            "notify_reminders",
            "merchant_reminder",
            lambda d: services.dispute_send_due_reminders(now=d.due_at - timedelta(days=7)),
        ),
        (
            "notify_customer_reply",
            "merchant_customer_replied",
            lambda d: services.dispute_add_message(
                dispute=d, actor=customer_actor(d), message="Hi"
            ),
        ),
    ],
)
def test_merchant_users_get_only_the_emails_they_chose(merchant, switched_off, kind, happen):
    from notifications.models import OutboxMessage

    wants_all = MembershipFactory(merchant=merchant)
    opted_out = MembershipFactory(merchant=merchant, **{switched_off: False})
    dispute = open_dispute(merchant=merchant, now=NOW)
    dispute.refresh_from_db()
    happen(dispute)
    recipients = set(OutboxMessage.objects.filter(kind=kind).values_list("recipient", flat=True))
    assert wants_all.user.email in recipients
    assert opted_out.user.email not in recipients


def test_information_requested_by_support_cannot_be_switched_off(merchant):
    from notifications.models import OutboxMessage

    opted_out = MembershipFactory(
        merchant=merchant,
        notify_new_case=False,
        notify_escalation=False,
        notify_decision=False,
        notify_reminders=False,
        notify_customer_reply=False,
    )
    dispute = open_dispute(merchant=merchant, reason=Reason.UNAUTHORIZED)
    services.dispute_request_information(
        dispute=dispute, actor=staff_actor(), party=Party.MERCHANT, message="Proof?"
    )
    notice = OutboxMessage.objects.get(
        kind="merchant_info_requested", recipient=opted_out.user.email
    )
    assert notice.dispute_id == dispute.pk


def test_amounts_are_typed_and_refused_in_the_readers_format(portal, merchant):
    portal.post(reverse("set_language"), {"language": "fi"})
    dispute = open_dispute(merchant=merchant)
    page = portal.get(case_url(dispute)).content.decode()
    assert 'inputmode="decimal"' in page
    assert 'type="number"' not in page  # Chromium in Finnish turned "30,00" into 3000
    too_much = respond(portal, dispute, refund="yes", amount="100,01", message="Hyvitys")
    assert "enintään 100,00\xa0€" in too_much.content.decode()
    respond(portal, dispute, refund="yes", amount="30,00", message="Hyvitys")
    dispute.refresh_from_db()
    assert (dispute.refund_offer, dispute.refund_offer_amount) == (
        RefundOffer.PARTIAL,
        Decimal("30.00"),
    )
