"""What the operations share: their documented refusals and path parameters.

Each operation declares its success responses in `response=` and, with `refusals(...)` in
`openapi_extra=`, the error statuses particular to it, each with the codes it can answer. The
refusals every operation can meet (401, 403, 422, 429) and those that follow from how it is
called (the merchant it acts for, a cursor, an `Idempotency-Key`) are added by
`DisputeApi.get_openapi_schema` (api/v1/__init__.py), so that none is forgotten.
"""

# No `from __future__ import annotations`: django-ninja reads the annotations at runtime.

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from ninja import Path, Schema

from ..schemas import ErrorOut
from .errors import ERROR_STATUSES

# Kept for operations that still declare the whole set (prefer `refusals`): every status the
# API answers with an error, whether or not the operation can meet it.
ERRORS: dict[frozenset[int], type[Schema]] = {
    frozenset({400, 401, 403, 404, 409, 413, 415, 422, 429}): ErrorOut
}

# Every operation can meet these, whatever it is.
ALWAYS = (401, 403, 422, 429)

# What each error status means, the first line of its description in the schema.
ERROR_TITLES: dict[int, str] = {
    400: "The request cannot be handled as sent.",
    401: "No valid API key.",
    403: "The key may not do this.",
    404: "Not found for this key.",
    409: "It conflicts with the state of things.",
    410: "It was here and is gone for good.",
    413: "The request body is too large.",
    415: "The upload is not an accepted kind of document.",
    422: "The input is not valid.",
    429: "The key's rate limit is used up.",
}
assert set(ERROR_TITLES) == ERROR_STATUSES  # noqa: S101 - one title per status the API answers

# Refusals shared by several operations, to name in `refusals`.
CASE_NOT_FOUND = "`not_found`: no case has this id among the merchant's cases."
ORDER_NOT_FOUND = "`not_found`: the merchant has no order with this number."
MERCHANT_NOT_FOUND = "`merchant_not_found`: no merchant this key acts for has this slug."
FILE_IDS_UNKNOWN = (
    "`invalid`, field `files`: a file id that is not this merchant's upload, has been used "
    "already, or is older than 24 hours."
)
CASE_CONFLICTS = (
    "`transition_not_allowed`: the case's state does not take this action now "
    "(`allowed_actions` lists what it takes).",
    "`deadline_passed`: the deadline for this action has passed.",
    "`case_already_closed`: the case is closed.",
)


def refusals(notes: Mapping[int, Sequence[str]] | None = None, **extra: Any) -> dict[str, Any]:
    """An operation's `openapi_extra`: its own error statuses, each with the codes it can
    answer (`"`code`: when"`), besides those every operation meets. `extra` is merged in
    as `openapi_extra` would be."""
    notes = dict(notes or {})
    unknown = set(notes) - ERROR_STATUSES
    if unknown:
        raise ValueError(f"not an error status the API answers: {sorted(unknown)}")
    return {"x-refusals": {status: list(notes[status]) for status in sorted(notes)}, **extra}


# A case id as shown to people ("DP-7K2M-Q9XD-4HTA"); lower case and spaces are forgiven.
DisputeId = Annotated[
    str,
    Path(
        max_length=40,
        pattern=r"^[A-Za-z0-9 -]+$",
        description="The case's id, as `id` in the case.",
        example="DP-7K2M-Q9XD-4HTA",
    ),
]
StatementId = Annotated[
    int,
    Path(
        ge=1,
        le=2**63 - 1,
        description="The statement's id, as `id` in the statement list.",
        example=412,
    ),
]
