"""The customer's private link to a case: signed, expiring, revocable and renewable.

The token carries the dispute id and the dispute's link version. Raising the version (on
renewal, or by support) revokes every link sent before; the signature's timestamp makes links
expire after CUSTOMER_LINK_MAX_AGE.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from .errors import DomainError
from .models import Dispute, Order

_SALT = "disputes.customer-case-link"


class LinkExpired(DomainError):
    code = "link_expired"


class LinkInvalid(DomainError):
    code = "link_invalid"


def customer_token(dispute: Dispute) -> str:
    return signing.dumps({"d": dispute.pk, "v": dispute.customer_link_version}, salt=_SALT)


def customer_case_path(dispute: Dispute) -> str:
    return reverse("disputes:customer-case", kwargs={"token": customer_token(dispute)})


def customer_case_url(dispute: Dispute) -> str:
    return settings.SITE_URL + customer_case_path(dispute)


_SLOT = "0slot0"


def absolute_url_builder(viewname: str, kwarg: str) -> Callable[[str], str]:
    """`SITE_URL + reverse(viewname, kwargs={kwarg: value})` for many values, resolved once:
    a sweep writes thousands of links, and reverse() costs more than the rest of an email.
    For values that need no escaping in a path (case ids, signed tokens)."""
    head, tail = (settings.SITE_URL + reverse(viewname, kwargs={kwarg: _SLOT})).split(_SLOT)
    return lambda value: head + value + tail


def customer_case_urls() -> Callable[[Dispute], str]:
    """customer_case_url for many cases (see absolute_url_builder)."""
    build = absolute_url_builder("disputes:customer-case", "token")
    return lambda dispute: build(customer_token(dispute))


def dispute_id_from_token(token: str) -> tuple[int, int]:
    """The (dispute id, link version) a token names; raises LinkExpired or LinkInvalid."""
    max_age = settings.CUSTOMER_LINK_MAX_AGE
    try:
        payload = signing.loads(token, salt=_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except signing.BadSignature:
        raise LinkInvalid() from None
    if not isinstance(payload, dict) or not {"d", "v"} <= payload.keys():
        raise LinkInvalid()
    return int(payload["d"]), int(payload["v"])


_ORDER_SALT = "disputes.protection-link"


def protection_token(order: Order) -> str:
    return signing.dumps({"o": order.pk}, salt=_ORDER_SALT)


def protection_answer_url(order: Order, answer: str) -> str:
    """A link from the check-in email straight to the protection form with this answer."""
    path = reverse("disputes:protection-link", kwargs={"token": protection_token(order)})
    return f"{settings.SITE_URL}{path}?answer={answer}"


def order_id_from_protection_token(token: str) -> int:
    # Valid while protection can last: 30 days, 60 after an extension, and a margin.
    try:
        payload = signing.loads(token, salt=_ORDER_SALT, max_age=timedelta(days=70))
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except signing.BadSignature:
        raise LinkInvalid() from None
    if not isinstance(payload, dict) or "o" not in payload:
        raise LinkInvalid()
    return int(payload["o"])


# --- The customer's link to an order: opens a case without typing shop, number and email --------

_ORDER_LINK_SALT = "disputes.order-link"


def order_token(order: Order) -> str:
    return signing.dumps({"o": order.pk}, salt=_ORDER_LINK_SALT)


def customer_order_urls() -> Callable[[Order], str]:
    """The signed link a provider puts in its app or order email, for many orders (resolved
    once; see absolute_url_builder). It works for CUSTOMER_LINK_MAX_AGE."""
    build = absolute_url_builder("disputes:order-link", "token")
    return lambda order: build(order_token(order))


def order_id_from_order_token(token: str) -> int:
    try:
        payload = signing.loads(
            token, salt=_ORDER_LINK_SALT, max_age=settings.CUSTOMER_LINK_MAX_AGE
        )
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except signing.BadSignature:
        raise LinkInvalid() from None
    if not isinstance(payload, dict) or "o" not in payload:
        raise LinkInvalid()
    return int(payload["o"])
