"""Production settings: deploy checks, secrets, security headers, request ids, health."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from disputes_portal.celery import app as celery_app
from disputes_portal.logging import JsonFormatter, RequestIdFilter, request_id_var

ROOT = Path(__file__).resolve().parents[1]


# Test-only switches (the browser tests allow async-unsafe calls) never reach "production".
NOT_INHERITED = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")


def clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = clean_environment()
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "disputes.example.com",
    "BEHIND_TLS_PROXY": "true",
    "SUPPORT_DESK_REQUIRE_OTP": "true",
}


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_staff_sign_in_with_a_password_alone():
    result = run_manage("check", "--deploy", **(PRODUCTION | {"SUPPORT_DESK_REQUIRE_OTP": "false"}))
    assert "disputes_portal.W001" in result.stderr + result.stdout


def test_check_deploy_fails_on_the_development_key():
    result = run_manage("check", "--deploy", DEBUG="false")
    assert result.returncode != 0
    assert "disputes_portal.E001" in result.stderr


def test_the_web_server_refuses_to_start_without_a_secret_key():
    clean = clean_environment()
    result = subprocess.run(
        [sys.executable, "-c", "import disputes_portal.wsgi"],
        cwd=ROOT,
        env=clean | {"DEBUG": "false"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "set SECRET_KEY in the environment" in result.stderr


@pytest.mark.django_db
def test_security_headers_on_every_page(client):
    response = client.get("/open/")
    csp = response["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_hsts_is_sent_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_no_template_of_ours_has_an_inline_script():
    offenders = []
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son[a-z]+=", text):
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    generated = client.get("/health/")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/", HTTP_X_REQUEST_ID="lb-12345678")["X-Request-ID"] == "lb-12345678"
    hostile = client.get("/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", hostile)


def test_json_logs_carry_the_request_id():
    record = logging.LogRecord("disputes", logging.WARNING, __file__, 1, "Case %s", ("DP-1",), None)
    token = request_id_var.set("req-abcdef12")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-abcdef12"
    assert entry["message"] == "Case DP-1"
    assert entry["level"] == "WARNING"


@pytest.fixture
def broker(request):
    """Point Celery at the given broker URL for one test."""
    previous = celery_app.conf.broker_url

    def use(url: str) -> None:
        celery_app.conf.broker_url = url
        celery_app._pool = None

    yield use
    celery_app.conf.broker_url = previous
    celery_app._pool = None


@pytest.mark.django_db
def test_health_checks_the_database_and_the_broker(client, broker):
    broker("memory://")
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}

    with socket.socket() as sock:  # a port with nothing listening: the broker is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    broker(f"redis://127.0.0.1:{port}/0")
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["broker"] == "unavailable"


@pytest.mark.django_db
def test_the_api_docs_load_no_remote_and_no_inline_script(client):
    html = client.get("/api/v1/docs").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attributes, _body in scripts:
        if "src=" in attributes:
            assert re.search(r'src="/static/', attributes), attributes  # our own server only
        else:
            assert 'type="application/json"' in attributes  # data, never executed
    assert "cdn." not in html


@pytest.mark.django_db
def test_a_database_outage_gets_a_clear_temporary_page(client, monkeypatch):
    from django.db import OperationalError

    from disputes.views import customer

    def database_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(customer.FindOrderView, "get", database_down)
    response = client.get("/open/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "Temporarily unavailable" in response.content.decode()
    assert response["X-Request-ID"] in response.content.decode()
