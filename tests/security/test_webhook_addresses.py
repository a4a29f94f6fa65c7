"""Webhooks never reach our own network: special-purpose addresses (IPv6 transition forms of
127.0.0.1 included) are refused when an endpoint is saved, and each delivery connects to the
address it checked, so a second DNS answer cannot send it elsewhere (DNS rebinding).

No test here connects to anything but 127.0.0.1: public addresses are answered by a fake
resolver and the connection to them is intercepted."""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from api.models import WebhookAttempt, WebhookEndpoint
from api.webhooks import delivery
from api.webhooks.addresses import refused_reason
from api.webhooks.delivery import PinnedHTTPSConnection, queue_webhook
from api.webhooks.endpoints import (
    WebhookUrlRejected,
    check_webhook_url,
    webhook_endpoint_create,
)
from disputes.choices import MemberRole
from notifications.models import DeliveryStatus, OutboxMessage
from notifications.services import outbox_deliver_due
from tests.factories import MembershipFactory, MerchantFactory

PUBLIC = "93.184.216.34"  # answered by the fake resolver only; never connected to
HOST = "hooks.rebind.test"
EVENT = "fee.statement_issued"

REFUSED_URLS = [
    ("https://[64:ff9b::7f00:1]/", "64:ff9b::/96", "127.0.0.1"),  # NAT64
    ("https://[2002:7f00:1::]/", "2002::/16", "127.0.0.1"),  # 6to4
    ("https://[::127.0.0.1]/", "::/96", "127.0.0.1"),  # IPv4-compatible
    ("https://[::ffff:127.0.0.1]/", "::ffff:0:0/96", "127.0.0.1"),  # IPv4-mapped
    ("https://100.64.0.1/", "100.64.0.0/10", None),  # carrier-grade NAT
    ("https://192.0.0.8/", "192.0.0.0/24", None),  # IETF protocol assignments
    ("https://[fe80::1]/", "fe80::/10", None),  # link-local
    ("https://[2001:db8::1]/", "2001:db8::/32", None),  # documentation
]


def owner_portal(merchant) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(MembershipFactory(merchant=merchant, role=MemberRole.OWNER).user)
    return client


# --- Saving an endpoint --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "network", "carried"), REFUSED_URLS)
def test_the_portal_refuses_special_purpose_addresses(settings, url, network, carried):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    merchant = MerchantFactory()
    page = owner_portal(merchant).post(
        reverse("portal:api-webhook-create"), {"url": url, "events": [EVENT], "enabled": "on"}
    )
    assert page.status_code == 200
    errors = page.context["form"].errors["url"]
    assert len(errors) == 1
    assert errors[0].startswith("Webhooks can only be sent to public addresses: ")
    assert f"is in the special-purpose range {network}" in errors[0]
    if carried:
        assert f"carries the IPv4 address {carried}" in errors[0]
    assert errors[0] in page.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_an_endpoint_cannot_be_changed_to_a_refused_address(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(socket, "getaddrinfo", FakeResolver([[PUBLIC]]))
    merchant = MerchantFactory()
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url=f"https://{HOST}/in",
        events=[EVENT],
        description="",
        now=timezone.now(),
    )
    page = owner_portal(merchant).post(
        reverse("portal:api-webhook", args=[endpoint.pk]),
        {"url": "https://[::ffff:10.0.0.1]/", "events": [EVENT], "enabled": "on"},
    )
    assert page.status_code == 200
    assert "special-purpose range ::ffff:0:0/96" in page.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == f"https://{HOST}/in"


@pytest.mark.django_db
def test_a_name_with_any_internal_address_is_refused_when_saved(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    monkeypatch.setattr(socket, "getaddrinfo", FakeResolver([[PUBLIC, "::ffff:127.0.0.1"]]))
    with pytest.raises(WebhookUrlRejected, match=re.escape("carries the IPv4 address 127.0.0.1")):
        check_webhook_url(f"https://{HOST}/in")


def _mapped(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(0xFFFF << 32 | int(v4))


def _compatible(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(v4))


def _sixtofour(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(0x2002 << 112 | int(v4) << 80)


def _nat64(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(v4))


def _teredo(v4: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    server = int(ipaddress.IPv4Address("65.54.227.120"))
    return ipaddress.IPv6Address(0x20010000 << 96 | server << 64 | ~int(v4) & 0xFFFFFFFF)


TRANSITION_FORMS: list[Callable[[ipaddress.IPv4Address], ipaddress.IPv6Address]] = [
    _mapped,
    _compatible,
    _sixtofour,
    _nat64,
    _teredo,
]


@given(v4=st.ip_addresses(v=4), form=st.sampled_from(TRANSITION_FORMS))
def test_every_ipv6_transition_form_is_refused_whatever_it_carries(v4, form):
    """Refused whole, not by the IPv4 address inside: public ones too (a gateway we do not
    know could still turn them into a way in)."""
    v6 = form(v4)
    assert refused_reason(v6) is not None
    with (
        override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False),
        pytest.raises(WebhookUrlRejected) as refused,
    ):
        check_webhook_url(f"https://[{v6}]:8443/hook")
    message = str(refused.value)
    assert message.startswith("Webhooks can only be sent to public addresses: ")
    if form is not _compatible or int(v4) > 1:  # :: and ::1 are named for what they are
        assert f"carries the IPv4 address {v4}" in message


INTERNAL_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


@given(v4=st.sampled_from(INTERNAL_V4).flatmap(lambda net: st.ip_addresses(network=net)))
def test_internal_ipv4_addresses_are_refused_in_every_spelling(v4):
    with override_settings(WEBHOOK_ALLOW_PRIVATE_URLS=False):
        for url in (
            f"http://{v4}/",
            f"http://{int(v4)}/",  # 2130706433 is 127.0.0.1 to the resolver
            f"http://[{_mapped(v4)}]/",
            f"http://[::ffff:{v4}]/",
        ):
            with pytest.raises(WebhookUrlRejected):
                check_webhook_url(url)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", PUBLIC, "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:82a::200e"],
)
def test_public_addresses_pass(address):
    assert refused_reason(address) is None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.1.1", "::1", "fd00::1", "::ffff:127.0.0.1"]
)
def test_the_private_address_switch_lets_local_receivers_through(address):
    assert refused_reason(address) is not None
    assert refused_reason(address, allow_private=True) is None


@pytest.mark.parametrize(
    "address",
    ["0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1"],  # noqa: S104 - not a bind
)
def test_no_switch_allows_addresses_that_are_never_one_receiver(address):
    assert refused_reason(address, allow_private=True) is not None


# --- Delivering: one lookup, and the connection goes to the address checked ----------------------


class FakeResolver:
    """socket.getaddrinfo for HOST: each lookup gives the next answer (the last one from then
    on); other names go to the real resolver."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in (HOST, "hooks.test"):
            return self.real(host, port, *args, **kwargs)
        self.lookups += 1
        answer = self.answers[min(self.lookups, len(self.answers)) - 1]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in answer
        ]


class Intercepted:
    """socket.create_connection that records where it was sent and connects nowhere."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []

    def __call__(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        self.targets.append(address)
        raise OSError("intercepted by the test")


@pytest.fixture
def rebinding(settings, monkeypatch):  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    resolver = FakeResolver([[PUBLIC]])
    connections = Intercepted()
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(delivery.socket, "create_connection", connections)
    merchant = MerchantFactory()
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url=f"https://{HOST}/in",
        events=[EVENT],
        description="",
        now=timezone.now(),
    )
    assert resolver.lookups == 1  # checked when saved
    queue_webhook(merchant.pk, EVENT, {"n": 1}, "rebind:1", timezone.now())
    return resolver, connections, endpoint


def _attempts(endpoint: WebhookEndpoint) -> list[WebhookAttempt]:
    return list(WebhookAttempt.objects.filter(endpoint=endpoint).order_by("id"))


@pytest.mark.django_db
def test_a_rebound_name_cannot_redirect_the_connection(rebinding):
    resolver, connections, endpoint = rebinding
    # Saved: public. This attempt's lookup: public. Any lookup after that: 127.0.0.1.
    resolver.answers = [[PUBLIC], [PUBLIC], ["127.0.0.1"]]
    outbox_deliver_due()
    assert resolver.lookups == 2  # one lookup for the attempt, none by an HTTP client
    assert connections.targets == [(PUBLIC, 443)]  # the checked address, not the name
    (attempt,) = _attempts(endpoint)
    assert attempt.status_code is None
    assert "intercepted by the test" in attempt.error
    message = OutboxMessage.objects.get(channel="webhook")
    assert message.status == DeliveryStatus.PENDING  # retried later

    # The retry looks the name up again (once) and now gets 127.0.0.1: refused, no connection.
    outbox_deliver_due(now=timezone.now() + timedelta(days=1))
    assert resolver.lookups == 3
    assert connections.targets == [(PUBLIC, 443)]
    second = _attempts(endpoint)[1]
    assert second.status_code is None
    assert "127.0.0.1 is in 127.0.0.0/8 (loopback)" in second.error
    message.refresh_from_db()
    assert message.status == DeliveryStatus.PENDING
    assert "127.0.0.1" in message.last_error


@pytest.mark.django_db
@pytest.mark.parametrize("internal", ["127.0.0.1", "::1", "64:ff9b::7f00:1", "::ffff:10.0.0.1"])
def test_of_several_addresses_only_an_allowed_one_is_connected_to(rebinding, internal):
    resolver, connections, endpoint = rebinding
    resolver.answers = [[PUBLIC], [internal, PUBLIC]]
    outbox_deliver_due()
    assert resolver.lookups == 2
    assert connections.targets == [(PUBLIC, 443)]
    assert "intercepted by the test" in _attempts(endpoint)[0].error


@pytest.mark.django_db
def test_a_name_answering_only_internal_addresses_is_never_connected_to(rebinding):
    resolver, connections, endpoint = rebinding
    resolver.answers = [[PUBLIC], ["10.0.0.7", "2002:a00:7::", "::127.0.0.1"]]
    outbox_deliver_due()
    assert connections.targets == []
    (attempt,) = _attempts(endpoint)
    for named in ("10.0.0.7 is in 10.0.0.0/8", "2002::/16", "::/96"):
        assert named in attempt.error


# --- Redirects -----------------------------------------------------------------------------------


class Server:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status, self.headers = status, headers or {}
        self.received: list[tuple[str, str]] = []  # (method, path)
        this = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                this.received.append((self.command, self.path))
                self.send_response(this.status)
                for name, value in this.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(status: int, headers: dict[str, str] | None = None) -> Server:
        started.append(Server(status, headers))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(settings, servers, status):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # both servers are on 127.0.0.1
    elsewhere = servers(200)
    first = servers(status, {"Location": f"http://127.0.0.1:{elsewhere.port}/stolen"})
    merchant = MerchantFactory()
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url=f"http://127.0.0.1:{first.port}/hooks?x=1",
        events=[EVENT],
        description="",
        now=timezone.now(),
    )
    queue_webhook(merchant.pk, EVENT, {"n": 1}, "redirect:1", timezone.now())
    outbox_deliver_due()
    assert first.received == [("POST", "/hooks?x=1")]
    assert elsewhere.received == []
    (attempt,) = _attempts(endpoint)
    assert not attempt.succeeded
    assert attempt.status_code == status
    assert "redirects are not followed" in attempt.error
    assert f"127.0.0.1:{elsewhere.port}/stolen" in attempt.error
    message = OutboxMessage.objects.get(channel="webhook")
    assert message.status == DeliveryStatus.PENDING
    assert "redirects are not followed" in message.last_error


@pytest.mark.django_db
def test_with_the_switch_on_the_pinned_address_is_the_local_one(settings, servers, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    receiver = servers(204)
    resolver = FakeResolver([["127.0.0.1"]])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    merchant = MerchantFactory()
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url=f"http://{HOST}:{receiver.port}/in",
        events=[EVENT],
        description="",
        now=timezone.now(),
    )
    assert resolver.lookups == 0  # with the switch on, names are not looked up when saved
    queue_webhook(merchant.pk, EVENT, {"n": 1}, "local:1", timezone.now())
    outbox_deliver_due()
    assert resolver.lookups == 1
    assert receiver.received == [("POST", "/in")]
    (attempt,) = _attempts(endpoint)
    assert attempt.succeeded


# --- HTTPS: connected to the pinned address, verified against the name ---------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=hooks.test",
            "-addext",
            "subjectAltName=DNS:hooks.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_receiver(certificate) -> Iterator[tuple[int, list[str | None], list[str]]]:
    cert, key = certificate
    names: list[str | None] = []  # SNI of each handshake
    hosts: list[str] = []  # Host header of each request
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], names, hosts
    httpd.shutdown()
    httpd.server_close()


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_https_goes_to_the_pinned_address_with_sni_and_verification_for_the_name(
    certificate, tls_receiver
):
    port, names, hosts = tls_receiver
    connection = PinnedHTTPSConnection(
        "hooks.test", port, pinned="127.0.0.1", timeout=5, context=_trusting(certificate[0])
    )
    try:
        connection.request("POST", "/in", body=b"{}")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert names == ["hooks.test"]
    assert hosts == [f"hooks.test:{port}"]


def test_https_refuses_a_certificate_for_another_name(certificate, tls_receiver):
    port, names, hosts = tls_receiver
    connection = PinnedHTTPSConnection(
        "other.test", port, pinned="127.0.0.1", timeout=5, context=_trusting(certificate[0])
    )
    with pytest.raises(ssl.SSLCertVerificationError, match=re.escape("other.test")):
        connection.request("POST", "/in", body=b"{}")
    connection.close()
    assert names == ["other.test"]
    assert hosts == []


@pytest.mark.django_db
def test_a_https_webhook_is_delivered_through_the_pinned_connection(
    settings, monkeypatch, certificate, tls_receiver
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    port, names, hosts = tls_receiver
    resolver = FakeResolver([["127.0.0.1"]])
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    trusting = _trusting(certificate[0])
    monkeypatch.setattr(delivery.ssl, "create_default_context", lambda: trusting)
    merchant = MerchantFactory()
    endpoint = webhook_endpoint_create(
        merchant_id=merchant.pk,
        url=f"https://hooks.test:{port}/in",
        events=[EVENT],
        description="",
        now=timezone.now(),
    )
    queue_webhook(merchant.pk, EVENT, {"n": 1}, "tls:1", timezone.now())
    outbox_deliver_due()
    (attempt,) = _attempts(endpoint)
    assert attempt.succeeded, attempt.error
    assert resolver.lookups == 1
    assert names == ["hooks.test"]
    assert hosts == [f"hooks.test:{port}"]
