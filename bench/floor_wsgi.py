"""The floor of the API list figure: a bare WSGI function for `GET /api/v1/disputes`.

It does what the database part of the portal's request does and nothing else: it finds the API
key by its SHA-256 (the same query, kept per worker for the same few seconds, and the same
once-a-minute `last_used_at` write), reads the merchant's first page with the same query, and
writes the same JSON body (with the same encoder, orjson), cursor included, with one persistent
psycopg connection per worker, checked before each request with the same `SELECT 1` as Django's
CONN_HEALTH_CHECKS (the portal keeps it: it is what brings a worker back after a database
restart, tests/faults/test_postgres_restart.py). No Django request machinery, no validation, no
middleware: what is left is the cost of the SQL, of the domain's pure rules that derive a case's
allowed actions and evidence completeness (the same functions the portal calls), of turning rows
into JSON, and of HTTP.

The SQL is written out here; every benchmark run compares it with what the portal sends for the
same request (`bench.api_load.captured_sql`) and reports `same_sql`, as it reports `same_json`
for the two bodies, so the two cannot drift apart unnoticed.

Configuration comes from the environment the benchmark passes: DATABASE_URL and SECRET_KEY (the
cursor is signed the way `django.core.signing.dumps` signs it). Serve it with
`gunicorn bench.floor_wsgi:application`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import psycopg

# The domain's pure rules (no ORM, no settings): the floor derives what the portal derives.
from disputes.policies import allowed_actions, completeness, support_waiting_for

KEY_PREFIX = "dpk_live_"  # api.keys.KEY_PREFIX
LAST_USED_RESOLUTION = timedelta(minutes=1)  # api.keys.LAST_USED_RESOLUTION
# settings.API_KEY_CACHE_SECONDS: a worker keeps a key it has found this long.
KEY_CACHE_TIME = timedelta(seconds=int(os.environ.get("API_KEY_CACHE_SECONDS", "5")))
PAGE_SIZE = 25  # the API's default `limit`
CURSOR_SALT = "disputes.api-list"  # api.selectors._CURSOR_SALT
SUPPORT_TEAM_NAME = os.environ.get("SUPPORT_TEAM_NAME", "Support team")  # settings

KEY_COLUMNS = (
    "id",
    "name",
    "owner_kind",
    "scopes",
    "merchant_id",
    "partner_id",
    "prefix",
    "key_hash",
    "created_by_id",
    "created_at",
    "last_used_at",
    "revoked_at",
)
MERCHANT_COLUMNS = (
    "id",
    "name",
    "slug",
    "country",
    "time_zone",
    "currency",
    "language",
    "platform_partner_id",
    "test_mode",
    "created_at",
)
PARTNER_COLUMNS = (
    "id",
    "name",
    "slug",
    "created_at",
)
DISPUTE_COLUMNS = (
    "id",
    "public_id",
    "order_id",
    "program",
    "reason",
    "customer_message",
    "state",
    "outcome",
    "next_actor",
    "due_at",
    "information_requested_from",
    "currency",
    "order_amount",
    "disputed_amount",
    "terms_id",
    "refund_offer",
    "refund_offer_amount",
    "settled_amount",
    "opened_at",
    "escalated_at",
    "closed_at",
    "decision_reason",
    "decision_code",
    "override_reason",
    "evidence_provided",
    "assigned_to_id",
    "return_shipped_at",
    "appealed_at",
    "updated_at",
)
ORDER_COLUMNS = (
    "order_number",
    "placed_at",
    "amount",
    "currency",
    "customer_email",
)
TERMS_COLUMNS = (
    "valid_from",
    "payment_dispute",
    "buyer_protection",
    "dispute_window_days",
    "dispute_window_day_count",
    "protection_window_days",
    "fee_plan",
)
USER_COLUMNS = ("first_name",)
# A case opened under no contract terms has the defaults (disputes.policies.DEFAULT_TERMS).
DEFAULT_DISPUTE_WINDOW = (21, "calendar")
DEFAULT_PROTECTION_WINDOW = (5, "calendar")
DEFAULT_FEE_PLAN = "standard"


def _columns(table: str, names: Sequence[str]) -> str:
    return ", ".join(f'"{table}"."{name}"' for name in names)


# What `ApiKey.objects.select_related("merchant", "partner").get(...)` sends.
# Built from the constants above only; values are bound by psycopg.
KEY_SQL = (
    f"SELECT {_columns('api_apikey', KEY_COLUMNS)}, "  # noqa: S608
    f"{_columns('disputes_merchant', MERCHANT_COLUMNS)}, "
    f"{_columns('disputes_platformpartner', PARTNER_COLUMNS)} "
    'FROM "api_apikey" '
    'LEFT OUTER JOIN "disputes_merchant" '
    'ON ("api_apikey"."merchant_id" = "disputes_merchant"."id") '
    'LEFT OUTER JOIN "disputes_platformpartner" '
    'ON ("api_apikey"."partner_id" = "disputes_platformpartner"."id") '
    'WHERE ("api_apikey"."key_hash" = %s AND "api_apikey"."revoked_at" IS NULL) '
    "LIMIT 21"
)
# The conditional write of `api_key_authenticate`, at most once a minute per key.
TOUCH_SQL = (
    'UPDATE "api_apikey" SET "last_used_at" = %s '
    'WHERE ("api_apikey"."id" = %s AND ("api_apikey"."last_used_at" IS NULL '
    'OR "api_apikey"."last_used_at" < %s))'
)


def _aliased(table: str, names: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f'"{table}"."{name}" AS "{prefix}{name}"' for name in names)


# What `dispute_list_for_merchant` sends for the first page, no filters, default page size: the
# values of the columns (no model instances), ordered by their positions (opened_at, id).
LIST_SQL = (
    f"SELECT {_aliased('disputes_dispute', DISPUTE_COLUMNS)}, "  # noqa: S608
    f"{_aliased('disputes_order', ORDER_COLUMNS, 'order__')}, "
    f"{_aliased('disputes_contractterms', TERMS_COLUMNS, 'terms__')}, "
    f"{_aliased('auth_user', USER_COLUMNS, 'assigned_to__')} "
    'FROM "disputes_dispute" '
    'INNER JOIN "disputes_order" ON ("disputes_dispute"."order_id" = "disputes_order"."id") '
    'LEFT OUTER JOIN "disputes_contractterms" '
    'ON ("disputes_dispute"."terms_id" = "disputes_contractterms"."id") '
    'LEFT OUTER JOIN "auth_user" ON ("disputes_dispute"."assigned_to_id" = "auth_user"."id") '
    'WHERE "disputes_dispute"."merchant_id" = %s '
    f"ORDER BY {DISPUTE_COLUMNS.index('opened_at') + 1} DESC, "
    f"{DISPUTE_COLUMNS.index('id') + 1} DESC "
    f"LIMIT {PAGE_SIZE + 1}"
)

# What Django's PostgreSQL backend sends to see that a kept connection still works (is_usable).
HEALTH_CHECK_SQL = "SELECT 1"

_KEY = {name: i for i, name in enumerate(KEY_COLUMNS)}
_M = {name: len(KEY_COLUMNS) + i for i, name in enumerate(MERCHANT_COLUMNS)}
_D = {name: i for i, name in enumerate(DISPUTE_COLUMNS)}
_O = {name: len(DISPUTE_COLUMNS) + i for i, name in enumerate(ORDER_COLUMNS)}
_T = {name: len(DISPUTE_COLUMNS) + len(ORDER_COLUMNS) + i for i, name in enumerate(TERMS_COLUMNS)}
_U = {
    name: len(DISPUTE_COLUMNS) + len(ORDER_COLUMNS) + len(TERMS_COLUMNS) + i
    for i, name in enumerate(USER_COLUMNS)
}


def _iso(moment: datetime | None) -> str | None:
    """A UTC time as DjangoJSONEncoder writes it: milliseconds, "Z"."""
    if moment is None:
        return None
    text = moment.astimezone(UTC).isoformat()
    if moment.microsecond:
        text = text[:23] + text[26:]
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _money(value: Decimal | None, currency: str) -> dict[str, str] | None:
    return None if value is None else {"value": f"{value:.2f}", "currency": currency}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).strip(b"=").decode()


def _b62(number: int) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    encoded = ""
    while number > 0:
        number, remainder = divmod(number, 62)
        encoded = alphabet[remainder] + encoded
    return encoded or "0"


def signed_cursor(opened_at: datetime, pk: int, *, secret_key: str) -> str:
    """`django.core.signing.dumps([opened_at.isoformat(), pk], salt=CURSOR_SALT)`."""
    payload = json.dumps([opened_at.isoformat(), pk], separators=(",", ":")).encode("latin-1")
    value = f"{_b64(payload)}:{_b62(int(time.time()))}"
    key = hashlib.sha256((CURSOR_SALT + "signer").encode() + secret_key.encode()).digest()
    signature = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return f"{value}:{_b64(signature)}"


def _terms(row: tuple[Any, ...]) -> dict[str, Any]:
    """The contract terms the case was opened under (api.schemas.case_terms_out)."""
    valid_from = row[_T["valid_from"]]
    if row[_D["terms_id"]] is None:
        dispute_window, protection_window = DEFAULT_DISPUTE_WINDOW, DEFAULT_PROTECTION_WINDOW
        fee_plan = DEFAULT_FEE_PLAN
    else:
        dispute_window = (row[_T["dispute_window_days"]], row[_T["dispute_window_day_count"]])
        protection_window = (row[_T["protection_window_days"]], "calendar")
        fee_plan = row[_T["fee_plan"]]
    days, day_count = (
        dispute_window if row[_D["program"]] == "payment_dispute" else protection_window
    )
    return {
        "merchant_window_days": days,
        "merchant_window_day_count": day_count,
        "fee_plan": fee_plan,
        "valid_from": valid_from.isoformat() if valid_from is not None else None,
    }


@dataclass(frozen=True)
class _Case:
    """What the domain's pure rules read of a case (disputes.policies.CaseFacts)."""

    program: str
    state: str
    due_at: datetime | None
    information_requested_from: str
    return_shipped_at: datetime | None
    appealed_at: datetime | None
    closed_at: datetime | None
    override_reason: str


def _case_rules(row: tuple[Any, ...], merchant: Sequence[Any], now: datetime) -> dict[str, Any]:
    """The rule-derived fields of a case (api.schemas.dispute_json): the same pure functions."""
    case = _Case(
        program=row[_D["program"]],
        state=row[_D["state"]],
        due_at=row[_D["due_at"]],
        information_requested_from=row[_D["information_requested_from"]],
        return_shipped_at=row[_D["return_shipped_at"]],
        appealed_at=row[_D["appealed_at"]],
        closed_at=row[_D["closed_at"]],
        override_reason=row[_D["override_reason"]],
    )
    evidence = completeness(
        case.program, row[_D["reason"]], "merchant", row[_D["evidence_provided"]] or []
    )
    waits = support_waiting_for(case)
    first_name = row[_U["first_name"]]
    return {
        "evidence": {
            "essential_given": evidence.essential_given,
            "essential_total": evidence.essential_total,
            "complete": evidence.complete,
            "missing": list(evidence.missing),
        },
        "allowed_actions": [
            {"action": action.action.value, "until": _iso(action.until)}
            for action in allowed_actions(
                case,
                "merchant",
                now=now,
                time_zone=merchant[_M["time_zone"]],
                country=merchant[_M["country"]],
            )
        ],
        "decision_code": row[_D["decision_code"]] or None,
        "decision_override_reason": row[_D["override_reason"]] or None,
        "handler": None
        if row[_D["assigned_to_id"]] is None
        else {"first_name": (first_name or "").strip(), "team": SUPPORT_TEAM_NAME},
        "support_waiting_for": waits.value if waits else None,
    }


def _dispute(row: tuple[Any, ...], merchant: Sequence[Any], now: datetime) -> dict[str, Any]:
    currency = row[_D["currency"]]
    return {
        "id": row[_D["public_id"]],
        "program": row[_D["program"]],
        "reason": row[_D["reason"]],
        "state": row[_D["state"]],
        "outcome": row[_D["outcome"]] or None,
        "next_actor": row[_D["next_actor"]] or None,
        "due_at": _iso(row[_D["due_at"]]),
        "order": {
            "number": row[_O["order_number"]],
            "placed_at": _iso(row[_O["placed_at"]]),
            "amount": _money(row[_O["amount"]], row[_O["currency"]]),
            "customer_email": row[_O["customer_email"]],
        },
        "order_amount": _money(row[_D["order_amount"]], currency),
        "disputed_amount": _money(row[_D["disputed_amount"]], currency),
        "refund_offer": row[_D["refund_offer"]] or None,
        "refund_offer_amount": _money(row[_D["refund_offer_amount"]], currency),
        "settled_amount": _money(row[_D["settled_amount"]], currency),
        "customer_message": row[_D["customer_message"]],
        "decision_reason": row[_D["decision_reason"]],
        "opened_at": _iso(row[_D["opened_at"]]),
        "escalated_at": _iso(row[_D["escalated_at"]]),
        "closed_at": _iso(row[_D["closed_at"]]),
        "updated_at": _iso(row[_D["updated_at"]]),
        "terms": _terms(row),
        **_case_rules(row, merchant, now),
    }


def list_body(
    rows: Sequence[tuple[Any, ...]], *, key: Sequence[Any], now: datetime, secret_key: str
) -> bytes:
    """The API's JSON for one page of LIST_SQL's rows (one more row than the page means more);
    `key` is KEY_SQL's row (its merchant's time zone and country date the deadlines)."""
    page = rows[:PAGE_SIZE]
    next_cursor = None
    if len(rows) > PAGE_SIZE:
        last = page[-1]
        next_cursor = signed_cursor(last[_D["opened_at"]], last[_D["id"]], secret_key=secret_key)
    body = {"data": [_dispute(row, key, now) for row in page], "next_cursor": next_cursor}
    return orjson.dumps(body)


StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def touch_key(cursor: Any, key: Sequence[Any], now: datetime) -> bool:
    """Note the key's use, as the portal does: at most once per LAST_USED_RESOLUTION. Returns
    whether it wrote."""
    stale = now - LAST_USED_RESOLUTION
    last_used_at = key[_KEY["last_used_at"]]
    if last_used_at is None or last_used_at < stale:
        cursor.execute(TOUCH_SQL, (now, key[_KEY["id"]], stale))
        return True
    return False


class FloorApp:
    """The WSGI callable; connects on its first request, i.e. in the worker after the fork."""

    def __init__(self, database_url: str, secret_key: str) -> None:
        self.database_url = database_url
        self.secret_key = secret_key
        self.connection: psycopg.Connection[tuple[Any, ...]] | None = None
        # The keys this worker has found, with when: kept as the portal keeps them.
        self.keys: dict[str, tuple[list[Any], datetime]] = {}

    def known_key(self, digest: str, now: datetime) -> list[Any] | None:
        known = self.keys.get(digest)
        if known is None or now - known[1] >= KEY_CACHE_TIME:
            return None
        return known[0]

    def connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self.connection is None or self.connection.closed:
            # Autocommit and client-side binding, as Django's backend uses them; times in UTC.
            self.connection = psycopg.connect(
                self.database_url,
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
                options="-c TimeZone=UTC",
            )
        return self.connection

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/api/v1/disputes" or environ.get("QUERY_STRING"):
            return respond(start_response, "404 Not Found", {"error": {"code": "not_found"}})
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
            return respond(start_response, "401 Unauthorized", {"error": {"code": "unauthorized"}})
        with self.connect().cursor() as cursor:
            # Django's check of a kept connection before a request's first query
            # (CONN_HEALTH_CHECKS: what lets a worker survive a database restart).
            cursor.execute(HEALTH_CHECK_SQL)
            digest = hashlib.sha256(token.encode()).hexdigest()
            now = datetime.now(UTC)
            key = self.known_key(digest, now)
            if key is None:
                cursor.execute(KEY_SQL, (digest,))
                found = cursor.fetchone()
                key = None if found is None else list(found)
                if key is not None:
                    self.keys[digest] = (key, now)
            if key is None or key[_KEY["merchant_id"]] is None:
                # Unknown key, or a partner's (which must name a merchant: not part of the floor).
                status = "401 Unauthorized" if key is None else "400 Bad Request"
                return respond(start_response, status, {"error": {"code": "unauthorized"}})
            if touch_key(cursor, key, now):
                key[_KEY["last_used_at"]] = now
            cursor.execute(LIST_SQL, (key[_KEY["merchant_id"]],))
            rows = cursor.fetchall()
        body = list_body(rows, key=key, now=now, secret_key=self.secret_key)
        return respond(start_response, "200 OK", body)


def respond(
    start_response: StartResponse, status: str, body: dict[str, Any] | bytes
) -> list[bytes]:
    if not isinstance(body, bytes):
        body = orjson.dumps(body)
    start_response(
        status,
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]


_app: FloorApp | None = None


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The entry point for gunicorn; reads DATABASE_URL and SECRET_KEY on the first request."""
    global _app  # one app, and so one connection, per worker process
    if _app is None:
        _app = FloorApp(os.environ["DATABASE_URL"], os.environ["SECRET_KEY"])
    return _app(environ, start_response)
