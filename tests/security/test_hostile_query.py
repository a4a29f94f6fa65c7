"""Every query parameter of every GET page, sent hostile values: never a 5xx, never a raw echo.

`GET /portal/cases/?opened_to=9999-12-31` once overflowed a date into a server error. The
sweep below asks each page (customer pages, the merchant portal, the support desk, the API,
the downloads) with each parameter it reads set to values a browser, a script or a scanner can
send, as the user who may open the page. The page answers with itself, a redirect or a clear
4xx; the API with its JSON error shape; nothing sent comes back unescaped.

The table (PAGES) is data; the guards at the bottom fail when a view, an API operation, an
admin list filter or a URL appears that the table does not know, so the sweep stays complete.
"""

from __future__ import annotations

import functools
import inspect
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.http import HttpResponse, JsonResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from ninja.operation import PathView
from pypdf import PdfWriter

REPO = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert(1)</script>"
# What anyone may put in a query string. Dates that overflow a day later or earlier, numbers too
# large for a column, SQL, markup, NUL, a bidi override, an emoji, a path, and nonsense dates.
HOSTILE: list[tuple[str, Any]] = [
    ("far-future", "9999-12-31"),
    ("zero-date", "0000-00-00"),
    ("far-past", "0001-01-01"),
    ("feb-30", "2024-02-30"),
    ("far-future-offset", "9999-12-31T23:59:59-14:00"),
    ("far-past-offset", "0001-01-01T00:00:00+14:00"),
    ("minus-one", "-1"),
    ("huge", "99999999999999999999999"),
    ("bigint+1", "9223372036854775808"),
    ("1e309", "1e309"),
    ("nan", "NaN"),
    ("sql", "' OR 1=1--"),
    ("script", SCRIPT),
    ("percent-00", "%00"),
    ("nul", "a\x00b"),
    ("long", "x" * 10_000),
    ("rtl", "\u202e"),
    ("emoji", "\U0001f600"),
    ("brackets", "[]"),
    ("repeated", ["1", "2"]),
    ("empty", ""),
    ("path", "../../etc/passwd"),
    ("superscript", "\u00b2"),  # str.isdigit() says yes, int() says no
]
HTML_OK = {200, 302, 400, 404}
API_OK = {200, 400, 401, 403, 404, 409, 422}
# The admin add page takes any model field as its form's initial value: swept as one request
# per value with every field set (then field by field to name one that fails).
INITIAL_FIELDS = "(every field as initial)"
# Parameters no view reads, one per hostile value, in one request per page: a page must not
# trip over what it does not expect.
UNLISTED = "(unlisted)"

# Budget (< 60 s on two cores): every value goes to every parameter whose value reaches the
# portal's own code: customer pages, the portal, the API, and in the desk its searches, its own
# list filters and paginator, and its add forms' initial values. The rest of the admin (field
# list filters, ordering, paging, popups, other apps' ModelAdmins), read by Django's code alike
# for every ModelAdmin, gets the values that broke parsers before, and dates where it takes a
# date. HOSTILE_SWEEP=full sends every value to every parameter (about three minutes).
FULL_SWEEP = os.environ.get("HOSTILE_SWEEP") == "full"
CORE = ("empty", "nul", "huge", "script")
DATES = ("far-future", "zero-date", "feb-30", "far-future-offset", "far-past-offset")
DATE_PARAM = re.compile(r"__(gte|lt|year|month|day)$")
# Flags whose value Django never reads, only whether they are there (or, for a list filter's
# "__isnull", whether it is true): one value, to show it is not echoed.
ADMIN_FLAGS = {"all", "e", "_facets", "_popup"}
OWN_ADMINS = ("admin:disputes_", "admin:billing_", "admin:notifications_", "admin:api_")
OWN_ADMIN_PARAMS = {
    ("admin:disputes_dispute_changelist", "queue"),  # desk.QueueFilter
    ("admin:disputes_dispute_changelist", "assigned"),  # desk.AssignedFilter
    ("admin:disputes_dispute_changelist", "p"),  # desk.CappedCountPaginator
    ("admin:autocomplete", "term"),  # the merchant search of DeskModelAdmin
}


# 500s in code this sweep may not change: Django's admin and other apps' ModelAdmins, and
# api/admin.py. (page name pattern, parameter pattern, value labels): (why, the one database
# it fails on, or "" for all). Each must still fail: a fixed one is reported, to be taken off.
ANY_TEXT = frozenset(label for label, _value in HOSTILE) - {"empty"}
NOT_OURS_TO_FIX: dict[tuple[str, str, frozenset[str]], tuple[str, str]] = {
    (r"admin:axes_\w+_changelist", "attempt_time__year", frozenset({"huge", "bigint+1"})): (
        "Django's date hierarchy turns the year into a datetime (OverflowError)",
        "",
    ),
    (
        r"admin:(axes_\w+|otp_totp_totpdevice)_changelist",
        r"\w+_(time|at)__(gte|lt)",
        frozenset({"far-future-offset", "far-past-offset"}),
    ): (
        "SQLite's adapter moves a datetime at the end of the calendar to UTC (OverflowError)",
        "sqlite",
    ),
    (r"admin:otp_totp_totpdevice_add", re.escape(INITIAL_FIELDS), ANY_TEXT - {"nul"}): (
        "a DateTimeField's initial value from the query string is rendered as text "
        "(SplitDateTimeWidget: 'str' object has no attribute 'utcoffset')",
        "",
    ),
}


def _values(page: Page, param: str) -> list[tuple[str, Any]]:
    ours = (
        not page.name.startswith("admin:")
        or (page.name, param) in OWN_ADMIN_PARAMS
        or (page.name.startswith(OWN_ADMINS) and param in ("q", INITIAL_FIELDS))
    )
    if ours or FULL_SWEEP:
        return HOSTILE
    if param in ADMIN_FLAGS or param.endswith("__isnull"):
        labels: tuple[str, ...] = ("script",)
    elif DATE_PARAM.search(param):
        labels = CORE + DATES
    else:
        labels = CORE
    return [(label, value) for label, value in HOSTILE if label in labels]


def _not_ours(page: Page, param: str, label: str) -> str | None:
    for (pattern, name, labels), (why, only_on) in NOT_OURS_TO_FIX.items():
        if only_on and connection.vendor != only_on:
            continue
        if label in labels and re.fullmatch(name, param) and re.fullmatch(pattern, page.name):
            return why
    return None


@dataclass(frozen=True)
class Page:
    """One GET page: its URL (with {names} from World.paths), who asks, what it reads."""

    name: str  # the URL name, e.g. "portal:queue"
    path: str
    params: tuple[str, ...]
    who: str = "owner"  # visitor | owner | superuser | merchant-key | operator-key
    # html | download | json | api | api-download (an API operation answering a file)
    answer: str = "html"
    # Session keys set before asking: a customer's verified order, the case just opened.
    session: tuple[tuple[str, str], ...] = ()
    base: tuple[tuple[str, str], ...] = ()  # valid parameters sent along with the hostile one
    also_ok: frozenset[int] = frozenset()  # statuses that are right for this page as well
    initial_fields: tuple[str, ...] = ()  # INITIAL_FIELDS: the model's fields (admin add page)


VERIFIED_ORDER = (("customer.verified_order", "order_pk"),)
VERIFIED_PROTECTED_ORDER = (("customer.verified_order", "protected_order_pk"),)
OPENED_CASE = (("customer.opened_case", "dispute_pk"),)
QUEUE_FILTERS = ("q", "program", "reason", "state", "opened_from", "opened_to")
# The protection page takes its form's initial values from the query string (the check-in
# email's "?answer=..."), so every field of ProtectionFeedbackForm is a parameter.
PROTECTION_FORM = (
    "answer",
    "no_refund_kind",
    "message",
    "evidence_order_confirmation",
    "evidence_return_receipt",
    "evidence_return_tracking",
    "evidence_cancellation_proof",
    "documents",
    "confirm_withdrawal",
)

CUSTOMER_PAGES = [
    Page("disputes:home", "/", (), who="visitor"),
    Page("disputes:health", "/health/", (), who="visitor", answer="json"),
    Page("disputes:find-order", "/open/", ("shop",), who="visitor"),
    Page("disputes:start", "/open/order/", (), who="visitor", session=VERIFIED_ORDER),
    Page("disputes:open-dispute", "/open/dispute/", (), who="visitor", session=VERIFIED_ORDER),
    Page(
        "disputes:protection",
        "/open/protection/",
        PROTECTION_FORM,
        who="visitor",
        session=VERIFIED_PROTECTED_ORDER,
    ),
    Page("disputes:opened", "/open/done/", (), who="visitor", session=OPENED_CASE),
    Page("disputes:protection-link", "/protection/{protection_token}/", ("answer",), "visitor"),
    Page("disputes:order-link", "/open/link/{order_token}/", (), who="visitor"),
    Page("disputes:renew-link", "/case-link/", ("shop",), who="visitor"),
    Page("disputes:customer-case", "/c/{case_token}/", (), who="visitor"),
    Page(
        "disputes:customer-document",
        "/c/{case_token}/documents/{attachment_pk}/",
        (),
        who="visitor",
        answer="download",
    ),
    # Django's language switch: a GET only redirects to `next` (a POST changes the language).
    Page("set_language", "/i18n/setlang/", ("next",), who="visitor"),
]

PORTAL_PAGES = [
    Page("portal:dashboard", "/portal/", ()),
    Page("portal:queue", "/portal/cases/", ("tab", "after", *QUEUE_FILTERS)),
    Page(
        "portal:queue-export",
        "/portal/cases/export.csv",
        ("tab", *QUEUE_FILTERS),
        answer="download",
    ),
    Page("portal:case", "/portal/cases/{case_id}/", ()),
    # The case's action URLs answer a GET with a redirect to the case page.
    *(
        Page(f"portal:case-{action}", f"/portal/cases/{{case_id}}/{action}/", ())
        for action in ("respond", "accept", "return-received", "appeal", "evidence", "message")
    ),
    Page(
        "portal:case-document",
        "/portal/cases/{case_id}/documents/{attachment_pk}/",
        (),
        answer="download",
    ),
    Page("portal:login", "/portal/login/", ("next",), who="visitor"),
    Page("portal:password-reset", "/portal/password-reset/", (), who="visitor"),
    Page("portal:password-reset-done", "/portal/password-reset/sent/", (), who="visitor"),
    Page(
        "portal:password-reset-confirm",
        "/portal/password-reset/{reset_uid}/{reset_token}/",
        (),
        who="visitor",
    ),
    Page("portal:password-reset-complete", "/portal/password-reset/done/", (), who="visitor"),
    Page("portal:preferences", "/portal/settings/notifications/", ()),
    Page("portal:team", "/portal/team/", ()),
    Page("portal:team-remove", "/portal/team/{agent_membership_pk}/remove/", ()),
    Page("portal:leave", "/portal/team/leave/", ()),
    Page("portal:invitation", "/portal/invitations/{invitation_token}/", (), who="visitor"),
    Page("portal:api-index", "/portal/api/", ()),
    Page("portal:api-key-revoke", "/portal/api/keys/{api_key_pk}/revoke/", ()),
    Page("portal:api-webhook-create", "/portal/api/webhooks/new/", ()),
    Page("portal:api-webhook", "/portal/api/webhooks/{endpoint_pk}/", ()),
    Page("portal:fees-statements", "/portal/fees/", ()),
    Page("portal:fees-statement", "/portal/fees/statements/{statement_pk}/", ()),
    Page(
        "portal:fees-statement-csv",
        "/portal/fees/statements/{statement_pk}/statement.csv",
        (),
        answer="download",
    ),
    Page(
        "portal:fees-statement-pdf",
        "/portal/fees/statements/{statement_pk}/statement.pdf",
        (),
        answer="download",
    ),
]

# `merchant` (api/v1/auth.py): the merchant a partner's or the operator's key acts for.
API_PAGES = [
    Page(
        "api-v1:disputes",
        "/api/v1/disputes",
        (
            "state",
            "program",
            "reason",
            "due_before",
            "updated_since",
            "cursor",
            "limit",
            "merchant",
        ),
        who="merchant-key",
        answer="api",
    ),
    Page("api-v1:dispute", "/api/v1/disputes/{case_id}", ("merchant",), "merchant-key", "api"),
    Page(
        "api-v1:dispute-events",
        "/api/v1/disputes/{case_id}/events",
        ("merchant",),
        who="merchant-key",
        answer="api",
    ),
    Page("api-v1:fee-statements", "/api/v1/fees/statements", ("merchant",), "merchant-key", "api"),
    Page(
        "api-v1:dispute-files",
        "/api/v1/disputes/{case_id}/files",
        ("merchant",),
        who="merchant-key",
        answer="api",
    ),
    Page(
        "api-v1:file-content",
        "/api/v1/files/{document_id}/content",
        ("merchant",),
        who="merchant-key",
        answer="api-download",
    ),
    Page(
        "api-v1:webhook-endpoints-list",
        "/api/v1/webhook-endpoints",
        ("merchant",),
        who="merchant-key",
        answer="api",
    ),
    Page(
        "api-v1:webhook-endpoint",
        "/api/v1/webhook-endpoints/{endpoint_pk}",
        ("merchant",),
        who="merchant-key",
        answer="api",
    ),
    Page(
        "api-v1:events",
        "/api/v1/events",
        ("after", "limit", "type", "dispute", "merchant"),
        who="merchant-key",
        answer="api",
    ),
    Page("api-v1:event", "/api/v1/events/{event_id}", ("merchant",), "merchant-key", "api"),
    Page(
        "api-v1:fee-statement",
        "/api/v1/fees/statements/{statement_pk}",
        ("merchant",),
        who="merchant-key",
        answer="api",
    ),
    Page(
        "api-v1:merchants-list",
        "/api/v1/merchants",
        ("cursor", "limit", "merchant"),
        who="operator-key",
        answer="api",
    ),
    Page(
        "api-v1:merchant",
        "/api/v1/merchants/{merchant_slug}",
        ("merchant",),
        who="operator-key",
        answer="api",
    ),
    Page(
        "api-v1:orders-list",
        "/api/v1/orders",
        (
            "placed_from",
            "placed_before",
            "updated_since",
            "open_case",
            "cursor",
            "limit",
            "merchant",
        ),
        who="merchant-key",
        answer="api",
    ),
    Page("api-v1:order", "/api/v1/orders/{order_number}", ("merchant",), "merchant-key", "api"),
    Page(
        "api-v1:payment-instructions",
        "/api/v1/payment-instructions",
        ("after", "limit", "merchant"),
        who="operator-key",
        answer="api",
    ),
    Page("api-v1:openapi-json", "/api/v1/openapi.json", (), who="visitor", answer="json"),
    Page("api-v1:openapi-view", "/api/v1/docs", (), who="visitor"),
]


@dataclass(frozen=True)
class AdminModel:
    """A registered ModelAdmin as the sweep asks it: the changelist's own parameters (list
    filters, and `q` where it searches), and which object pages the superuser may open."""

    filters: tuple[str, ...]
    search: bool
    add_fields: tuple[str, ...] = ()  # empty: no add page
    delete: bool = True
    date_hierarchy: str = ""


# The changelist parameters every ModelAdmin reads (django.contrib.admin.views.main).
CHANGELIST_PARAMS = ("o", "p", "all", "e", "_facets", "_popup", "_to_field")


def _null(*names: str) -> tuple[str, ...]:
    """A list filter's parameters with their "(None)" choice."""
    return tuple(
        p for name in names for p in (name, re.sub(r"(__id)?__(exact|gte)$", "", name) + "__isnull")
    )


ADMIN_MODELS: dict[str, AdminModel] = {
    "disputes.dispute": AdminModel(
        filters=(
            "queue",
            "assigned",
            *_null("program__exact", "reason__exact", "merchant__id__exact"),
        ),
        search=True,
        delete=False,
    ),
    "disputes.platformpartner": AdminModel(filters=(), search=True, add_fields=("name", "slug")),
    "disputes.merchant": AdminModel(
        filters=_null("country", "currency", "test_mode__exact"),
        search=True,
        add_fields=(
            "name",
            "slug",
            "country",
            "time_zone",
            "currency",
            "language",
            "platform_partner",
            "test_mode",
        ),
    ),
    "disputes.order": AdminModel(
        filters=_null("payment_state__exact", "protection_tier__exact", "protection_status__exact"),
        search=True,
        add_fields=(
            "merchant",
            "order_number",
            "placed_at",
            "amount",
            "currency",
            "customer_email",
            "customer_language",
            "payment_state",
            "protection_tier",
            "protection_status",
            "is_invoice",
            "shipments",
            "line_summary",
            "paid_at",
            "cancelled_at",
            "refunded_outside_amount",
            "moved_to_customer",
            "protection_ends_at",
            "protection_extended_at",
            "protection_checkin_sent_at",
            "protection_ending_notice_for",
            "pseudonymised_at",
        ),
    ),
    "disputes.personaldatarequest": AdminModel(
        filters=_null("kind__exact"), search=True, delete=False
    ),
    "billing.feeline": AdminModel(
        filters=_null("kind__exact", "currency"), search=True, delete=False
    ),
    "billing.feeschedule": AdminModel(
        filters=_null("currency"),
        search=False,
        add_fields=(
            "plan",
            "currency",
            "valid_from",
            "standard_fee",
            "elevated_fee",
            "rate_threshold",
            "minimum_orders",
            "waive_when_merchant_wins",
        ),
    ),
    "billing.merchantfeeterms": AdminModel(
        filters=_null("currency"),
        search=True,
        add_fields=("merchant", "currency", "elevated_fee", "note"),
    ),
    "billing.statement": AdminModel(
        filters=(
            *_null("status__exact", "currency"),
            "period_start__gte",
            "period_start__lt",
        ),
        search=True,
        delete=False,  # the one in the table is issued
    ),
    "notifications.outboxmessage": AdminModel(
        filters=_null("status__exact", "channel__exact", "kind"), search=True
    ),
    "api.providerendpoint": AdminModel(
        filters=(),
        search=False,
        add_fields=(
            "audience",
            "merchant",
            "url",
            "events",
            "description",
            "enabled",
            "secret",
            "previous_secret",
            "previous_secret_expires_at",
            "failing_since",
            "disabled_reason",
            "created_at",
        ),
    ),
    "auth.user": AdminModel(
        filters=_null(
            "is_staff__exact", "is_superuser__exact", "is_active__exact", "groups__id__exact"
        ),
        search=True,
        add_fields=(
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "groups",
            "user_permissions",
        ),
    ),
    "auth.group": AdminModel(filters=(), search=True, add_fields=("name", "permissions")),
    # The desk's sign-in lockout (django-axes) and authenticator apps (django-otp).
    **{
        f"axes.{model}": AdminModel(filters=filters, search=True, date_hierarchy="attempt_time")
        for model, filters in (
            (
                "accessattempt",
                ("attempt_time__gte", "attempt_time__lt", *_null("path_info"), "locked_out"),
            ),
            (
                "accesslog",
                (
                    "attempt_time__gte",
                    "attempt_time__lt",
                    "logout_time__gte",
                    "logout_time__lt",
                    "logout_time__isnull",
                    *_null("path_info"),
                ),
            ),
            (
                "accessfailurelog",
                ("attempt_time__gte", "attempt_time__lt", *_null("locked_out__exact", "path_info")),
            ),
        )
    },
    "otp_totp.totpdevice": AdminModel(
        filters=(
            *_null("created_at__gte", "last_used_at__gte"),
            "created_at__lt",
            "last_used_at__lt",
            *_null("confirmed__exact"),
        ),
        search=True,
        add_fields=(
            "user",
            "name",
            "confirmed",
            "throttling_failure_timestamp",
            "throttling_failure_count",
            "last_used_at",
            "key",
            "step",
            "t0",
            "digits",
            "tolerance",
            "drift",
            "last_t",
        ),
    ),
}


def _object(label: str) -> str:
    """The name in World.paths of the object a ModelAdmin's object pages open."""
    return "admin_" + label.replace(".", "_")


def _admin_pages() -> list[Page]:
    pages = []
    for label, spec in ADMIN_MODELS.items():
        app, model = label.split(".")
        base = f"/admin/{app}/{model}/"
        url = f"admin:{app}_{model}"
        hierarchy = spec.date_hierarchy
        dates = (f"{hierarchy}__year", f"{hierarchy}__month", f"{hierarchy}__day")
        changelist = (
            *spec.filters,
            *(("q",) if spec.search else ()),
            *(dates if hierarchy else ()),
            *CHANGELIST_PARAMS,
        )
        pages.append(Page(f"{url}_changelist", base, changelist, who="superuser"))
        obj = f"{base}{{{_object(label)}}}/"
        change = ("_changelist_filters", "_to_field", "_popup")
        pages.append(Page(f"{url}_change", f"{obj}change/", change, who="superuser"))
        pages.append(Page(f"{url}_history", f"{obj}history/", ("p",), who="superuser"))
        if spec.delete:
            pages.append(
                Page(f"{url}_delete", f"{obj}delete/", ("_popup", "_to_field"), who="superuser")
            )
        if spec.add_fields:
            pages.append(
                Page(
                    f"{url}_add",
                    f"{base}add/",
                    ("_popup", "_to_field", "_changelist_filters", INITIAL_FIELDS),
                    who="superuser",
                    initial_fields=spec.add_fields,
                )
            )
    return pages


ADMIN_PAGES = [
    Page("admin:index", "/admin/", (), who="superuser"),
    *(
        Page("admin:app_list", f"/admin/{app}/", (), who="superuser")
        for app in ("disputes", "billing", "notifications", "api", "auth", "axes", "otp_totp")
    ),
    Page("admin:two-factor", "/admin/two-factor/", (), who="superuser"),
    Page(
        "admin:otp_totp_totpdevice_config",
        "/admin/otp_totp/totpdevice/{admin_otp_totp_totpdevice}/config/",
        (),
        who="superuser",
    ),
    Page(
        "admin:otp_totp_totpdevice_qrcode",
        "/admin/otp_totp/totpdevice/{admin_otp_totp_totpdevice}/qrcode/",
        (),
        who="superuser",
        answer="download",
    ),
    Page("admin:login", "/admin/login/", ("next",), who="visitor"),
    Page("admin:password_change", "/admin/password_change/", (), who="superuser"),
    Page("admin:password_change_done", "/admin/password_change/done/", (), who="superuser"),
    Page("admin:jsi18n", "/admin/jsi18n/", (), who="superuser", answer="download"),
    Page(
        "admin:view_on_site",
        "/admin/r/{dispute_content_type}/{dispute_pk}/",
        (),
        who="superuser",
    ),
    # The merchant picker of the fee terms form; naming no such field is a 403 by design.
    Page(
        "admin:autocomplete",
        "/admin/autocomplete/",
        ("term", "page", "app_label", "model_name", "field_name"),
        who="superuser",
        answer="json",
        base=(
            ("app_label", "billing"),
            ("model_name", "merchantfeeterms"),
            ("field_name", "merchant"),
        ),
        also_ok=frozenset({403}),
    ),
    Page("admin:disputes_staff_figures", "/admin/disputes/dispute/figures/", (), "superuser"),
    Page(
        "admin:disputes_dispute_document",
        "/admin/disputes/dispute/{dispute_pk}/documents/{attachment_pk}/",
        (),
        who="superuser",
        answer="download",
    ),
    Page("admin:disputes_order_import", "/admin/disputes/order/import/", (), "superuser"),
    Page("admin:disputes_personal_data", "/admin/disputes/dispute/personal-data/", (), "superuser"),
    Page(
        "admin:disputes_dispute_bundle",
        "/admin/disputes/dispute/{dispute_pk}/bundle/",
        (),
        who="superuser",
        answer="download",
    ),
    Page(
        "admin:disputes_order_import_report",
        "/admin/disputes/order/import/reports/" + "0" * 32 + "/",
        (),
        who="superuser",
    ),
    *_admin_pages(),
]

PAGES = CUSTOMER_PAGES + PORTAL_PAGES + API_PAGES + ADMIN_PAGES

# URLs that take no GET (forms post to them): nothing in a query string reaches them.
POST_ONLY = {
    "disputes:customer-reply",
    "disputes:customer-message",
    "disputes:customer-evidence",
    "disputes:customer-return-shipped",
    "disputes:customer-withdraw",
    "portal:logout",
    "portal:switch-merchant",
    "portal:team-invitation-withdraw",
    "portal:api-key-create",
    "portal:api-webhook-rotate",
    "portal:api-webhook-resend",
    "admin:logout",
    "admin:disputes_dispute_desk_action",
}


# --- The data the pages show, made once for the module ---------------------------------------


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass
class World:
    paths: dict[str, Any] = field(default_factory=dict)  # {names} in Page.path, session values
    users: dict[str, Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # signed in once for the module


@pytest.fixture(autouse=True)
def _private_media() -> None:
    """The module's documents live in one directory for all its tests (see `world`), not in
    a directory per test as the suite's fixture arranges."""


def _build_world() -> World:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from api.keys import api_key_create
    from api.models import EndpointAudience, Event, ProviderEndpoint, WebhookEndpoint
    from billing.models import FeeKind, FeeLine, FeeSchedule, MerchantFeeTerms
    from disputes import services
    from disputes.actors import Actor
    from disputes.choices import MemberRole
    from disputes.links import customer_token, order_token, protection_token
    from disputes.memberships import team_invite
    from disputes.models import Attachment, PersonalDataRequest, PlatformPartner
    from disputes.uploads import check_uploads
    from notifications.models import OutboxMessage
    from portal.emails import invitation_token
    from tests.billing.factories import ensure_default_schedule, issued_statement
    from tests.factories import (
        MembershipFactory,
        MerchantFactory,
        OrderFactory,
        UserFactory,
        open_dispute,
    )

    now = timezone.now()
    merchant = MerchantFactory(name="Hostile Shop", slug="hostile-shop")
    owner = MembershipFactory(merchant=merchant, role=MemberRole.OWNER)
    agent = MembershipFactory(merchant=merchant, role=MemberRole.AGENT)
    dispute = open_dispute(merchant=merchant)
    services.dispute_add_message(
        dispute=dispute,
        actor=Actor.customer(dispute.order.customer_email),
        message="The tracking page shows nothing.",
        documents=check_uploads([SimpleUploadedFile("receipt.pdf", _pdf())]),
    )
    attachment = Attachment.objects.filter(dispute=dispute).first()
    assert attachment is not None
    plain_order = OrderFactory(merchant=merchant)
    invitation = team_invite(
        merchant=merchant,
        email="new@hostile.example",
        role=MemberRole.AGENT,
        invited_by_id=owner.user_id,
    )
    protected_order = OrderFactory(merchant=merchant, protected=True)
    statement = issued_statement(merchant)
    merchant_key = api_key_create(name="hostile", merchant=merchant, now=now)
    operator_key = api_key_create(name="hostile-operator", operator=True, now=now)
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant,
        url="http://127.0.0.1:9/hook",
        events=["fee.statement_issued"],
        secret="whsec_dGVzdA==",
        created_at=now,
    )
    provider = ProviderEndpoint.objects.create(
        audience=EndpointAudience.PROVIDER,
        url="http://127.0.0.1:9/provider",
        events=["payment_instruction.created"],
        secret="whsec_dGVzdA==",
        created_at=now,
    )
    partner = PlatformPartner.objects.create(name="Hostile Platform", slug="hostile-platform")
    ensure_default_schedule()
    fee_terms = MerchantFeeTerms.objects.create(
        merchant=merchant, currency="EUR", elevated_fee="25.00"
    )
    fee_line = FeeLine.objects.create(
        merchant=merchant,
        dispute=dispute,
        kind=FeeKind.STANDARD,
        amount="15.00",
        currency="EUR",
        incurred_at=now,
    )
    group = Group.objects.order_by("pk").first() or Group.objects.create(name="Hostile desk")
    superuser = UserFactory(username="root@hostile.example", is_staff=True, is_superuser=True)
    outbox = OutboxMessage.objects.order_by("pk").first()
    assert outbox is not None  # opening the case queued its emails
    attempt = {
        "user_agent": "scanner",
        "ip_address": "127.0.0.1",
        "username": superuser.username,
        "http_accept": "*/*",
        "path_info": "/admin/login/",
    }
    device = TOTPDevice.objects.create(user=owner.user, name="Phone", confirmed=False)
    admin_objects = {
        "disputes.dispute": dispute,
        "disputes.platformpartner": partner,
        "disputes.merchant": merchant,
        "disputes.order": dispute.order,
        "disputes.personaldatarequest": PersonalDataRequest.objects.create(
            kind=PersonalDataRequest.Kind.EXPORT,
            pseudonym="0" * 32 + "@pseudonymised.invalid",
            handled_by=superuser,
            handled_at=now,
            summary={"cases": 1},
        ),
        "billing.feeline": fee_line,
        "billing.feeschedule": FeeSchedule.objects.order_by("pk").first(),
        "billing.merchantfeeterms": fee_terms,
        "billing.statement": statement,
        "notifications.outboxmessage": outbox,
        "api.providerendpoint": provider,
        "auth.user": owner.user,
        "auth.group": group,
        "axes.accessattempt": AccessAttempt.objects.create(
            **attempt, get_data="", post_data="", failures_since_start=1
        ),
        "axes.accesslog": AccessLog.objects.create(**attempt),
        "axes.accessfailurelog": AccessFailureLog.objects.create(**attempt),
        "otp_totp.totpdevice": device,
    }
    world = World()
    world.paths.update(
        {
            "case_token": customer_token(dispute),
            "case_id": dispute.public_id,
            "dispute_pk": dispute.pk,
            "attachment_pk": attachment.pk,
            "document_id": f"doc_{attachment.pk}",
            "event_id": Event.objects.filter(merchant=merchant).values_list("public_id", flat=True)[
                0
            ],
            "order_pk": plain_order.pk,
            "protected_order_pk": protected_order.pk,
            "protection_token": protection_token(protected_order),
            "order_token": order_token(plain_order),
            "order_number": dispute.order.order_number,
            "statement_pk": statement.pk,
            "merchant_slug": merchant.slug,
            "api_key_pk": merchant_key.api_key.pk,
            "endpoint_pk": endpoint.pk,
            "agent_membership_pk": agent.pk,
            "invitation_token": invitation_token(invitation.pk),
            "reset_uid": urlsafe_base64_encode(force_bytes(owner.user.pk)),
            "reset_token": default_token_generator.make_token(owner.user),
            "dispute_content_type": ContentType.objects.get_for_model(dispute).pk,
            **{_object(label): obj.pk for label, obj in admin_objects.items()},
        }
    )
    world.users.update(owner=owner.user, superuser=superuser)
    world.keys.update({"merchant-key": merchant_key.key, "operator-key": operator_key.key})
    return world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:  # type: ignore[no-untyped-def]
    """Made once, in a transaction rolled back after the module: other modules never see it."""
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path_factory.mktemp("hostile-media"))},
        },
    }
    with django_db_blocker.unblock(), override_settings(STORAGES=storages):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            world = _build_world()
            for who, user in world.users.items():
                client = Client()
                client.force_login(user)
                world.sessions[who] = client.cookies[settings.SESSION_COOKIE_NAME].value
            yield world
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _no_limits(settings) -> None:  # type: ignore[no-untyped-def]
    # Thousands of requests from one address and one key: the sweep is not a rate-limit test.
    settings.API_RATE_LIMIT = 10**9
    settings.PUBLIC_FORM_RATE_LIMIT = 10**9
    cache.clear()


@pytest.fixture(autouse=True)
def _quiet_refusals() -> Iterator[None]:
    # Thousands of 4xx lines are the sweep working; a 500's traceback is still logged.
    loggers = {"django.request": logging.ERROR, "django.security": logging.CRITICAL}
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name, level in loggers.items():
        logging.getLogger(name).setLevel(level)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# --- The sweep ---------------------------------------------------------------------------------


def _client(page: Page, world: World) -> Client:
    if page.who.endswith("-key"):
        return Client(HTTP_AUTHORIZATION=f"Bearer {world.keys[page.who]}")
    client = Client()
    if page.who in world.sessions:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[page.who]
    if page.session:
        session = client.session
        for key, name in page.session:
            session[key] = world.paths[name]
        session.save()
    return client


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _problems(page: Page, response: Any, body: bytes) -> list[str]:
    """What is wrong with the answer: empty when the page stood up to the value."""
    status = response.status_code
    content_type = response.get("Content-Type", "")
    found = []
    if page.answer in ("api", "api-download"):
        if status not in API_OK:
            found.append(f"status {status}")
        if page.answer == "api-download" and status == 200:
            pass  # the document itself
        elif not content_type.startswith("application/json"):
            found.append(f"content type {content_type!r}")
        else:
            data = _json(body)
            if status >= 400 and (
                not isinstance(data, dict)
                or set(data) != {"error"}
                or set(data["error"]) != {"code", "message", "field"}
            ):
                found.append(f"not the API's error shape: {body[:200]!r}")
    elif status not in HTML_OK | page.also_ok:
        found.append(f"status {status}")
    elif status == 200 and page.answer == "html" and not content_type.startswith("text/html"):
        found.append(f"content type {content_type!r}")
    elif status == 200 and page.answer == "json" and _json(body) is None:
        found.append(f"not JSON: {body[:200]!r}")
    if b"Traceback" in body:
        found.append("a traceback in the page")
    if SCRIPT.encode() in body:
        found.append("the script echoed unescaped")
    return found


def _ask(client: Client, url: str, query: dict[str, Any]) -> tuple[Any, bytes]:
    # Each request in a savepoint rolled back after it: every request meets the same data, and
    # a database error stays in its own request.
    with transaction.atomic(), warnings.catch_warnings():
        # A date typed into a datetime filter is the visitor's naive datetime, not the code's:
        # production logs the warning and answers; the suite's warnings-as-errors would not.
        warnings.filterwarnings("ignore", "DateTimeField .* received a naive datetime")
        try:
            response = client.get(url, query)
            return response, _body(response)
        finally:
            transaction.set_rollback(True)


def _failures(client: Client, page: Page, url: str, query: dict[str, Any]) -> list[str]:
    try:
        response, body = _ask(client, url, query)
    except Exception as error:  # the client re-raises what the view raised: a 500
        return [f"raised {type(error).__name__}: {str(error)[:300]}"]
    return _problems(page, response, body)


def _cases() -> Iterator[Any]:
    names = [page.name for page in PAGES]
    for page in PAGES:
        # One URL name for several pages (the admin's app index): the path tells them apart.
        shown = page.name if names.count(page.name) == 1 else f"{page.name}({page.path})"
        for param in (*page.params, UNLISTED):
            yield pytest.param(page, param, id=f"{shown}?{param}")


REQUESTS: list[int] = []


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    pairs = sum(len(page.params) + 1 for page in PAGES)
    print(
        f"\nhostile query sweep: {len(PAGES)} pages, {pairs} (page, parameter) pairs, "
        f"{sum(REQUESTS)} requests{' (full)' if FULL_SWEEP else ''}"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "param"), list(_cases()))
def test_a_hostile_value_gets_a_page_or_a_clear_refusal(world, page, param):
    client = _client(page, world)
    url = page.path.format(**world.paths)
    base = dict(page.base)
    if param == UNLISTED:
        query = {**base, **{f"zz_{label}": value for label, value in HOSTILE}}
        REQUESTS.append(1)
        failed = [f"{page.name}?{UNLISTED}: {p}" for p in _failures(client, page, url, query)]
        assert not failed, "\n".join(failed)
        return
    failed = []
    asked = 0
    for label, value in _values(page, param):
        fields = page.initial_fields if param == INITIAL_FIELDS else (param,)
        problems = _failures(client, page, url, {**base, **dict.fromkeys(fields, value)})
        asked += 1
        known = _not_ours(page, param, label)
        if problems and param == INITIAL_FIELDS and not known:  # name the field that fails
            named = []
            for name in fields:
                asked += 1
                if found := _failures(client, page, url, {**base, name: value}):
                    named.append(f"{name}: {'; '.join(found)}")
            problems = named or problems
        if known and not problems:
            failed.append(f"{page.name}?{param}={label}: passes now; take it off NOT_OURS_TO_FIX")
        elif problems and not known:
            failed.append(f"{page.name}?{param}={label}: {'; '.join(problems)}")
    REQUESTS.append(asked)
    assert not failed, "\n".join(failed)


def test_the_checks_catch_an_echo_a_wrong_status_and_a_wrong_error_shape():
    page = Page("portal:queue", "/portal/cases/", ("q",))
    echo = HttpResponse(f"<p>{SCRIPT}</p>")
    assert _problems(page, echo, echo.content) == ["the script echoed unescaped"]
    assert _problems(page, HttpResponse(status=500), b"") == ["status 500"]
    api = Page("api-v1:disputes", "/api/v1/disputes", ("limit",), answer="api")
    plain = JsonResponse({"detail": "no"}, status=422)
    assert _problems(api, plain, plain.content) == [
        'not the API\'s error shape: b\'{"detail": "no"}\''
    ]


# --- What the fixes answer instead of a 500 ----------------------------------------------------


def _desk(world: World) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions["superuser"]
    return client


@pytest.mark.django_db
def test_a_filter_value_with_a_nul_gets_the_admins_wrong_filter_answer(world):
    response = _desk(world).get("/admin/disputes/order/", {"payment_state__exact": "a\x00b"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/disputes/order/?e=1"


@pytest.mark.django_db
def test_an_empty_to_field_opens_the_object_by_its_id(world):
    merchant_pk = world.paths[_object("disputes.merchant")]
    response = _desk(world).get(f"/admin/disputes/merchant/{merchant_pk}/change/?_to_field=")
    assert response.status_code == 200
    assert response.context["original"].pk == merchant_pk


@pytest.mark.django_db
def test_the_add_form_keeps_initial_values_it_can_take_and_ignores_the_rest(world):
    merchant_pk = world.paths[_object("disputes.merchant")]
    response = _desk(world).get(
        "/admin/billing/merchantfeeterms/add/",
        {"merchant": merchant_pk, "currency": "EUR", "elevated_fee": "NaN"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.initial == {
        "merchant": str(merchant_pk),
        "currency": "EUR",
    }
    order_form = _desk(world).get("/admin/disputes/order/add/", {"placed_at": "2026-01-02"})
    assert order_form.status_code == 200
    assert "placed_at" not in order_form.context["adminform"].form.initial


@pytest.mark.django_db
def test_a_merchant_cursor_of_other_digits_is_the_apis_invalid_cursor(world):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {world.keys['operator-key']}")
    response = client.get("/api/v1/merchants", {"cursor": "\u00b2"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


# --- The guards: the table knows every page and every parameter ------------------------------

SOURCE_DIRS = ("disputes", "portal", "api", "billing", "notifications", "disputes_portal")
# request.GET.get("x"), request.GET["x"], request.GET.getlist("x"), "x" in request.GET
_NAMED_READ = re.compile(
    r"""GET(?:\.get|\.getlist|\.pop)?[(\[]\s*["']([^"']+)["']|["']([^"']+)["']\s+in\s+[\w.]*GET\b"""
)
# What is left after the named reads: the query string read whole (a form bound to it, its
# initial values, a copy) or by a name the scan cannot see.
_WHOLE_READ = re.compile(r"\.GET\b")
# Modules that read the query string for pages they do not define, and which pages those are:
# the parameter must be on each of them. (api/v1/auth.py: every operation behind an API key.)
SHARED_READERS = {
    "api/v1/auth.py": lambda page: page.who.endswith("-key"),
    # The desk's site guards every admin page: a NUL anywhere, an empty _to_field.
    "disputes/support_desk/site.py": lambda page: (
        page.name.startswith("admin:") and "_to_field" in page.params
    ),
}
# Where the whole query string is read: the forms whose fields are then parameters of the
# pages the module defines.
WHOLE_QUERY_FORMS = {
    "portal/views/cases.py": ("portal.forms", "QueueFilterForm"),
    "disputes/views/customer.py": ("disputes.forms", "ProtectionFeedbackForm"),
}


def _reads(text: str) -> tuple[set[str], bool]:
    """The parameter names a module reads, and whether it also reads the query string whole."""
    named = {a or b for a, b in _NAMED_READ.findall(text)}
    return named, bool(_WHOLE_READ.search(_NAMED_READ.sub("", text)))


def _source_files() -> Iterator[tuple[str, str]]:
    for folder in SOURCE_DIRS:
        for path in sorted((REPO / folder).rglob("*.py")):
            if "migrations" in path.parts or "management" in path.parts:
                continue
            yield path.relative_to(REPO).as_posix(), path.read_text()


def _view_module(page: Page, world: World) -> str:
    """The file of the code behind a page: its view, ModelAdmin or API router."""
    func = resolve(page.path.format(**world.paths)).func
    while isinstance(func, functools.partial):
        func = func.func
    model_admin = getattr(func, "model_admin", None)
    if model_admin is not None:
        return _file_of(type(model_admin).__module__)
    for cell in func.__closure__ or ():  # a ninja path: the operations' own module
        if isinstance(cell.cell_contents, PathView):
            return _file_of(cell.cell_contents.operations[0].view_func.__module__)
    view = getattr(func, "view_class", None) or inspect.unwrap(func)
    return _file_of(view.__module__)


def _file_of(module: str) -> str:
    return module.replace(".", "/") + ".py"


def _pages_by_module(world: World) -> dict[str, list[Page]]:
    found: dict[str, list[Page]] = {}
    for page in PAGES:
        found.setdefault(_view_module(page, world), []).append(page)
    return found


@pytest.mark.django_db
def test_every_query_parameter_a_view_reads_is_swept(world):
    by_module = _pages_by_module(world)
    missing = []
    for name, text in _source_files():
        reads, whole = _reads(text)
        if name in SHARED_READERS:
            pages = [p for p in PAGES if SHARED_READERS[name](p)]
            missing += [
                f"{name}: {param} on {p.name}"
                for param in reads
                for p in pages
                if param not in p.params
            ]
            continue
        if not reads and not whole:
            continue
        pages = by_module.get(name)
        if pages is None:
            missing.append(f"{name} reads the query string but defines no page in PAGES")
            continue
        swept = {param for page in pages for param in page.params}
        missing += [f"{name}: {param}" for param in sorted(reads - swept)]
        if whole and name not in WHOLE_QUERY_FORMS:
            missing.append(f"{name} reads the whole query string: add it to WHOLE_QUERY_FORMS")
    for name, (module, form_name) in WHOLE_QUERY_FORMS.items():
        form_class = getattr(__import__(module, fromlist=[form_name]), form_name)
        fields = set(form_class().fields)
        swept = {param for page in by_module.get(name, []) for param in page.params}
        missing += [f"{name}: {form_name}.{param}" for param in sorted(fields - swept)]
    assert not missing, "add to PAGES:\n" + "\n".join(missing)


def test_the_source_scan_finds_the_reads_it_is_meant_to():
    named = 'request.GET.get("tab")\nself.request.GET["after"]\nif "q" in request.GET:\n'
    assert _reads(named) == ({"tab", "after", "q"}, False)
    assert _reads("QueueFilterForm(request.GET or None)") == (set(), True)
    assert _reads("Form(initial=self.request.GET)") == (set(), True)
    assert _reads("request.GET.get(name)") == (set(), True)  # a name the scan cannot see
    assert _reads('query = request.GET.copy()\nrequest.GET.get("after")') == ({"after"}, True)
    assert _reads('if request.method == "GET":') == (set(), False)


def _api_get_operations() -> dict[str, set[str]]:
    """Each GET operation of the published schema with its query parameters."""
    from api.v1 import api

    schema = api.get_openapi_schema(path_prefix="/api/v1")
    operations = {}
    for path, methods in schema["paths"].items():
        if "get" in methods:
            params = methods["get"].get("parameters", [])
            operations[path] = {p["name"] for p in params if p["in"] == "query"}
    return operations


def test_every_api_get_operation_and_its_query_parameters_are_swept():
    swept = {
        re.sub(r"\{[^}]+\}", "{}", page.path): set(page.params)
        for page in API_PAGES
        if page.answer in ("api", "api-download")
    }
    missing = []
    for path, params in _api_get_operations().items():
        key = re.sub(r"\{[^}]+\}", "{}", path)
        if key not in swept:
            missing.append(f"GET {path}")
        else:
            missing += [f"GET {path}?{param}" for param in sorted(params - swept[key])]
    assert not missing, "add to API_PAGES:\n" + "\n".join(missing)


@pytest.mark.django_db
def test_every_model_admin_and_its_list_filters_are_swept(world):
    from django.contrib.admin.views.main import ChangeList

    request = RequestFactory().get("/admin/")
    request.user = world.users["superuser"]
    missing = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        spec = ADMIN_MODELS.get(label)
        if spec is None:
            missing.append(f"{label}: not in ADMIN_MODELS")
            continue
        changelist: ChangeList = model_admin.get_changelist_instance(request)
        expected = {
            param
            for filter_spec in changelist.filter_specs
            for param in filter_spec.expected_parameters()
        }
        if model_admin.get_search_fields(request):
            expected.add("q")
        if model_admin.date_hierarchy != (spec.date_hierarchy or None):
            missing.append(f"{label}: date_hierarchy is {model_admin.date_hierarchy!r}")
        swept = set(spec.filters) | ({"q"} if spec.search else set())
        missing += [f"{label} changelist: {param}" for param in sorted(expected - swept)]
        may_add = model_admin.has_add_permission(request)
        if may_add and not spec.add_fields:
            missing.append(f"{label}: has an add page; list its fields in add_fields")
        if may_add:
            fields = {
                f.name
                for f in model._meta.get_fields()
                if getattr(f, "editable", False)
                and not f.auto_created
                and (f.concrete or f.many_to_many)
            }
            missing += [f"{label} add: {name}" for name in sorted(fields - set(spec.add_fields))]
        obj = model_admin.get_queryset(request).filter(pk=world.paths[_object(label)]).first()
        if spec.delete != model_admin.has_delete_permission(request, obj):
            missing.append(f"{label}: delete should be {not spec.delete}")
    assert not missing, "update ADMIN_MODELS:\n" + "\n".join(missing)


def _url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_url_is_swept_or_takes_no_get():
    api_post_only = {
        f"api-v1:{name}"
        for name in (
            "dispute-respond",
            "dispute-accept",
            "dispute-messages",
            "dispute-evidence",
            "files",
            "merchants",
            "merchant-patch",
            "webhook-endpoints",
            "webhook-endpoint-patch",
            "webhook-endpoint-delete",
            "webhook-endpoint-rotate-secret",
            "webhook-endpoint-test",
            "orders",
            "orders-batch",
            "order-patch",
            "test-open",
            "test-reply",
            "test-advance",
            "api-root",
        )
    }
    swept = {page.name for page in PAGES}
    # The admin's per-model views are generic: ADMIN_MODELS covers every registered model.
    generic_admin = re.compile(r"admin:\w+_(changelist|add|change|history|delete)$")
    unclassified = sorted(
        name
        for name in _url_names() - swept - POST_ONLY - api_post_only
        if not generic_admin.match(name)
    )
    assert not unclassified, f"add to PAGES or POST_ONLY: {unclassified}"
