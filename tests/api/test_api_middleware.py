"""API requests go straight past the middleware only pages need; pages keep all of it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation


def test_an_api_answer_has_no_session_and_keeps_its_length(api):
    with translation.override(None):  # the request's language does not outlive the test
        response = api.get("/api/v1/disputes", HTTP_ACCEPT_LANGUAGE="fi")
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")
    assert int(response["Content-Length"]) == len(response.content)
    # What every answer keeps: the request id, the security headers, the reader's language.
    assert response["X-Request-ID"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Language"] == "fi"


def test_an_api_error_is_in_the_readers_language(client):
    with translation.override(None):
        response = client.get("/api/v1/disputes", HTTP_ACCEPT_LANGUAGE="fi")
    assert response.status_code == 401
    assert response["Content-Language"] == "fi"


@pytest.mark.django_db
def test_pages_keep_sessions_csrf_and_frame_options():
    client = Client(enforce_csrf_checks=True)
    page = client.get("/")
    assert page["X-Frame-Options"] == "DENY"
    assert client.post("/open/", {"order_number": "x"}).status_code == 403  # no CSRF token
    assert client.get("/open").status_code == 301  # the trailing slash added
