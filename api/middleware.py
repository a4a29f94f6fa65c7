"""API answers that Django or django-ninja make before an operation runs (an unknown path, a
method the path does not have, a body Django cannot read, a server error) in the API's JSON
error shape instead of HTML or plain text."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext

from .v1.errors import HTTP_CODES, error_body

API_PREFIX = "/api/"


class JsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code in _REWORDED
            and request.path.startswith(API_PREFIX)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return _as_json(response)
        return response


_REWORDED = (400, 404, 405, 413, 500)


def _as_json(response: HttpResponse) -> HttpResponse:
    if response.status_code == 400:
        # e.g. multipart without a boundary: Django refuses it before the operation runs.
        body = error_body(
            HTTP_CODES[400],
            gettext("The request body could not be read: check its Content-Type and format."),
        )
    elif response.status_code == 413:
        body = error_body(HTTP_CODES[413], gettext("The request body is too large."))
    elif response.status_code == 500:
        body = error_body(
            "server_error",
            gettext("Something went wrong on our side; it was logged. Please try again later."),
        )
    elif response.status_code == 405:
        allowed = response.get("Allow", "")
        body = error_body(
            HTTP_CODES[405],
            gettext("This path does not take that method. It takes: %(methods)s.")
            % {"methods": allowed},
        )
    else:
        body = error_body(HTTP_CODES[404], gettext("No API operation has this path."))
    answer = HttpResponse(
        json.dumps(body), status=response.status_code, content_type="application/json"
    )
    if "Allow" in response:
        answer["Allow"] = response["Allow"]
    return answer
