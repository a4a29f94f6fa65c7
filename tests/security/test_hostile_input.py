"""Anyone on the internet may send anything: every answer is a page or a clear 4xx, never a 500,
and a refused submission leaves nothing half-written."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disputes import services
from disputes.actors import Actor
from disputes.choices import MemberRole, State
from disputes.models import Attachment, Dispute, DisputeEvent
from tests.factories import MembershipFactory, MerchantFactory, OrderFactory, open_dispute

pytestmark = pytest.mark.django_db

EXAMPLES = 60
# Text a browser can send: any unicode, including control characters, RTL marks and NULs.
anything = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "' OR 1=1 --",
            "<script>x</script>",
            "9" * 40,
            "-1",
            "1e400",
            "NaN",
            "Infinity",
            "12.345",
            "١٢٣",
            "../../etc/passwd",
            "%00",
            "\u202e",
        ]
    ),
)
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SEEN: dict[str, int] = {}


def counted(name: str) -> None:
    SEEN[name] = SEEN.get(name, 0) + 1


@pytest.fixture(autouse=True)
def _no_rate_limit(settings) -> None:  # type: ignore[no-untyped-def]
    settings.PUBLIC_FORM_RATE_LIMIT = 10**9
    cache.clear()


@pytest.fixture(scope="module", autouse=True)
def _report():  # type: ignore[no-untyped-def]
    yield
    print("\nhostile inputs tried:", dict(sorted(SEEN.items())))


@pytest.fixture
def order():
    merchant = MerchantFactory(slug="demo-shop")
    MembershipFactory(merchant=merchant)
    return OrderFactory(merchant=merchant, order_number="A-1", customer_email="ann@mail.example")


@HYPOTHESIS
@given(shop=anything, order_number=anything, email=anything)
def test_find_order_never_fails_on_any_input(order, shop, order_number, email):
    counted("find-order")
    response = Client().post(
        reverse("disputes:find-order"), {"shop": shop, "order_number": order_number, "email": email}
    )
    assert response.status_code in (200, 302, 400)


@HYPOTHESIS
@given(reason=anything, message=anything)
def test_opening_a_dispute_never_fails_and_never_half_writes(order, reason, message):
    counted("open-dispute")
    client = Client()
    client.post(
        reverse("disputes:find-order"),
        {"shop": "demo-shop", "order_number": "A-1", "email": "ann@mail.example"},
    )
    before = (Dispute.objects.count(), DisputeEvent.objects.count(), Attachment.objects.count())
    response = client.post(reverse("disputes:open-dispute"), {"reason": reason, "message": message})
    assert response.status_code in (200, 302, 400)
    opened = Dispute.objects.filter(order=order).first()
    if response.status_code == 302 and opened is not None:
        # Accepted: a whole case with its opening event; then close it for the next example.
        assert opened.events.filter(event_type="opened").exists()
        services.dispute_withdraw(dispute=opened, actor=Actor.customer(order.customer_email))
    else:
        after = (Dispute.objects.count(), DisputeEvent.objects.count(), Attachment.objects.count())
        assert after == before


@HYPOTHESIS
@given(
    refund=anything,
    amount=anything,
    message=anything,
    answer=st.sampled_from(["yes", "after_return", "no"]),
)
def test_the_merchant_answer_form_never_fails(client, refund, amount, message, answer):
    counted("merchant-answer")
    membership = MembershipFactory(role=MemberRole.AGENT)
    dispute = open_dispute(merchant=membership.merchant)
    client.force_login(membership.user)
    url = reverse("portal:case-respond", args=[dispute.public_id])
    for data in (
        {"refund": refund, "amount": amount, "message": message},
        {"refund": answer, "amount": amount, "message": message},
    ):
        response = client.post(url, data)
        assert response.status_code in (200, 302)
        dispute.refresh_from_db()
        events = dispute.events.count()
        if dispute.state == State.AWAITING_MERCHANT:
            assert events == 1  # refused: nothing but the opening event
        else:
            assert dispute.state == State.AWAITING_CUSTOMER
            assert events == 2


@HYPOTHESIS
@given(
    q=anything,
    program=anything,
    reason=anything,
    state=anything,
    opened=anything,
    after=anything,
    tab=anything,
)
def test_the_work_queue_survives_any_query_string(
    client, q, program, reason, state, opened, after, tab
):
    counted("work-queue")
    membership = MembershipFactory()
    client.force_login(membership.user)
    params = {
        "q": q,
        "program": program,
        "reason": reason,
        "state": state,
        "opened_from": opened,
        "after": after,
        "tab": tab,
    }
    assert client.get(reverse("portal:queue"), params).status_code == 200
    assert client.get(reverse("portal:queue-export"), params).status_code == 200


@HYPOTHESIS
@given(token=anything, reply=anything, message=anything)
def test_customer_links_survive_any_token(token, reply, message):
    counted("customer-link")
    client = Client()
    path_token = quote(token, safe="") or "x"  # any text, percent-encoded into the path
    response = client.get(f"/c/{path_token}/")
    assert response.status_code in (404, 400)
    response = client.post(
        f"/c/{path_token}/reply/", {"reply-reply": reply, "reply-message": message}
    )
    assert response.status_code in (404, 400)


def test_a_multipart_post_without_content_length_is_a_clear_error(order):
    client = Client()
    client.post(
        reverse("disputes:find-order"),
        {"shop": "demo-shop", "order_number": "A-1", "email": "ann@mail.example"},
    )
    body = b'--x\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--x--\r\n'
    response = client.generic(
        "POST",
        reverse("disputes:open-dispute"),
        body,
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH="",
    )
    assert response.status_code in (200, 400)
    assert not Dispute.objects.exists()


# --- Authorization: every portal URL without a login goes to the login page -----------------------


def test_every_portal_url_needs_a_login(client):
    from tests.portal.test_portal import FOREIGN_OBJECT_URLS, NO_OBJECT_IN_URL, portal_url_names

    public = {
        "login",
        "password-reset",
        "password-reset-done",
        "password-reset-confirm",
        "password-reset-complete",
        "logout",
        "invitation",  # the link in an invitation email: its signed token is the permission
    }
    dispute = open_dispute()
    objects = {
        "dispute": dispute,
        "attachment": type("A", (), {"pk": 1})(),
        "membership": dispute.merchant.memberships.first() or MembershipFactory(),
        "statement": type("S", (), {"pk": 1})(),
    }
    checked = 0
    for name in sorted(portal_url_names() - public):
        if name in FOREIGN_OBJECT_URLS:
            try:
                args = FOREIGN_OBJECT_URLS[name](objects)
            except (KeyError, AttributeError):
                args = None
            if args is None:
                continue
            url = reverse(f"portal:{name}", args=args)
        else:
            assert name in NO_OBJECT_IN_URL
            url = reverse(f"portal:{name}")
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, 405), (name, method, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("portal:login")), name
        checked += 1
    print(f"\nportal URLs checked without a login: {checked}")
    assert checked >= 10
    assert Dispute.objects.get(pk=dispute.pk).state == State.AWAITING_MERCHANT
