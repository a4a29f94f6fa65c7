"""The support desk's sign-in (issue #19, item 1): a lockout after failed attempts, and an
authenticator app (TOTP) that staff can add and a setting can make mandatory."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOGIN = "/admin/login/"


def staff(**extra):
    return UserFactory(is_staff=True, is_superuser=True, **extra)


def sign_in(client: Client, username: str, password: str, code: str = "", **headers):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "otp_token": code, "next": "/admin/"},
        **headers,
    )


def code_for(device: TOTPDevice) -> str:
    """The code the app shows now (a code is accepted once: a second use waits for the next)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}"


def app_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def test_wrong_passwords_lock_the_desk_sign_in_even_for_the_right_password():
    user = staff()
    client = Client()
    for _ in range(5):
        assert sign_in(client, user.username, "wrong").status_code in (200, 429)
    locked = sign_in(client, user.username, PASSWORD)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "1800"
    assert "_auth_user_id" not in client.session


def test_the_account_is_locked_from_every_address_and_opens_again_after_the_cool_off():
    user = staff()
    for number in range(5):
        sign_in(Client(REMOTE_ADDR=f"192.0.2.{number + 1}"), user.username, "wrong")
    assert sign_in(Client(REMOTE_ADDR="198.51.100.7"), user.username, PASSWORD).status_code == 429
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        client = Client(REMOTE_ADDR="198.51.100.7")
        assert sign_in(client, user.username, PASSWORD).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_one_address_trying_many_accounts_is_locked():
    client = Client(REMOTE_ADDR="203.0.113.9")
    for number in range(5):
        sign_in(client, f"guess{number}@shop.example", "wrong")
    assert sign_in(client, staff().username, PASSWORD).status_code == 429


def test_a_success_clears_the_count():
    user = staff()
    client = Client()
    for _ in range(4):
        sign_in(client, user.username, "wrong")
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    client.post(reverse("admin:logout"))
    for _ in range(4):
        sign_in(client, user.username, "wrong")
    assert sign_in(client, user.username, PASSWORD).status_code == 302


def test_the_portal_sign_in_keeps_its_own_limits():
    """Five failures at the portal do not lock a staff member out of the desk."""
    user = staff()
    portal = Client()
    for _ in range(5):
        portal.post(reverse("portal:login"), {"username": user.username, "password": "wrong"})
    assert sign_in(Client(REMOTE_ADDR="198.51.100.8"), user.username, PASSWORD).status_code == 302


def test_staff_with_an_app_must_give_its_code():
    user = staff()
    device = app_for(user)
    client = Client()
    without = sign_in(client, user.username, PASSWORD)
    assert without.status_code == 200
    assert "Enter the current code from your authenticator app." in without.content.decode()
    assert "_auth_user_id" not in client.session
    wrong = sign_in(client, user.username, PASSWORD, "000000")
    assert "That code is not right" in wrong.content.decode()
    at_once = sign_in(client, user.username, PASSWORD, code_for(device))
    assert "Too many wrong codes: wait 1 second" in at_once.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        assert sign_in(client, user.username, PASSWORD, code_for(device)).status_code == 302
        assert client.get("/admin/").status_code == 200


def test_wrong_codes_count_towards_the_lockout():
    user = staff()
    app_for(user)
    client = Client()
    for _ in range(5):
        sign_in(client, user.username, PASSWORD, "000000")
    assert sign_in(client, user.username, PASSWORD, "123456").status_code == 429


def test_a_code_works_once():
    user = staff()
    device = app_for(user)
    code = code_for(device)
    assert sign_in(Client(), user.username, PASSWORD, code).status_code == 302
    replay = sign_in(Client(REMOTE_ADDR="198.51.100.9"), user.username, PASSWORD, code)
    assert replay.status_code == 200
    assert "That code is not right" in replay.content.decode()


def test_a_portal_session_of_staff_with_an_app_does_not_open_the_desk():
    user = staff()
    app_for(user)
    client = Client()
    client.force_login(user)  # a password-only sign-in, as the portal's
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_staff_set_up_an_app_and_the_desk_then_asks_for_it():
    user = staff()
    client = Client()
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    page = client.get(reverse("admin:two-factor"))
    assert page.status_code == 200
    assert "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert client.get(reverse("admin:two-factor")).status_code == 200
    assert TOTPDevice.objects.filter(user=user).count() == 1  # a reload shows the same key

    refused = client.post(reverse("admin:two-factor"), {"otp_token": "000000"})
    assert "That code is not right" in refused.content.decode()
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        confirmed = client.post(reverse("admin:two-factor"), {"otp_token": code_for(device)})
        assert confirmed.status_code == 302
        device.refresh_from_db()
        assert device.confirmed
        assert client.get("/admin/").status_code == 200  # this session counts as verified

        fresh = Client(REMOTE_ADDR="198.51.100.10")
        assert sign_in(fresh, user.username, PASSWORD).status_code == 200  # the code is asked


def test_with_the_setting_on_staff_without_an_app_reach_only_the_set_up_page(settings):
    settings.SUPPORT_DESK_REQUIRE_OTP = True
    user = staff()
    client = Client()
    assert sign_in(client, user.username, PASSWORD).status_code == 302
    for path in ("/admin/", "/admin/disputes/dispute/", "/admin/auth/user/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:two-factor")
    page = client.get(reverse("admin:two-factor"))
    assert "asks every staff member for a code" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    client.post(reverse("admin:two-factor"), {"otp_token": code_for(device)})
    assert client.get("/admin/disputes/dispute/").status_code == 200


def test_with_the_setting_on_an_app_can_be_replaced_but_not_turned_off(settings):
    settings.SUPPORT_DESK_REQUIRE_OTP = True
    user = staff()
    device = app_for(user)
    client = Client()
    assert sign_in(client, user.username, PASSWORD, code_for(device)).status_code == 302
    page = client.get(reverse("admin:two-factor")).content.decode()
    assert "Replace my app" in page
    assert "Turn two-factor sign-in off" not in page
    with time_machine.travel(timezone.now() + timedelta(seconds=33)):  # the next code
        client.post(reverse("admin:two-factor"), {"otp_token": code_for(device)})
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert client.get("/admin/").status_code == 302  # back to setting up the new one


def test_without_the_setting_staff_may_turn_their_app_off():
    user = staff()
    device = app_for(user)
    client = Client()
    sign_in(client, user.username, PASSWORD, code_for(device))
    refused = client.post(reverse("admin:two-factor"), {"otp_token": "000000"})
    assert refused.status_code == 200
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    with time_machine.travel(timezone.now() + timedelta(seconds=33)):
        client.post(reverse("admin:two-factor"), {"otp_token": code_for(device)})
        assert not TOTPDevice.objects.filter(user=user).exists()
        again = sign_in(Client(REMOTE_ADDR="198.51.100.11"), user.username, PASSWORD)
        assert again.status_code == 302


def test_the_set_up_page_is_for_staff_only():
    merchant_user = UserFactory()
    client = Client()
    client.force_login(merchant_user)
    response = client.get(reverse("admin:two-factor"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert not TOTPDevice.objects.exists()
