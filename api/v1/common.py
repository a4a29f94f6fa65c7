"""What the operations share: the documented error responses and path parameters."""

# No `from __future__ import annotations`: django-ninja reads the annotations at runtime.

from typing import Annotated

from ninja import Path, Schema

from ..schemas import ErrorOut
from .errors import ERROR_STATUSES

ERRORS: dict[frozenset[int], type[Schema]] = {ERROR_STATUSES: ErrorOut}
# A case id as shown to people ("DP-7K2M-Q9XD-4HTA"); lower case and spaces are forgiven.
DisputeId = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9 -]+$")]
StatementId = Annotated[int, Path(ge=1, le=2**63 - 1)]
