"""The customer's pages under load: the case page behind a customer's signed link, and the
public "find your order" page, each at 4 and 32 closed-loop clients.

The server is the portal under gunicorn as the API list figure runs it (bench/api_load.py:
bench/gunicorn_conf.py's 2 sync workers, DEBUG off, production settings, HTTPS behind a TLS
proxy, its bench-only SECRET_KEY), the load bench/loadgen.py's closed loop in 2 processes. The
two pages take turns at each client count (case, find, find, case, each for half the
duration), so a machine that slows down during the run slows both alike.

- The case page (`GET /c/<token>/`): an open case of the large merchant waiting for the
  customer's answer (the page with the reply form), the one with the longest timeline the
  customer sees; the link is signed as the portal signs the links it emails, with the server's
  key.
- The find-order page (`GET /open/`): the public form a customer starts from, with every shop
  in its list. Its POST (the lookup) is rate-limited per address and needs a CSRF cookie, and
  the load generator sends only GETs; the lookup is part of the case opening figure
  (bench/opening.py).

Every answer must be a 200: anything else (or no answer) is counted as an error. Queries per
page are counted once in this process (django.test.Client, the same view and template).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from disputes.choices import State
from disputes.links import customer_case_path
from disputes.models import Dispute, Merchant
from disputes.selectors import CUSTOMER_VISIBLE

from .api_load import (
    BENCH_SECRET_KEY,
    HOST,
    Measured,
    Server,
    gunicorn,
    measured_load,
    server_env,
)
from .loadgen import fetch
from .pages import case_with_longest_timeline
from .results import Figure

HEADERS = {"X-Forwarded-Proto": "https"}  # the servers run behind a TLS proxy that says so
PAGES = ("case page", "find-order page")


def customer_page_figures(
    *,
    slug: str,
    clients: Sequence[int] = (4, 32),
    duration: float = 15.0,
    warmup: float | None = None,
) -> list[Figure]:
    """Requests per second, median and p99 of both pages at each client count.

    Runs in a configured Django process whose database holds the merchant's cases (committed:
    the server is another process)."""
    case, entries = customer_case(Merchant.objects.get(slug=slug))
    with override_settings(SECRET_KEY=BENCH_SECRET_KEY):  # the server's key signs its links
        case_path = customer_case_path(case)
    paths = {"case page": case_path, "find-order page": reverse("disputes:find-order")}
    queries = {page: _queries_in_process(page, case) for page in PAGES}
    warmup = min(2.0, duration) if warmup is None else warmup
    runs: dict[tuple[str, int], Measured] = {}
    with gunicorn("disputes_portal.wsgi:application", server_env()) as server:
        for path in paths.values():
            status, body = fetch(HOST, server.port, path, HEADERS)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {body[:300]!r}")
        for path in paths.values():  # every worker connected, code paths warm
            _load(server, path, max(clients), warmup)
        for count in clients:
            half = duration / 2
            order = [*PAGES, *reversed(PAGES)]
            for page in order:
                measured = _load(server, paths[page], count, half)
                key = (page, count)
                runs[key] = runs[key].then(measured) if key in runs else measured
    about = {
        "case page": {
            "case": case.public_id,
            "state": case.state,
            "timeline_entries": entries,
            "merchant": slug,
        },
        "find-order page": {"shops_listed": Merchant.objects.count(), "method": "GET"},
    }
    return [
        figure
        for count in clients
        for page in PAGES
        for figure in _figures(
            page,
            count,
            runs[(page, count)],
            duration=duration,
            extra={**about[page], "queries": queries[page]},
        )
    ]


def customer_case(merchant: Merchant) -> tuple[Dispute, int]:
    """An open case waiting for the customer (the page with the reply form), else any open
    case, with the longest timeline the customer sees."""
    return case_with_longest_timeline(
        merchant,
        [Q(state=State.AWAITING_CUSTOMER), Q(closed_at__isnull=True)],
        visibility=CUSTOMER_VISIBLE,
        what="open case",
    )


def _load(server: Server, path: str, clients: int, duration: float) -> Measured:
    return measured_load(server, path=path, headers=HEADERS, clients=clients, duration=duration)


def _queries_in_process(page: str, case: Dispute) -> int:
    """Queries of one request for the page through the whole stack in this process (the
    second request: the first may warm caches)."""
    client = Client()
    with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
        path = customer_case_path(case) if page == "case page" else reverse("disputes:find-order")
        client.get(path, secure=True)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, secure=True)
    if response.status_code != 200:
        raise RuntimeError(f"{page}: {path} answered {response.status_code} in process")
    return len(captured)


def _figures(
    page: str, count: int, run: Measured, *, duration: float, extra: dict[str, Any]
) -> list[Figure]:
    details: dict[str, Any] = {
        "clients": count,
        "duration_s": duration,
        "server": "gunicorn, 2 sync workers",
        **run.details(""),
        **extra,
    }
    return [
        Figure(
            name=f"customer {page} @{count} clients",
            value=round(run.load.rps, 1),
            unit="requests/s",
            details=details,
        ),
        Figure(
            name=f"customer {page} median @{count} clients",
            value=details["median_ms"] or 0.0,
            unit="ms",
            details={"errors": run.load.errors},
        ),
        Figure(
            name=f"customer {page} p99 @{count} clients",
            value=details["p99_ms"] or 0.0,
            unit="ms",
            details={"errors": run.load.errors},
        ),
    ]
