"""Which addresses a webhook may be sent to, and the one address a delivery connects to.

The rule is an explicit list of refused networks (the IANA special-purpose address registries
for IPv4 and IPv6, plus every IPv6 form that carries an IPv4 address: mapped, compatible, 6to4,
Teredo, NAT64), and after that the address must still be `is_global`. Transition forms are
refused whole, whatever IPv4 address they carry: a receiver has no need for them and each one
is a way to reach 127.0.0.1 or the private network through a gateway or the kernel.

A delivery resolves the name once (`pin_address`), checks every address it got, and connects to
the first allowed one itself, so a second lookup by an HTTP client cannot hand it another
address (DNS rebinding).

`WEBHOOK_ALLOW_PRIVATE_URLS` (tests, closed networks) lets every address through except those
that are never a single receiver (unspecified, multicast, broadcast).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# (network, what it is). Ordered most specific first where ranges nest, so the name is apt.
REFUSED_NETWORKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(network), purpose)
    for network, purpose in (
        # IPv4 (RFC 6890 and the IANA IPv4 special-purpose address registry)
        ("0.0.0.0/8", "this network"),
        ("10.0.0.0/8", "private use"),
        ("100.64.0.0/10", "shared address space, carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private use"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation, TEST-NET-1"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private use"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation, TEST-NET-2"),
        ("203.0.113.0/24", "documentation, TEST-NET-3"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "limited broadcast"),
        ("240.0.0.0/4", "reserved"),
        # IPv6 (RFC 6890 and the IANA IPv6 special-purpose address registry)
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible, deprecated"),
        ("64:ff9b::/96", "NAT64 well-known prefix"),
        ("64:ff9b:1::/48", "NAT64 local-use prefix"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001::/23", "IETF protocol assignments"),
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "SRv6 segment identifiers"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local, deprecated"),
        ("ff00::/8", "multicast"),
    )
)

# Never one receiver, whatever the settings say.
_NEVER_NETWORKS = frozenset(
    ipaddress.ip_network(network)
    for network in ("0.0.0.0/8", "224.0.0.0/4", "255.255.255.255/32", "::/128", "ff00::/8")
)


@dataclass(frozen=True)
class Refusal:
    address: IPAddress
    network: IPNetwork | None  # None: in no listed network, but not global either
    purpose: str
    ipv4: ipaddress.IPv4Address | None = None  # the IPv4 address a transition form carries

    def __str__(self) -> str:
        where = f"{self.network} ({self.purpose})" if self.network else self.purpose
        carried = f", carrying {self.ipv4}" if self.ipv4 is not None else ""
        return f"{self.address} is in {where}{carried}"


class AddressRefused(ValueError):
    """No address the webhook may be sent to (a failed delivery attempt, retried later)."""


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries (mapped, compatible, 6to4, Teredo,
    NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is where packets go
    value = int(address)
    # NAT64 with the well-known /96 prefix, or IPv4-compatible (::a.b.c.d): the last 32 bits.
    # (64:ff9b:1::/48 places the IPv4 address by a prefix length of the network's choosing.)
    if address in _NAT64 or (value >> 32 == 0 and value > 1):
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def refusal(address: IPAddress, *, allow_private: bool = False) -> Refusal | None:
    """Why a webhook may not go to `address`, or None when it may."""
    address = _unscoped(address)
    networks = (
        [(n, p) for n, p in REFUSED_NETWORKS if n in _NEVER_NETWORKS]
        if allow_private
        else REFUSED_NETWORKS
    )
    for network, purpose in networks:
        if address.version == network.version and address in network:
            return Refusal(address, network, purpose, embedded_ipv4(address))
    if not allow_private and not address.is_global:
        return Refusal(address, None, "not a global address")
    return None


def refused_reason(address: IPAddress | str, *, allow_private: bool = False) -> str | None:
    """Why a webhook may not go to `address` (a short English text for logs), or None."""
    found = refusal(ipaddress.ip_address(address), allow_private=allow_private)
    return None if found is None else str(found)


def resolve(host: str, port: int) -> list[tuple[IPAddress, str]]:
    """Every address `host` resolves to, each with the text to connect to (one lookup)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[tuple[IPAddress, str]] = []
    for info in infos:
        text = str(info[4][0])
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if all(address != known for known, _ in found):
            found.append((address, text))
    return found


def pin_address(host: str, port: int, *, allow_private: bool) -> str:
    """Resolve `host` once and return the first allowed address to connect to.

    Raises AddressRefused when none is allowed, OSError when the name cannot be resolved.
    """
    found = resolve(host, port)
    reasons = []
    for address, text in found:
        reason = refusal(address, allow_private=allow_private)
        if reason is None:
            return text
        reasons.append(str(reason))
    if not reasons:
        raise AddressRefused(f"{host} resolved to no address")
    raise AddressRefused(f"refused address for {host}: " + "; ".join(reasons))


def _unscoped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return ipaddress.IPv6Address(int(address))
    return address
