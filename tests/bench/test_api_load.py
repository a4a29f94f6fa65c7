"""The API list figure on a few factory cases: its floor sends the portal's SQL and answers the
portal's JSON, and a short run loads both gunicorn servers without an error.

The servers are other processes reading the test database, so the cases are committed
(transactional tests)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from api.keys import api_key_create
from bench import floor_wsgi
from bench.api_load import api_list_figures, captured_sql, comparable, database_url, floor_sql
from disputes import services
from disputes.choices import Program
from tests.factories import MerchantFactory, customer_actor, open_dispute

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _merchant_with_cases(slug: str, cases: int) -> Any:
    merchant = MerchantFactory(slug=slug)
    disputes = [open_dispute(merchant=merchant) for _ in range(cases - 1)]
    disputes.append(open_dispute(merchant=merchant, program=Program.BUYER_PROTECTION))
    # A recent case closed: its outcome and closing time are on the first page.
    services.dispute_withdraw(dispute=disputes[-2], actor=customer_actor(disputes[-2]))
    return merchant


def test_the_floor_sends_the_portals_sql_and_answers_its_json():
    merchant = _merchant_with_cases("api-floor", cases=floor_wsgi.PAGE_SIZE + 1)  # 2 pages
    other = open_dispute(merchant=MerchantFactory(slug="someone-else"))  # not on the page
    key = api_key_create(name="test", merchant=merchant, now=timezone.now()).key

    assert captured_sql(key) == floor_sql(key=key, merchant_id=merchant.pk)

    with override_settings(ALLOWED_HOSTS=["testserver"]):
        portal = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/disputes", secure=True)
    assert portal.status_code == 200
    app = floor_wsgi.FloorApp(database_url(connection.settings_dict), settings.SECRET_KEY)
    started: list[str] = []
    environ = {
        "PATH_INFO": "/api/v1/disputes",
        "QUERY_STRING": "",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
    }
    try:
        floor = b"".join(app(environ, lambda status, headers: started.append(status)))
        unknown = b"".join(
            app(
                {**environ, "HTTP_AUTHORIZATION": "Bearer dpk_live_unknown"},
                lambda status, headers: started.append(status),
            )
        )
    finally:
        if app.connection is not None:
            app.connection.close()
    assert started == ["200 OK", "401 Unauthorized"]
    assert b"unauthorized" in unknown

    expected = comparable(portal.content, secret_key=settings.SECRET_KEY)
    assert comparable(floor, secret_key=settings.SECRET_KEY) == expected
    assert len(expected["data"]) == floor_wsgi.PAGE_SIZE
    assert other.public_id not in {case["id"] for case in expected["data"]}
    assert expected["next_cursor"][1] == merchant.disputes.order_by("opened_at", "id")[1].pk
    assert {case["state"] for case in expected["data"]} >= {"withdrawn", "awaiting_merchant"}
    assert {case["program"] for case in expected["data"]} == set(Program.values)


def test_a_short_run_loads_both_servers_without_errors():
    _merchant_with_cases("api-load", cases=3)

    figures = {
        f.name: f
        for f in api_list_figures(merchant_slug="api-load", clients=(2,), duration=1.0, warmup=0.2)
    }

    assert set(figures) == {"api list @2 clients", "api list p99 @2 clients"}
    rate = figures["api list @2 clients"]
    details = rate.details
    assert (details["same_sql"], details["same_json"]) == (True, True)
    assert (details["errors"], details["floor_errors"]) == (0, 0)
    assert min(details["requests"], details["floor_requests"]) > 0
    assert min(details["median_ms"], details["floor_median_ms"]) > 0
    assert rate.unit == "requests/s"
    assert rate.floor
    assert rate.value > 0
    assert rate.ratio == pytest.approx(rate.value / rate.floor, rel=0.01)
    assert (rate.target, rate.met) == (None, None)  # the target is for 4 clients
    p99 = figures["api list p99 @2 clients"]
    assert p99.unit == "ms"
    assert p99.value >= details["median_ms"]
    assert p99.floor == details["floor_p99_ms"]
