"""The published OpenAPI schema as a contract: the committed snapshot is what is served, every
operation has its explicit id, a description and its refusals, every field a description and an
example; and property-based checks of every operation against it: no 500s, and every status
code, content type and body is one the schema declares."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

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
from api.management.commands.export_openapi import SNAPSHOT, render, served_schema
from api.v1 import api
from api.v1.openapi import check_operation_ids, operations, schema_changes
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
    served = [result.ok() for result in schema.get_all_operations()]
    assert len(served) == len(list(_operations(served_schema())))
    headers = {"Authorization": f"Bearer {operator_key}", "X-Merchant": merchant.slug}
    calls: list[int] = []
    for operation in served:

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


# --- The snapshot ---------------------------------------------------------------------------------

REGENERATE = "Run `make openapi` (python manage.py export_openapi) and commit docs/openapi.json."


def test_the_committed_snapshot_is_the_served_schema(client, db):
    served = client.get("/api/v1/openapi.json").json()
    snapshot = json.loads(SNAPSHOT.read_text())
    changes = schema_changes(snapshot, served)
    assert not changes, (
        "The served schema is not docs/openapi.json; what changed (BREAKING: may break a "
        "client, see docs/api-changelog.md):\n  " + "\n  ".join(changes) + "\n" + REGENERATE
    )
    assert SNAPSHOT.read_text() == render(served), "docs/openapi.json is not as written. " + (
        REGENERATE
    )


def test_the_export_is_the_same_on_every_run():
    assert render(served_schema()) == render(served_schema())


def _mutated(change) -> list[str]:  # type: ignore[no-untyped-def]
    schema = served_schema()
    new = copy.deepcopy(schema)
    change(new)
    return schema_changes(schema, new)


def test_the_comparison_names_what_changed():
    schemas = lambda s: s["components"]["schemas"]  # noqa: E731
    disputes = lambda s: s["paths"]["/api/v1/disputes"]["get"]  # noqa: E731

    assert _mutated(lambda s: s["paths"].pop("/api/v1/orders/batch"))[:-1] == [
        "BREAKING: dropped operation POST /api/v1/orders/batch (create_orders_batch)"
    ]
    assert _mutated(lambda s: schemas(s)["Money"]["properties"].pop("currency"))[0] == (
        "BREAKING: dropped field currency of Money"
    )
    assert _mutated(lambda s: schemas(s)["Money"]["properties"]["value"].update(type="number"))[
        0
    ] == ("BREAKING: field value of Money changed type string -> number")
    assert _mutated(lambda s: schemas(s)["State"]["enum"].remove("withdrawn"))[0] == (
        "BREAKING: schema State: dropped enum value 'withdrawn'"
    )
    assert _mutated(lambda s: disputes(s).update(operationId="disputes"))[0] == (
        "BREAKING: GET /api/v1/disputes: operationId 'list_disputes' -> 'disputes' (generated "
        "clients rename the method)"
    )
    assert _mutated(lambda s: disputes(s)["parameters"].pop(0))[0] == (
        "BREAKING: GET /api/v1/disputes: dropped query parameter state"
    )
    added = _mutated(lambda s: schemas(s)["Money"]["properties"].update(minor={"type": "integer"}))
    assert added[0] == "added: field minor of Money"
    wording = _mutated(lambda s: schemas(s)["Money"]["properties"]["value"].update(description="x"))
    assert wording == ["changed: /components/schemas/Money/properties/value/description"]


# --- Every operation ------------------------------------------------------------------------------


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for method, details in methods.items():
            yield f"{method.upper()} {path}", details


def test_every_operation_has_its_explicit_short_id():
    check_operation_ids(api)  # what the URLconf runs at start-up
    served = list(operations(api))
    assert served
    for _path, _method, operation in served:
        assert operation.operation_id, operation.view_func
        assert operation.operation_id.isidentifier()
        assert not operation.operation_id.startswith("disputes_api_")


def test_an_operation_without_an_id_is_refused_at_start_up():
    from django.core.exceptions import ImproperlyConfigured
    from ninja import Router

    from api.v1 import DisputeApi

    router = Router()

    @router.get("/thing", url_name="thing-no-id")
    def thing(request):  # type: ignore[no-untyped-def]
        return {}

    unnamed = DisputeApi(urls_namespace="no-ids")
    unnamed.add_router("/", router)
    with pytest.raises(
        ImproperlyConfigured,
        match=r"GET /thing \(tests.api.test_schema.thing\) has no operation_id=",
    ):
        unnamed.urls  # noqa: B018 - what include() reads at start-up


def test_every_operation_is_described_tagged_and_lists_its_refusals():
    schema = served_schema()
    described_tags = {tag["name"] for tag in schema["tags"]}
    problems = []
    for name, details in _operations(schema):
        statuses = {int(status) for status in details["responses"]}
        if not details.get("summary") or not details.get("description"):
            problems.append(f"{name}: summary= and description= (or a docstring)")
        if not set(details.get("tags", [])) or not set(details["tags"]) <= described_tags:
            problems.append(f"{name}: a tag described in the api's openapi_extra tags")
        if missing := {401, 403, 422, 429} - statuses:
            problems.append(f"{name}: no {sorted(missing)}")
        if "{" in name and 404 not in statuses:
            problems.append(f"{name}: has a path id but no 404")
        for status, response in details["responses"].items():
            if int(status) >= 400:
                content = response.get("content", {}).get("application/json", {})
                if content.get("schema") != {"$ref": "#/components/schemas/ErrorOut"}:
                    problems.append(f"{name}: {status} is not the ErrorOut shape")
                if "`" not in response["description"]:
                    problems.append(f"{name}: {status} names no error code")
    used_tags = {tag for _name, details in _operations(schema) for tag in details["tags"]}
    if unused := described_tags - used_tags:
        problems.append(f"tags described but used by no operation: {sorted(unused)}")
    assert not problems, "\n".join(problems)


def _is_nested(node: dict[str, Any]) -> bool:
    """A field holding an object or a list of them: its schema has the examples."""
    if "$ref" in node or node.get("type") == "object":
        return True
    if node.get("type") == "array":
        return _is_nested(node.get("items", {}))
    return any(
        _is_nested(part) for key in ("anyOf", "allOf", "oneOf") for part in node.get(key, [])
    )


def test_every_field_and_parameter_has_a_description_and_an_example():
    schema = served_schema()
    missing = []
    for name, component in sorted(schema["components"]["schemas"].items()):
        for field, node in component.get("properties", {}).items():
            if not node.get("description"):
                missing.append(f"{name}.{field}: description=")
            if not _is_nested(node) and "examples" not in node and "example" not in node:
                missing.append(f"{name}.{field}: examples=[...]")
    for name, details in _operations(schema):
        for parameter in details.get("parameters", []):
            if not parameter.get("description"):
                missing.append(f"{name} {parameter['name']}: description=")
            if "example" not in parameter:
                missing.append(f"{name} {parameter['name']}: examples=[...]")
    assert not missing, "\n".join(missing)


def test_no_two_schemas_share_a_name():
    # The schema names each model by its class name: two classes of one name would document one
    # operation with the other's shape.
    from pydantic import BaseModel

    seen: dict[str, type] = {}
    clashes = set()

    def visit(annotation: Any) -> None:
        from typing import get_args

        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__module__ == "abc":  # django-ninja's wrappers: not in the schema
                for field in annotation.model_fields.values():
                    visit(field.annotation)
                return
            name = annotation.__name__
            if name in seen:
                if seen[name] is not annotation:
                    clashes.add(f"{name}: {seen[name].__module__} and {annotation.__module__}")
                return
            seen[name] = annotation
            for field in annotation.model_fields.values():
                visit(field.annotation)
        for argument in get_args(annotation):
            visit(argument)

    for _path, _method, operation in operations(api):
        for model in operation.response_models.values():
            visit(model)
        for model in operation.models:
            visit(model)
    assert not clashes, "rename one of each:\n" + "\n".join(sorted(clashes))


def test_a_validation_error_answers_the_documented_error_shape(api_key, merchant, client):
    schema = client.get("/api/v1/openapi.json").json()
    response = client.get(
        "/api/v1/disputes", {"limit": "many"}, headers={"Authorization": f"Bearer {api_key}"}
    )
    assert response.status_code == 422
    documented = schema["paths"]["/api/v1/disputes"]["get"]["responses"]["422"]
    ref = documented["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ErrorOut"
    error_out = schema["components"]["schemas"]["ErrorOut"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    body = response.json()
    assert set(body) == set(error_out["properties"]) == set(error_out["required"])
    assert set(body["error"]) == set(detail["properties"])
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["field"] == "limit"
