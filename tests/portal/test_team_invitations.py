"""Team invitations through HTTP (issue #19, item 4): nobody becomes a member without saying
yes, the owner's page answers alike for known and unknown addresses, and members can leave."""

from __future__ import annotations

import re
import smtplib
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from disputes.choices import MemberRole
from disputes.models import MerchantMembership, TeamInvitation
from notifications.models import DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long passphrase 42"
INVITATION_LINK = re.compile(r"https?://\S+/portal/invitations/\S+/")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner.user)
    return client


def invite(client, email, role="agent", capture=None):
    if capture is None:
        return client.post(reverse("portal:team"), {"email": email, "role": role}, follow=True)
    with capture(execute=True):
        return client.post(reverse("portal:team"), {"email": email, "role": role}, follow=True)


def invitation_path(message) -> str:
    return urlparse(INVITATION_LINK.search(message.body).group(0)).path


def test_inviting_makes_nobody_a_member_and_answers_alike_for_known_and_unknown_addresses(
    owner_client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    other_shop_owner = MembershipFactory(
        user__username="boss@other.example", role=MemberRole.OWNER
    ).user
    staff = UserFactory(username="staff@operator.example", is_staff=True)

    answers = []
    for address in ("boss@other.example", "staff@operator.example", "nobody@new.example"):
        page = invite(owner_client, address, capture=django_capture_on_commit_callbacks)
        assert page.status_code == 200
        body = page.content.decode()
        # What the page says about this address: the message, and its row of open invitations.
        said = re.findall(rf"<[^>]*>[^<]*{re.escape(address)}[^<]*</[^>]*>", body)
        answers.append([line.replace(address, "ADDRESS") for line in said])

    assert answers[0] == answers[1] == answers[2]
    assert any("We sent an invitation to ADDRESS" in line for line in answers[0])
    team = MerchantMembership.objects.filter(merchant=owner.merchant)
    assert list(team.values_list("user__username", flat=True)) == ["owner@shop.example"]
    assert not get_user_model().objects.filter(username="nobody@new.example").exists()
    assert (
        not MerchantMembership.objects.filter(user__in=[other_shop_owner, staff])
        .exclude(merchant=other_shop_owner.memberships.get().merchant)
        .exists()
    )
    assert sorted(m.to[0] for m in mailoutbox) == [
        "boss@other.example",
        "nobody@new.example",
        "staff@operator.example",
    ]
    assert "Demo Shop" in mailoutbox[0].subject
    assert INVITATION_LINK.search(mailoutbox[0].body)


def test_the_outbox_keeps_no_invitation_token(owner_client):
    invite(owner_client, "new@shop.example")
    queued = OutboxMessage.objects.get(kind="merchant_team_invitation")
    assert queued.recipient == "new@shop.example"
    assert "invitations/" not in str(queued.context)  # the link is signed when it is sent


def test_a_new_person_accepts_by_choosing_a_password_and_joins_with_the_invited_role(
    owner_client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    invite(owner_client, "New.Person@Shop.example", "owner", django_capture_on_commit_callbacks)
    path = invitation_path(mailoutbox[0])
    visitor = Client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "Join the team of Demo Shop?" in page.content.decode()
    assert page["Referrer-Policy"] == "no-referrer"
    assert not get_user_model().objects.filter(username="new.person@shop.example").exists()

    weak = visitor.post(path, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200
    assert not get_user_model().objects.filter(username="new.person@shop.example").exists()

    accepted = visitor.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert accepted.status_code == 302
    membership = MerchantMembership.objects.get(user__username="new.person@shop.example")
    assert (membership.merchant, membership.role) == (owner.merchant, MemberRole.OWNER)
    assert visitor.get(reverse("portal:dashboard")).status_code == 200
    again = Client().get(path)
    assert again.status_code == 410  # a link works once
    assert (
        Client()
        .post(
            reverse("portal:login"),
            {"username": "new.person@shop.example", "password": NEW_PASSWORD},
        )
        .status_code
        == 302
    )


def test_someone_with_a_login_signs_in_and_says_yes(
    owner_client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    elsewhere = MembershipFactory(user__username="helper@other.example")
    invite(owner_client, "helper@other.example", capture=django_capture_on_commit_callbacks)
    path = invitation_path(mailoutbox[0])

    anonymous = Client().get(path).content.decode()
    assert "Sign in to accept" in anonymous
    assert 'name="new_password1"' not in anonymous
    assert (
        Client()
        .post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        .status_code
        == 200
    )  # no second account, no password change
    elsewhere.user.refresh_from_db()
    assert elsewhere.user.check_password(PASSWORD)

    helper = Client()
    helper.force_login(elsewhere.user)
    assert "Yes, join Demo Shop" in helper.get(path).content.decode()
    assert helper.post(path, {}).status_code == 200  # no "yes": nothing happens
    assert not MerchantMembership.objects.filter(user=elsewhere.user, merchant=owner.merchant)
    assert helper.post(path, {"accept": "yes"}).status_code == 302
    assert MerchantMembership.objects.filter(
        user=elsewhere.user, merchant=owner.merchant, role=MemberRole.AGENT
    ).exists()


def test_an_invitation_cannot_be_accepted_by_another_account(
    owner_client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    invite(owner_client, "invited@shop.example", capture=django_capture_on_commit_callbacks)
    path = invitation_path(mailoutbox[0])
    intruder = Client()
    intruder.force_login(MembershipFactory(user__username="intruder@x.example").user)

    page = intruder.get(path).content.decode()
    assert "This invitation is for invited@shop.example" in page
    intruder.post(path, {"accept": "yes"})
    assert not MerchantMembership.objects.filter(
        merchant=owner.merchant, user__username="intruder@x.example"
    ).exists()


def test_withdrawn_expired_and_altered_links_do_not_work(
    owner_client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    invite(owner_client, "a@shop.example", capture=django_capture_on_commit_callbacks)
    invite(owner_client, "b@shop.example", capture=django_capture_on_commit_callbacks)
    first, second = (invitation_path(m) for m in mailoutbox)

    team = owner_client.get(reverse("portal:team")).content.decode()
    assert "Invitations not yet accepted" in team
    withdrawn = TeamInvitation.objects.get(email="a@shop.example")
    owner_client.post(reverse("portal:team-invitation-withdraw", args=[withdrawn.pk]))
    gone = Client().post(first, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert gone.status_code == 410
    assert "no longer open" in gone.content.decode()

    assert Client().get(second[:-2] + "x/").status_code == 410
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert Client().get(second).status_code == 410
    assert not get_user_model().objects.filter(username__in=["a@shop.example"]).exists()


def test_inviting_again_renews_the_one_open_invitation_and_both_links_lead_to_it(
    owner_client, owner, mailoutbox, django_capture_on_commit_callbacks
):
    invite(owner_client, "again@shop.example", "agent", django_capture_on_commit_callbacks)
    invite(owner_client, "again@shop.example", "owner", django_capture_on_commit_callbacks)
    assert TeamInvitation.objects.filter(email="again@shop.example").count() == 1
    assert len(mailoutbox) == 2
    Client().post(
        invitation_path(mailoutbox[1]),
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    membership = MerchantMembership.objects.get(user__username="again@shop.example")
    assert membership.role == MemberRole.OWNER
    assert Client().get(invitation_path(mailoutbox[0])).status_code == 410


def test_inviting_a_member_of_this_team_is_a_form_error(owner_client, owner):
    MembershipFactory(user__username="agent@shop.example", merchant=owner.merchant)
    page = invite(owner_client, "Agent@shop.example")
    assert "already a member of this shop" in page.content.decode()
    assert not TeamInvitation.objects.exists()


def test_agents_cannot_invite_or_withdraw(owner):
    agent = MembershipFactory(merchant=owner.merchant, role=MemberRole.AGENT)
    invitation = TeamInvitation.objects.create(
        merchant=owner.merchant,
        email="x@shop.example",
        role=MemberRole.OWNER,
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    client = Client()
    client.force_login(agent.user)
    assert invite(client, "y@shop.example").status_code == 403
    assert (
        client.post(reverse("portal:team-invitation-withdraw", args=[invitation.pk])).status_code
        == 403
    )
    invitation.refresh_from_db()
    assert invitation.withdrawn_at is None


def test_another_shops_invitation_is_not_found(owner_client):
    foreign = MembershipFactory(role=MemberRole.OWNER)
    invitation = TeamInvitation.objects.create(
        merchant=foreign.merchant,
        email="x@shop.example",
        role=MemberRole.AGENT,
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=7),
    )
    response = owner_client.post(reverse("portal:team-invitation-withdraw", args=[invitation.pk]))
    assert response.status_code == 404


def test_an_invitation_that_smtp_refuses_is_sent_on_the_next_attempt(
    owner_client, mailoutbox, monkeypatch
):
    def refuse(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    invite(owner_client, "late@shop.example")
    assert outbox_deliver_due().retried == 1
    queued = OutboxMessage.objects.get(kind="merchant_team_invitation")
    assert queued.status == DeliveryStatus.PENDING

    monkeypatch.undo()
    outbox_deliver_due(now=queued.next_attempt_at)
    assert [message.to for message in mailoutbox] == [["late@shop.example"]]
    assert INVITATION_LINK.search(mailoutbox[0].body)


# --- Leaving a shop ------------------------------------------------------------------------------


def test_a_member_leaves_a_shop_after_confirming(owner):
    agent = MembershipFactory(merchant=owner.merchant, role=MemberRole.AGENT)
    other = MembershipFactory(user=agent.user, merchant__name="Zeta Shop")
    client = Client()
    client.force_login(agent.user)
    assert "Leave Demo Shop" in client.get(reverse("portal:preferences")).content.decode()
    asked = client.post(reverse("portal:leave"))
    assert "Leave Demo Shop?" in asked.content.decode()
    assert MerchantMembership.objects.filter(pk=agent.pk).exists()

    left = client.post(reverse("portal:leave"), {"confirmed": "yes"}, follow=True)
    assert "You have left Demo Shop." in left.content.decode()
    assert not MerchantMembership.objects.filter(pk=agent.pk).exists()
    assert MerchantMembership.objects.filter(pk=other.pk).exists()
    assert client.get(reverse("portal:dashboard")).status_code == 200  # works for Zeta now


def test_leaving_the_last_shop_signs_out(owner):
    agent = MembershipFactory(merchant=owner.merchant, role=MemberRole.AGENT)
    client = Client()
    client.force_login(agent.user)
    client.post(reverse("portal:leave"), {"confirmed": "yes"})
    assert "_auth_user_id" not in client.session
    assert get_user_model().objects.filter(pk=agent.user_id).exists()


def test_the_only_owner_cannot_leave(owner):
    client = Client()
    client.force_login(owner.user)
    page = client.post(reverse("portal:leave"), {"confirmed": "yes"}, follow=True)
    assert "You are this shop&#x27;s only owner" in page.content.decode()
    assert MerchantMembership.objects.filter(pk=owner.pk).exists()
    MembershipFactory(merchant=owner.merchant, role=MemberRole.OWNER)
    client.post(reverse("portal:leave"), {"confirmed": "yes"})
    assert not MerchantMembership.objects.filter(pk=owner.pk).exists()
