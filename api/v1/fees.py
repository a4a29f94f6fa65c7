"""/fees: the merchant's issued monthly fee statements."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from typing import Any

from django.http import HttpRequest
from ninja import Router

from billing.selectors import statement_for_merchant, statements_for_merchant

from ..schemas import StatementDetailOut, StatementListOut, statement_detail_out, statement_out
from ..scopes import Scope
from .auth import request_merchant, requires
from .common import ERRORS, StatementId
from .errors import StatementNotFound

router = Router(tags=["fees"])


@router.get(
    "/statements",
    response={200: StatementListOut, **ERRORS},
    url_name="fee-statements",
    auth=requires(Scope.FEES_READ),
)
def list_statements(request: HttpRequest) -> Any:
    """The merchant's issued monthly fee statements, newest first."""
    return {"data": [statement_out(s) for s in statements_for_merchant(request_merchant(request))]}


@router.get(
    "/statements/{statement_id}",
    response={200: StatementDetailOut, **ERRORS},
    url_name="fee-statement",
    auth=requires(Scope.FEES_READ),
)
def get_statement(request: HttpRequest, statement_id: StatementId) -> Any:
    """One issued statement with its lines."""
    statement = statement_for_merchant(request_merchant(request), statement_id)
    if statement is None:
        raise StatementNotFound(field="statement_id")
    return statement_detail_out(statement)
