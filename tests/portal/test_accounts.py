"""Merchant portal accounts through HTTP: sign in and out, passwords, preferences, team, shops."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from disputes.choices import MemberRole
from disputes.memberships import membership_remove
from disputes.models import MerchantMembership
from notifications.models import OutboxMessage
from notifications.services import outbox_deliver_due
from portal.base import ACTIVE_MERCHANT
from portal.forms import INVALID_LOGIN, NOTIFY_FIELDS
from tests.factories import MembershipFactory, MerchantFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long passphrase 42"
LINK = re.compile(r"https?://\S+/portal/password-reset/\S+/")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def agent(owner):
    return MembershipFactory(
        user__username="agent@shop.example", merchant=owner.merchant, role=MemberRole.AGENT
    )


def sign_in(client, email, password=PASSWORD, **extra):
    return client.post(reverse("portal:login"), {"username": email, "password": password}, **extra)


def signed_in_user_id(client):
    return client.session.get("_auth_user_id")


def link_path(message):
    return urlparse(LINK.search(message.body).group(0)).path


# --- Sign in -------------------------------------------------------------------------------------


def test_login_page_asks_for_an_email_address(client):
    response = client.get(reverse("portal:login"))

    assert response.status_code == 200
    assert '<label for="id_username">Email address</label>' in response.text
    assert 'type="email"' in response.text


def test_member_signs_in_with_email_and_password_and_lands_on_the_dashboard(client, owner):
    response = sign_in(client, "owner@shop.example")

    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")
    assert signed_in_user_id(client) == str(owner.user_id)


def test_sign_in_accepts_the_email_address_in_other_capitals(client, owner):
    response = sign_in(client, "Owner@Shop.Example")

    assert response.status_code == 302
    assert signed_in_user_id(client) == str(owner.user_id)


def test_wrong_password_and_unknown_email_get_the_same_message(client, owner):
    wrong_password = sign_in(client, "owner@shop.example", "not my password")
    unknown_email = sign_in(client, "nobody@shop.example")

    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert str(INVALID_LOGIN) in response.text
        assert 'class="error-summary"' in response.text
    assert signed_in_user_id(client) is None


def test_anonymous_visitor_of_a_portal_page_is_sent_to_sign_in_and_back(client, owner):
    preferences = reverse("portal:preferences")

    response = client.get(preferences)

    assert response.status_code == 302
    assert response.url == f"{reverse('portal:login')}?next={preferences}"
    response = client.post(
        response.url, {"username": "owner@shop.example", "password": PASSWORD, "next": preferences}
    )
    assert response.url == preferences


# --- Sign-in throttle ----------------------------------------------------------------------------


def test_sixth_failure_for_the_same_email_is_refused_with_retry_after(client, owner):
    for _attempt in range(5):
        assert sign_in(client, "owner@shop.example", "guess").status_code == 200

    response = sign_in(client, "owner@shop.example", "guess")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 900
    assert "Too many attempts" in response.text
    # Blocked before the password is checked: even the right one waits.
    assert sign_in(client, "OWNER@shop.example").status_code == 429
    assert signed_in_user_id(client) is None


def test_throttle_of_one_address_leaves_other_addresses_and_emails_alone(client, owner, agent):
    for _attempt in range(5):
        sign_in(client, "owner@shop.example", "guess")
    assert sign_in(client, "owner@shop.example", "guess").status_code == 429

    assert sign_in(client, "agent@shop.example").status_code == 302
    client.post(reverse("portal:logout"))
    assert sign_in(client, "owner@shop.example", REMOTE_ADDR="198.51.100.7").status_code == 302


def test_an_address_is_refused_after_twenty_failures_across_emails(client, owner):
    for attempt in range(20):
        assert sign_in(client, f"guess{attempt % 4}@shop.example", "guess").status_code == 200

    assert sign_in(client, "owner@shop.example").status_code == 429
    assert sign_in(client, "owner@shop.example", REMOTE_ADDR="198.51.100.7").status_code == 302


def test_a_successful_sign_in_neither_counts_nor_resets_failures(client, owner):
    for _attempt in range(4):
        sign_in(client, "owner@shop.example", "guess")

    assert sign_in(client, "owner@shop.example").status_code == 302
    client.post(reverse("portal:logout"))
    assert sign_in(client, "owner@shop.example", "guess").status_code == 200  # the 5th failure
    assert sign_in(client, "owner@shop.example").status_code == 429


def test_throttle_limits_come_from_settings(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    settings.LOGIN_FAILURE_WINDOW = 60

    sign_in(client, "owner@shop.example", "guess")
    sign_in(client, "owner@shop.example", "guess")
    response = sign_in(client, "owner@shop.example", "guess")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


def test_the_per_address_limit_comes_from_settings(client, owner, settings):
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 3

    for attempt in range(3):
        assert sign_in(client, f"guess{attempt}@shop.example", "guess").status_code == 200

    assert sign_in(client, "owner@shop.example").status_code == 429


def test_a_form_without_a_password_is_not_a_failed_sign_in(client, owner):
    for _attempt in range(8):
        response = client.post(reverse("portal:login"), {"username": "owner@shop.example"})
        assert response.status_code == 200

    assert sign_in(client, "owner@shop.example").status_code == 302


# --- Sign out ------------------------------------------------------------------------------------


def test_sign_out_by_get_is_refused(client, owner):
    client.force_login(owner.user)

    response = client.get(reverse("portal:logout"))

    assert response.status_code == 405
    assert signed_in_user_id(client) == str(owner.user_id)


def test_sign_out_by_post_ends_the_session_and_shows_the_login_page(client, owner):
    client.force_login(owner.user)

    response = client.post(reverse("portal:logout"), follow=True)

    assert response.redirect_chain[-1][0] == reverse("portal:login")
    assert "You are signed out." in response.text
    assert signed_in_user_id(client) is None


# --- Password reset ------------------------------------------------------------------------------


def test_password_reset_emails_a_link_that_sets_a_new_password(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("portal:password-reset"), {"email": "owner@shop.example"})

    assert response.status_code == 302
    assert response.url == reverse("portal:password-reset-done")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["owner@shop.example"]
    assert message.subject == "Choose a new password for the dispute portal"
    assert "http://127.0.0.1:8000/portal/password-reset/" in message.body

    form_page = client.get(link_path(message), follow=True)
    assert form_page.status_code == 200
    assert form_page.context["validlink"] is True
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert done.url == reverse("portal:password-reset-complete")
    assert "Your password is saved" in client.get(done.url).text

    assert sign_in(client, "owner@shop.example", PASSWORD).status_code == 200
    assert sign_in(client, "owner@shop.example", NEW_PASSWORD).status_code == 302
    # A used link does not work a second time.
    assert client.get(link_path(message), follow=True).context["validlink"] is False


def test_password_reset_for_an_unknown_address_says_the_same_and_sends_nothing(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("portal:password-reset"), {"email": "owner@shop.example"})
        unknown = client.post(reverse("portal:password-reset"), {"email": "nobody@shop.example"})

    assert unknown.status_code == known.status_code == 302
    assert unknown.url == known.url == reverse("portal:password-reset-done")
    assert len(mailoutbox) == 1  # only the known address
    page = client.get(unknown.url)
    assert "If an account uses the address you entered" in page.text


def test_a_broken_reset_link_offers_a_new_one(client, owner):
    response = client.get(
        reverse("portal:password-reset-confirm", kwargs={"uidb64": "MQ", "token": "bad-token"})
    )

    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert reverse("portal:password-reset") in response.text


# --- Email preferences ---------------------------------------------------------------------------


def test_preferences_save_only_the_members_own_membership(client, owner, agent):
    other_shop = MembershipFactory(user=owner.user, merchant__name="Zeta Shop")
    client.force_login(owner.user)

    response = client.post(
        reverse("portal:preferences"), {"notify_new_case": "on", "notify_decision": "on"}
    )

    assert response.status_code == 302
    assert response.url == reverse("portal:preferences")
    owner.refresh_from_db()
    chosen = {name for name in NOTIFY_FIELDS if getattr(owner, name)}
    assert chosen == {"notify_new_case", "notify_decision"}
    for untouched in (agent, other_shop):
        untouched.refresh_from_db()
        assert all(getattr(untouched, name) for name in NOTIFY_FIELDS)
    assert "Your email preferences are saved." in client.get(response.url).text


def test_preferences_page_shows_labelled_checkboxes_for_an_agent(client, agent):
    client.force_login(agent.user)

    response = client.get(reverse("portal:preferences"))

    assert response.status_code == 200
    assert response.text.count('type="checkbox"') == len(NOTIFY_FIELDS)
    assert '<label for="id_notify_new_case">New case</label>' in response.text
    response = client.post(reverse("portal:preferences"), {})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert not any(getattr(agent, name) for name in NOTIFY_FIELDS)


# --- Team ----------------------------------------------------------------------------------------


def test_team_page_lists_the_shops_members(client, owner, agent):
    MembershipFactory(user__username="elsewhere@other.example")
    client.force_login(owner.user)

    response = client.get(reverse("portal:team"))

    assert response.status_code == 200
    assert "owner@shop.example" in response.text
    assert "agent@shop.example" in response.text
    assert "elsewhere@other.example" not in response.text


def test_invited_member_who_lost_the_email_can_ask_for_a_new_link(
    client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    invited = UserFactory(username="invited@shop.example")
    invited.set_unusable_password()
    invited.save()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("portal:password-reset"), {"email": "invited@shop.example"})

    assert [message.to for message in mailoutbox] == [["invited@shop.example"]]


def test_adding_an_existing_member_is_a_form_error(client, owner, agent, mailoutbox):
    client.force_login(owner.user)

    response = client.post(reverse("portal:team"), {"email": "Agent@shop.example", "role": "owner"})

    assert response.status_code == 200
    assert "already a member of this shop" in response.text
    assert 'href="#id_email"' in response.text
    agent.refresh_from_db()
    assert agent.role == MemberRole.AGENT
    assert MerchantMembership.objects.filter(merchant=owner.merchant).count() == 2
    assert mailoutbox == []


def test_owner_removes_a_member_after_confirming(client, owner, agent):
    client.force_login(owner.user)
    team = client.get(reverse("portal:team")).content.decode()
    assert f'href="{reverse("portal:team-remove", args=[agent.pk])}"' in team  # a link, not a form

    asked = client.post(reverse("portal:team-remove", args=[agent.pk]))
    assert "Remove agent@shop.example from the team?" in asked.content.decode()
    assert MerchantMembership.objects.filter(pk=agent.pk).exists()  # not one click
    response = client.post(
        reverse("portal:team-remove", args=[agent.pk]), {"confirmed": "yes"}, follow=True
    )

    assert response.status_code == 200
    assert not MerchantMembership.objects.filter(pk=agent.pk).exists()
    assert "agent@shop.example is no longer on the team." in response.text


def test_removing_takes_a_confirmed_post(client, owner, agent):
    client.force_login(owner.user)

    page = client.get(reverse("portal:team-remove", args=[agent.pk]))
    assert page.status_code == 200
    assert "Yes, remove agent@shop.example" in page.content.decode()
    assert MerchantMembership.objects.filter(pk=agent.pk).exists()


def test_owner_cannot_remove_themself(client, owner):
    MembershipFactory(merchant=owner.merchant, role=MemberRole.OWNER)
    client.force_login(owner.user)

    response = client.post(
        reverse("portal:team-remove", args=[owner.pk]), {"confirmed": "yes"}, follow=True
    )

    assert "You cannot remove yourself from the team." in response.text
    assert MerchantMembership.objects.filter(pk=owner.pk).exists()


def test_the_last_owner_is_never_removed_even_when_two_owners_remove_each_other(owner):
    second = MembershipFactory(merchant=owner.merchant, role=MemberRole.OWNER)
    # Both owners loaded the team page; the second one's removal lands first.
    membership_remove(membership=owner, removed_by_id=second.user_id)

    with pytest.raises(PermissionDenied):
        membership_remove(membership=second, removed_by_id=owner.user_id)

    assert list(MerchantMembership.objects.filter(merchant=owner.merchant)) == [second]


def test_agent_may_not_see_or_change_the_team(client, owner, agent):
    client.force_login(agent.user)

    assert client.get(reverse("portal:team")).status_code == 403
    response = client.post(reverse("portal:team"), {"email": "x@shop.example", "role": "owner"})
    assert response.status_code == 403
    assert client.post(reverse("portal:team-remove", args=[owner.pk])).status_code == 403
    assert MerchantMembership.objects.filter(merchant=owner.merchant).count() == 2


def test_another_shops_membership_is_not_found(client, owner):
    foreign = MembershipFactory(role=MemberRole.AGENT)
    client.force_login(owner.user)

    response = client.post(reverse("portal:team-remove", args=[foreign.pk]), {"confirmed": "yes"})

    assert response.status_code == 404
    assert MerchantMembership.objects.filter(pk=foreign.pk).exists()


def test_anonymous_visitor_of_the_team_page_is_sent_to_sign_in(client):
    response = client.get(reverse("portal:team"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("portal:login"))


# --- Switching shops -----------------------------------------------------------------------------


def test_member_of_two_shops_switches_between_them(client, owner):
    second = MembershipFactory(user=owner.user, merchant__name="Zeta Shop", role=MemberRole.AGENT)
    client.force_login(owner.user)
    assert "Demo Shop" in client.get(reverse("portal:preferences")).text

    response = client.post(reverse("portal:switch-merchant", args=[second.merchant.slug]))

    assert response.status_code == 302
    assert response.url == reverse("portal:dashboard")
    assert client.session[ACTIVE_MERCHANT] == second.merchant_id
    assert "cases of Zeta Shop" in client.get(reverse("portal:preferences")).text
    # Now an agent there: the team page of the chosen shop is closed.
    assert client.get(reverse("portal:team")).status_code == 403


def test_switching_to_a_shop_one_does_not_belong_to_is_not_found(client, owner):
    foreign = MerchantFactory()
    client.force_login(owner.user)

    assert client.post(reverse("portal:switch-merchant", args=[foreign.slug])).status_code == 404
    assert client.post(reverse("portal:switch-merchant", args=["no-such-shop"])).status_code == 404
    assert ACTIVE_MERCHANT not in client.session
    assert client.get(reverse("portal:switch-merchant", args=[foreign.slug])).status_code == 405


# --- Password emails go through the outbox --------------------------------------------------------


def test_the_outbox_keeps_no_password_token_only_whose_link_to_make(client, owner, mailoutbox):
    client.post(reverse("portal:password-reset"), {"email": "owner@shop.example"})

    queued = OutboxMessage.objects.get(kind="merchant_password_reset")
    assert queued.recipient == "owner@shop.example"
    assert queued.context["password_user_id"] == owner.user_id
    assert "password-reset/" not in str(queued.context)  # the link is made when it is sent
    assert mailoutbox == []  # nothing is sent inside the request's transaction

    outbox_deliver_due()

    assert LINK.search(mailoutbox[0].body)
