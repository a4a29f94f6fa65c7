"""/fees: the merchant's issued monthly fee statements."""

# No `from __future__ import annotations`: django-ninja reads the operations' annotations.

from typing import Any

from django.http import HttpRequest
from ninja import Router

from billing.selectors import statement_for_merchant, statements_for_merchant

from ..schemas import StatementDetailOut, StatementListOut, statement_detail_out, statement_out
from ..scopes import Scope
from .auth import request_merchant, requires
from .common import StatementId, refusals
from .errors import StatementNotFound

router = Router(tags=["fees"])


@router.get(
    "/statements",
    response={200: StatementListOut},
    url_name="fee-statements",
    auth=requires(Scope.FEES_READ),
    operation_id="list_fee_statements",
    summary="List fee statements",
)
def list_statements(request: HttpRequest) -> Any:
    """The merchant's issued monthly fee statements, newest first, one per month and currency.
    Drafts are not shown; an issued statement never changes."""
    return {"data": [statement_out(s) for s in statements_for_merchant(request_merchant(request))]}


@router.get(
    "/statements/{statement_id}",
    response={200: StatementDetailOut},
    url_name="fee-statement",
    auth=requires(Scope.FEES_READ),
    operation_id="get_fee_statement",
    summary="Get a fee statement",
    openapi_extra=refusals(
        {404: ["`not_found`: the merchant has no issued statement with this id."]}
    ),
)
def get_statement(request: HttpRequest, statement_id: StatementId) -> Any:
    """One issued statement with its lines: a fee per escalated case, waivers, surcharges and
    corrections of earlier months."""
    statement = statement_for_merchant(request_merchant(request), statement_id)
    if statement is None:
        raise StatementNotFound(field="statement_id")
    return statement_detail_out(statement)
