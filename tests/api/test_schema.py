"""Property-based checks of every operation against the published OpenAPI schema: no 500s, and
every status code, content type and body is one the schema declares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.keys import api_key_create
from tests.factories import OrderFactory, open_dispute

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_conforms_to_the_schema(db, merchant):
    # The operator's key with every scope, acting for a test merchant: every operation runs,
    # the test-mode ones included.
    merchant.test_mode = True
    merchant.save(update_fields=["test_mode"])
    open_dispute(merchant=merchant)  # something for the lists to show
    OrderFactory(merchant=merchant, order_number="A-1")
    operator_key = api_key_create(name="op", operator=True, now=timezone.now()).key
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 23
    headers = {"Authorization": f"Bearer {operator_key}", "X-Merchant": merchant.slug}
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples on every run: a failure is reproducible
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls.append(response.status_code)

        check()
    assert len(calls) > 200
    assert {200, 422} <= set(calls)


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):  # type: ignore[no-untyped-def]
    settings.API_RATE_LIMIT = 100_000


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # As Django's test client does: the WSGI handler must not close the connection that holds
    # the test's transaction at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
