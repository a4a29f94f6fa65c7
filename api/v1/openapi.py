"""The published schema as a contract: every operation's explicit id, and every refusal it can
meet documented with the one error shape.

django-ninja writes each operation's success responses, parameters and bodies; this completes
them from what it knows about the operation, so that no operation can forget them:

- the refusals every operation meets (401, 403 with the scope it needs, 422, 429), those that
  follow from the merchant it acts for (`X-Merchant`: 400, 403, 404), from a `cursor` (400)
  and from an `Idempotency-Key` (400, 409), and its own (`refusals(...)` in its
  `openapi_extra`), each as `ErrorOut` with a description naming the codes;
- the `X-Merchant` and `Idempotency-Key` headers it takes;
- parameter examples in the form OpenAPI gives them to parameters (`example`), the API key's
  security scheme with its description.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from ninja.openapi.schema import REF_TEMPLATE
from ninja.operation import Operation
from ninja.schema import NinjaGenerateJsonSchema

from ..idempotency import HEADER as IDEMPOTENCY_HEADER
from ..idempotency import MAX_KEY_LENGTH, idempotent
from ..schemas import ErrorOut
from .auth import MERCHANT_HEADER, ApiKeyAuth
from .common import ALWAYS, ERROR_TITLES

if TYPE_CHECKING:
    from ninja import NinjaAPI

# Every view wrapped by @idempotent runs the one wrapper's code.
_IDEMPOTENT_CODE = idempotent(lambda error: (400, {}))(lambda request: (200, None)).__code__
_ERROR_REF = {"$ref": REF_TEMPLATE.format(model="ErrorOut")}


def operations(api: NinjaAPI) -> Iterator[tuple[str, str, Operation]]:
    """(path, METHOD, operation) for every operation the API serves, as the schema lists it."""
    for bound_router in api._get_bound_routers():
        for path, path_view in bound_router.path_operations.items():
            full_path = "/".join(part for part in (bound_router.prefix, path) if part)
            for operation in path_view.operations:
                for method in operation.methods:
                    yield "/" + full_path.strip("/"), method, operation


def check_operation_ids(api: NinjaAPI) -> None:
    """Refuse an operation without an explicit, unique `operation_id=`: generated clients name
    their methods after it, so it is part of the contract (docs/api-changelog.md)."""
    seen: dict[str, str] = {}
    for path, method, operation in operations(api):
        where = f"{method} {path} ({operation.view_func.__module__}.{operation.view_func.__name__})"
        op_id = operation.operation_id
        if not op_id:
            raise ImproperlyConfigured(f"{where} has no operation_id=: give it a stable short id")
        if op_id in seen and seen[op_id] != where:
            raise ImproperlyConfigured(f"{where}: operation_id {op_id!r} is used by {seen[op_id]}")
        seen[op_id] = where


def is_idempotent(operation: Operation) -> bool:
    return getattr(operation.view_func, "__code__", None) is _IDEMPOTENT_CODE


def _auth(operation: Operation) -> ApiKeyAuth | None:
    return next((a for a in operation.auth_callbacks if isinstance(a, ApiKeyAuth)), None)


def _merchant_header(context: str) -> dict[str, Any]:
    needed = (
        "Needed with an operator's or platform partner's key; a merchant's key acts for its "
        "own merchant and may leave it out."
        if context == "required"
        else "Optional: narrows the answer to that merchant."
    )
    return {
        "in": "header",
        "name": MERCHANT_HEADER,
        "required": False,
        "description": f"The slug of the merchant to act for. {needed} The `merchant` query "
        "parameter may be given instead.",
        "schema": {"type": "string", "maxLength": 50, "pattern": "^[-a-zA-Z0-9_]{1,50}$"},
        "example": "trail-co",
    }


IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "description": "Makes a retry safe: the same key with the same request within 24 hours "
    "gets the first answer again (with `Idempotent-Replayed: true`) and nothing is done "
    "twice. 1 to 255 printable ASCII characters, per API key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    "example": "respond-DP-7K2M-Q9XD-4HTA-1",
}
_RESPONSE_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: send an API key.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before the next request with this key.",
            "schema": {"type": "integer"},
        }
    },
}
_REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same `Idempotency-Key`.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def _refusals(operation: Operation, details: dict[str, Any]) -> dict[int, list[str]]:
    """Every error status of the operation with the codes it can answer there."""
    auth = _auth(operation)
    context = auth.merchant_context if auth else "none"
    names = {param["name"] for param in details.get("parameters", [])}
    own: dict[int, list[str]] = details.pop("x-refusals", {})
    reasons: dict[int, list[str]] = defaultdict(list)
    for status in ALWAYS:  # every operation meets these
        reasons.setdefault(status, [])
    reasons[401].append(
        "`unauthorized`: no API key, or an unknown, expired or revoked one "
        "(`Authorization: Bearer dpk_live_...`)."
    )
    if auth is not None and auth.scope is not None:
        reasons[403].append(f"`missing_scope`: the key does not have the `{auth.scope}` scope.")
    if context != "none":
        if context == "required":
            reasons[400].append(
                "`merchant_required`: an operator's or platform partner's key did not name "
                "the merchant in `X-Merchant`."
            )
        reasons[403].append(
            "`merchant_not_allowed`: `X-Merchant` names a merchant this key does not act for."
        )
        reasons[404].append(
            "`merchant_not_found`: an operator's key names an unknown merchant in `X-Merchant`."
        )
    if "cursor" in names:
        reasons[400].append("`invalid_cursor`: `cursor` is not a `next_cursor` this list gave.")
    reasons[422].append(
        "`invalid`: the request does not match this schema (a required field missing, a value "
        "of the wrong type or out of its bounds); `field` names it."
    )
    for status, notes in own.items():
        reasons[int(status)].extend(notes)
    if is_idempotent(operation):
        reasons[400].append(
            "`invalid_idempotency_key`: `Idempotency-Key` is not 1 to 255 printable ASCII "
            "characters."
        )
        reasons[409].extend(
            [
                "`idempotency_key_reused`: this `Idempotency-Key` came with another request.",
                "`idempotency_key_in_progress`: the first request with this `Idempotency-Key` "
                "is still being handled; try again shortly.",
            ]
        )
    if details.get("requestBody") and not any("`too_large`" in n for n in reasons[413]):
        reasons[413].append("`too_large`: the body is larger than the portal reads.")
    reasons[429].append("`rate_limited`: try again after `Retry-After` seconds.")
    return dict(reasons)


def _error_response(status: int, reasons: list[str]) -> dict[str, Any]:
    lines = [ERROR_TITLES[status], ""] + [f"- {reason}" for reason in reasons]
    response: dict[str, Any] = {
        "description": "\n".join(lines).strip(),
        "content": {"application/json": {"schema": dict(_ERROR_REF)}},
    }
    if status in _RESPONSE_HEADERS:
        response["headers"] = copy.deepcopy(_RESPONSE_HEADERS[status])
    return response


def _complete_operation(operation: Operation, details: dict[str, Any]) -> None:
    auth = _auth(operation)
    parameters: list[dict[str, Any]] = details.setdefault("parameters", [])
    if auth is not None and auth.merchant_context != "none":
        parameters.append(_merchant_header(auth.merchant_context))
    if is_idempotent(operation):
        parameters.append(copy.deepcopy(IDEMPOTENCY_PARAMETER))
    for parameter in parameters:
        # A parameter's `examples` is a map of Example objects in OpenAPI; the schema's own
        # `examples` (a list) stays in the parameter's schema.
        examples = parameter.pop("examples", None)
        if isinstance(examples, list) and examples and "example" not in parameter:
            parameter["example"] = examples[0]
    responses: dict[int, Any] = {}
    for key, response in details["responses"].items():  # "200" from openapi_extra is 200
        responses.setdefault(int(key), {}).update(response)
    for status, reasons in _refusals(operation, details).items():
        responses[status] = _error_response(status, reasons)
    for status, response in responses.items():
        if status < 300 and is_idempotent(operation):
            response.setdefault("headers", copy.deepcopy(_REPLAYED_HEADER))
    details["responses"] = dict(sorted(responses.items()))


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _drop_unused_schemas(schema: dict[str, Any]) -> None:
    """Leave out the components no operation reaches (django-ninja lists the query parameter
    models too, whose fields are the operations' parameters)."""
    schemas = schema["components"]["schemas"]
    reached: set[str] = set()
    todo = list(_refs(schema["paths"]))
    while todo:
        name = todo.pop()
        if name not in reached and name in schemas:
            reached.add(name)
            todo.extend(_refs(schemas[name]))
    schema["components"]["schemas"] = {name: schemas[name] for name in sorted(reached)}


def complete_schema(api: NinjaAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """The schema django-ninja wrote, completed as this module's docstring says."""
    schema = copy.deepcopy(schema)
    by_id = {op.operation_id: op for _path, _method, op in operations(api)}
    for methods in schema["paths"].values():
        for details in methods.values():
            operation = by_id[details["operationId"]]
            _complete_operation(operation, details)
    components = schema.setdefault("components", {})
    definitions = ErrorOut.model_json_schema(
        ref_template=REF_TEMPLATE, schema_generator=NinjaGenerateJsonSchema, mode="serialization"
    )
    for name, definition in definitions.pop("$defs", {}).items():
        components.setdefault("schemas", {}).setdefault(name, definition)
    components["schemas"]["ErrorOut"] = definitions
    _drop_unused_schemas(schema)
    components["securitySchemes"] = {
        "ApiKeyAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "dpk_live_...",
            "description": "An API key: `Authorization: Bearer dpk_live_...`. The operator "
            "makes keys with `manage.py create_api_key`; a shop's owner makes its merchant keys "
            "in the portal. Each key has scopes; each operation names the one it needs.",
        }
    }
    return schema


DESCRIPTION = """\
The dispute portal's API for payment providers, shop platforms and shops: onboard merchants,
feed orders, answer customers' disputes, and follow what the portal decides about orders' money.

**Authentication.** Every request carries an API key: `Authorization: Bearer dpk_live_...`. A
merchant's key acts for that merchant. The operator's key (the provider running the portal) acts
for every merchant, and a platform partner's key for the merchants it onboarded: they name the
merchant in the `X-Merchant` header. Each key has scopes; each operation names the one it needs.

**Errors.** Every refusal is `{"error": {"code", "message", "field"}}`: `code` is stable and
meant for programs, `message` is for people, `field` names the input at fault. Each operation
lists the statuses it can answer with the codes behind them.

**Retries.** Every `POST` takes an `Idempotency-Key`: the same key with the same request within
24 hours gets the first answer again. Each key is rate-limited (`429` with `Retry-After`).

**Compatibility.** Within `/api/v1/` changes are additive only: new operations, new optional
request fields, new response fields and new values of a code field; ignore what you do not
know. The rules and the history are in docs/api-changelog.md; docs/integration.md is the guide.
"""

# One tag per resource, in the order a reader meets them.
TAGS = [
    {
        "name": "merchants",
        "description": "Onboarding shops (the operator, or a platform partner for its own), their "
        "details and their contract terms, versioned from a first day.",
    },
    {
        "name": "orders",
        "description": "The order feed: orders created or updated by their number, one or a "
        "thousand at a time, each with the customer's signed link to open a case.",
    },
    {
        "name": "disputes",
        "description": "The merchant's cases (payment disputes and buyer protection), their "
        "timelines, and the merchant's answers: a refund offer, acceptance, messages, evidence.",
    },
    {
        "name": "files",
        "description": "Documents: uploaded once and attached to a case action by their id, and "
        "those of a case, to list and download.",
    },
    {
        "name": "payment instructions",
        "description": "What the portal decided about orders' money, in a gapless sequence, for "
        "the provider's ledger (the operator's key).",
    },
    {
        "name": "fees",
        "description": "The merchant's issued monthly fee statements.",
    },
    {
        "name": "webhook endpoints",
        "description": "The merchant's own endpoints for signed case events: register, change, "
        "rotate the signing secret, send a test event.",
    },
    {
        "name": "events",
        "description": "Every event the webhooks carry, to catch up on those an endpoint missed "
        "or to poll instead of receiving them.",
    },
    {
        "name": "test mode",
        "description": "For a test merchant's orders only: play the customer and the clock, to "
        "see every webhook and payment instruction before going live.",
    },
]

INFO_EXTRA = {
    # The portal is run by a payment provider for its merchants: the terms of using its API
    # are the provider's, not an open-source license.
    "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
}
SERVERS = [
    {
        "url": "http://127.0.0.1:8000",
        "description": "A portal on this machine (`make run`); each provider's portal runs at "
        "its own address.",
    }
]


# --- Comparing two schemas ------------------------------------------------------------------------
# The committed snapshot (docs/openapi.json) against the served schema: what a reviewer needs to
# see whether a change keeps the v1 promise (docs/api-changelog.md).

_METHODS = ("get", "put", "post", "patch", "delete")


def _type_of(node: dict[str, Any]) -> str:
    """A schema's type as one comparable string ("string/date-time|null", "array<Money>")."""
    if "$ref" in node:
        return str(node["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return "|".join(sorted(_type_of(part) for part in node[key]))
    kind = node.get("type", "any")
    if kind == "array":
        return f"array<{_type_of(node.get('items', {}))}>"
    if "format" in node:
        return f"{kind}/{node['format']}"
    return str(kind)


def _enum_of(node: dict[str, Any]) -> set[Any] | None:
    if "enum" in node:
        return set(node["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        for part in node.get(key, []):
            found = _enum_of(part)
            if found is not None:
                return found
    if node.get("type") == "array":
        return _enum_of(node.get("items", {}))
    return None


def _enum_changes(where: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before, after = _enum_of(old), _enum_of(new)
    if before is None or after is None:
        return []
    dropped = [
        f"BREAKING: {where}: dropped enum value {v!r}" for v in sorted(before - after, key=str)
    ]
    added = [f"added: {where}: enum value {v!r}" for v in sorted(after - before, key=str)]
    return dropped + added


def _operations_of(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": details
        for path, methods in schema.get("paths", {}).items()
        for method, details in methods.items()
        if method in _METHODS
    }


def _body_type(details: dict[str, Any]) -> str | None:
    content = details.get("requestBody", {}).get("content", {})
    return "; ".join(
        f"{kind} {_type_of(c.get('schema', {}))}" for kind, c in sorted(content.items())
    )


def _operation_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = []
    if old.get("operationId") != new.get("operationId"):
        changes.append(
            f"BREAKING: {name}: operationId {old.get('operationId')!r} -> "
            f"{new.get('operationId')!r} (generated clients rename the method)"
        )
    params_old = {(p["in"], p["name"]): p for p in old.get("parameters", [])}
    params_new = {(p["in"], p["name"]): p for p in new.get("parameters", [])}
    for key in sorted(params_old.keys() - params_new.keys()):
        changes.append(f"BREAKING: {name}: dropped {key[0]} parameter {key[1]}")
    for key in sorted(params_new.keys() - params_old.keys()):
        required = params_new[key].get("required")
        changes.append(
            f"{'BREAKING' if required else 'added'}: {name}: "
            f"{'required' if required else 'optional'} {key[0]} parameter {key[1]}"
        )
    for key in sorted(params_old.keys() & params_new.keys()):
        before, after = params_old[key], params_new[key]
        where = f"{name}: {key[0]} parameter {key[1]}"
        if _type_of(before.get("schema", {})) != _type_of(after.get("schema", {})):
            changes.append(
                f"BREAKING: {where}: type {_type_of(before.get('schema', {}))} -> "
                f"{_type_of(after.get('schema', {}))}"
            )
        if bool(before.get("required")) != bool(after.get("required")):
            changes.append(
                f"{'BREAKING' if after.get('required') else 'added'}: {where}: "
                f"{'now required' if after.get('required') else 'now optional'}"
            )
        changes += _enum_changes(where, before.get("schema", {}), after.get("schema", {}))
    if _body_type(old) != _body_type(new):
        changes.append(f"BREAKING: {name}: request body {_body_type(old)} -> {_body_type(new)}")
    statuses_old, statuses_new = set(old.get("responses", {})), set(new.get("responses", {}))
    for status in sorted(statuses_old - statuses_new):
        changes.append(f"changed: {name}: no longer documents status {status}")
    for status in sorted(statuses_new - statuses_old):
        changes.append(f"added: {name}: documents status {status}")
    for status in sorted(statuses_old & statuses_new):
        before = {
            kind: _type_of(c.get("schema", {}))
            for kind, c in old["responses"][status].get("content", {}).items()
        }
        after = {
            kind: _type_of(c.get("schema", {}))
            for kind, c in new["responses"][status].get("content", {}).items()
        }
        if before != after:
            changes.append(f"BREAKING: {name}: status {status} answers {after} (was {before})")
    return changes


def _component_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    changes = _enum_changes(f"schema {name}", old, new)
    props_old, props_new = old.get("properties", {}), new.get("properties", {})
    required_old, required_new = set(old.get("required", [])), set(new.get("required", []))
    for field in sorted(props_old.keys() - props_new.keys()):
        changes.append(f"BREAKING: dropped field {field} of {name}")
    for field in sorted(props_new.keys() - props_old.keys()):
        needed = " (required: BREAKING for a request body)" if field in required_new else ""
        changes.append(f"added: field {field} of {name}{needed}")
    for field in sorted(props_old.keys() & props_new.keys()):
        before, after = props_old[field], props_new[field]
        if _type_of(before) != _type_of(after):
            changes.append(
                f"BREAKING: field {field} of {name} changed type {_type_of(before)} -> "
                f"{_type_of(after)}"
            )
        if (field in required_old) != (field in required_new):
            state = "now required" if field in required_new else "now optional"
            changes.append(f"changed: field {field} of {name} is {state}")
        changes += _enum_changes(f"field {field} of {name}", before, after)
    return changes


def _leaves(node: Any, pointer: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        found: dict[str, Any] = {}
        for key, value in node.items():
            found.update(
                _leaves(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
            )
        return found or {pointer: {}}
    if isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
        found = {}
        for index, value in enumerate(node):
            found.update(_leaves(value, f"{pointer}/{index}"))
        return found
    return {pointer: node}


def schema_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs from `old` to `new`, one line each, the contract's changes first
    (operations, parameters, bodies, responses, fields, types, enum values; `BREAKING` marks
    what an existing client may trip on), then the wording (descriptions, examples)."""
    changes: list[str] = []
    ops_old, ops_new = _operations_of(old), _operations_of(new)
    for name in sorted(ops_old.keys() - ops_new.keys()):
        changes.append(f"BREAKING: dropped operation {name} ({ops_old[name].get('operationId')})")
    for name in sorted(ops_new.keys() - ops_old.keys()):
        changes.append(f"added: operation {name} ({ops_new[name].get('operationId')})")
    for name in sorted(ops_old.keys() & ops_new.keys()):
        changes += _operation_changes(name, ops_old[name], ops_new[name])
    schemas_old = old.get("components", {}).get("schemas", {})
    schemas_new = new.get("components", {}).get("schemas", {})
    for name in sorted(schemas_old.keys() - schemas_new.keys()):
        changes.append(f"changed: dropped schema {name}")
    for name in sorted(schemas_new.keys() - schemas_old.keys()):
        changes.append(f"added: schema {name}")
    for name in sorted(schemas_old.keys() & schemas_new.keys()):
        changes += _component_changes(name, schemas_old[name], schemas_new[name])
    leaves_old, leaves_new = _leaves(old), _leaves(new)
    wording = sorted(
        pointer
        for pointer in leaves_old.keys() | leaves_new.keys()
        if leaves_old.get(pointer) != leaves_new.get(pointer)
    )
    if wording and not changes:
        changes += [f"changed: {pointer}" for pointer in wording[:40]]
        if len(wording) > 40:
            changes.append(f"... and {len(wording) - 40} more")
    elif wording:
        changes.append(f"and {len(wording)} changed values in all (descriptions, examples, ...)")
    return changes
