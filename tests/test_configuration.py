"""Every variable in the README's configuration table is read, and changes what the table says.

The settings module is executed afresh with only the variable under test set, so each check
sees exactly what a deployment with that one variable would get.
"""

from __future__ import annotations

import os
import re
import runpy
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

README = Path(settings.BASE_DIR) / "README.md"
SETTINGS_FILE = Path(settings.BASE_DIR) / "disputes_portal" / "settings.py"


def documented_variables() -> list[str]:
    """The `VARIABLE` names in the first column of the README's "Configure it" table."""
    text = README.read_text()
    section = text[text.index("## Configure it") :]
    section = section[: section.index("\n## ", 3)]
    names: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names += re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell)
    return names


def variables_read_by_settings() -> set[str]:
    return set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS_FILE.read_text()))


def load_settings(**environment: str) -> dict[str, Any]:
    """The settings module's values with only `environment` set among the documented ones."""
    saved = dict(os.environ)
    try:
        for name in variables_read_by_settings():
            os.environ.pop(name, None)
        os.environ.update(environment)
        return runpy.run_path(str(SETTINGS_FILE))
    finally:
        os.environ.clear()
        os.environ.update(saved)


Check = Callable[[dict[str, Any]], bool]

# What each variable changes, as the README says: (a value that is not the default, or the
# variables to set together with it, and the check).
EFFECTS: dict[str, tuple[str | dict[str, str], Check]] = {
    "DEBUG": ("true", lambda s: s["DEBUG"] is True),
    "SECRET_KEY": ("s3cret-" * 8, lambda s: s["SECRET_KEY"] == "s3cret-" * 8),
    "ALLOWED_HOSTS": (
        "a.example,b.example",
        lambda s: s["ALLOWED_HOSTS"] == ["a.example", "b.example"],
    ),
    "CSRF_TRUSTED_ORIGINS": (
        "https://a.example",
        lambda s: s["CSRF_TRUSTED_ORIGINS"] == ["https://a.example"],
    ),
    "SITE_URL": (
        "https://disputes.example/",
        lambda s: s["SITE_URL"] == "https://disputes.example",
    ),
    "DATABASE_URL": (
        "postgres://u:p@db.example:5433/portal",
        lambda s: (
            s["DATABASES"]["default"]["HOST"] == "db.example"
            and s["DATABASES"]["default"]["PORT"] == 5433
        ),
    ),
    # Persistent connections are a PostgreSQL setting (SQLite opens a file).
    "CONN_MAX_AGE": (
        {"CONN_MAX_AGE": "7", "DATABASE_URL": "postgres://u@db.example/portal"},
        lambda s: s["DATABASES"]["default"].get("CONN_MAX_AGE") == 7,
    ),
    "CELERY_BROKER_URL": (
        "redis://q.example:6379/3",
        lambda s: s["CELERY_BROKER_URL"].endswith("/3"),
    ),
    "REDIS_URL": (
        "redis://cache.example:6379/1",
        lambda s: s["CACHES"]["default"].get("LOCATION") == "redis://cache.example:6379/1",
    ),
    "EMAIL_BACKEND": (
        "django.core.mail.backends.smtp.EmailBackend",
        lambda s: s["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend",
    ),
    "EMAIL_HOST": ("smtp.example", lambda s: s["EMAIL_HOST"] == "smtp.example"),
    "EMAIL_PORT": ("587", lambda s: s["EMAIL_PORT"] == 587),
    "EMAIL_HOST_USER": ("mailer", lambda s: s["EMAIL_HOST_USER"] == "mailer"),
    "EMAIL_HOST_PASSWORD": ("pw", lambda s: s["EMAIL_HOST_PASSWORD"] == "pw"),
    "EMAIL_USE_TLS": ("true", lambda s: s["EMAIL_USE_TLS"] is True),
    "EMAIL_TIMEOUT": ("5", lambda s: s["EMAIL_TIMEOUT"] == 5),
    "EMAIL_FILE_PATH": ("/tmp/mails", lambda s: str(s["EMAIL_FILE_PATH"]) == "/tmp/mails"),  # noqa: S108
    "DEFAULT_FROM_EMAIL": (
        "Disputes <d@x.example>",
        lambda s: s["DEFAULT_FROM_EMAIL"] == "Disputes <d@x.example>",
    ),
    "SUPPORT_EMAIL": ("help@x.example", lambda s: s["SUPPORT_EMAIL"] == "help@x.example"),
    "PRIVATE_MEDIA_ROOT": (
        "/srv/media",
        lambda s: str(s["STORAGES"]["default"]["OPTIONS"]["location"]) == "/srv/media",
    ),
    "STATIC_ROOT": ("/srv/static", lambda s: str(s["STATIC_ROOT"]) == "/srv/static"),
    "DEADLINE_SWEEP_SECONDS": (
        "30",
        lambda s: (
            s["CELERY_BEAT_SCHEDULE"]["escalate-overdue-merchant-windows"]["schedule"]
            == timedelta(seconds=30)
        ),
    ),
    "SLOW_JOB_SECONDS": (
        "900",
        lambda s: (
            s["CELERY_BEAT_SCHEDULE"]["send-protection-checkins"]["schedule"]
            == timedelta(seconds=900)
        ),
    ),
    "SWEEP_BATCH_SIZE": ("50", lambda s: s["SWEEP_BATCH_SIZE"] == 50),
    "RETENTION_DOCUMENTS_MONTHS": (
        "24",
        lambda s: s["RETENTION_POLICY"] == {"documents": {"months": 24}},
    ),
    "RETENTION_PERSONAL_TEXT_MONTHS": (
        "36",
        lambda s: s["RETENTION_POLICY"] == {"personal_text": {"months": 36}},
    ),
    "RETENTION_ORDERS_WITHOUT_CASE_MONTHS": (
        "6",
        lambda s: s["RETENTION_POLICY"] == {"orders_without_case": {"months": 6}},
    ),
    "RETENTION_FEE_RECORDS_MONTHS": (
        "120",
        lambda s: s["RETENTION_POLICY"] == {"fee_records": {"months": 120}},
    ),
    "RETENTION_BATCH_SIZE": ("100", lambda s: s["RETENTION_BATCH_SIZE"] == 100),
    "PSEUDONYM_KEY": ("k" * 40, lambda s: s["PSEUDONYM_KEY"] == "k" * 40),
    "CUSTOMER_LINK_MAX_AGE_DAYS": (
        "30",
        lambda s: s["CUSTOMER_LINK_MAX_AGE"] == timedelta(days=30),
    ),
    "PUBLIC_FORM_RATE_LIMIT": ("3", lambda s: s["PUBLIC_FORM_RATE_LIMIT"] == 3),
    "PUBLIC_FORM_RATE_WINDOW": ("60", lambda s: s["PUBLIC_FORM_RATE_WINDOW"] == 60),
    "API_RATE_LIMIT": ("10", lambda s: s["API_RATE_LIMIT"] == 10),
    "API_RATE_WINDOW": ("10", lambda s: s["API_RATE_WINDOW"] == 10),
    "API_KEY_CACHE_SECONDS": ("2", lambda s: s["API_KEY_CACHE_SECONDS"] == 2),
    "LOGIN_FAILURE_LIMIT": ("2", lambda s: s["LOGIN_FAILURE_LIMIT"] == 2),
    "LOGIN_FAILURE_WINDOW": ("60", lambda s: s["LOGIN_FAILURE_WINDOW"] == 60),
    "LOGIN_FAILURE_ADDRESS_LIMIT": ("7", lambda s: s["LOGIN_FAILURE_ADDRESS_LIMIT"] == 7),
    "SUPPORT_LOGIN_FAILURE_LIMIT": ("3", lambda s: s["AXES_FAILURE_LIMIT"] == 3),
    "SUPPORT_LOGIN_LOCKOUT_SECONDS": (
        "60",
        lambda s: s["AXES_COOLOFF_TIME"].total_seconds() == 60,
    ),
    "SUPPORT_DESK_REQUIRE_OTP": ("true", lambda s: s["SUPPORT_DESK_REQUIRE_OTP"] is True),
    "WEBHOOK_ALLOW_PRIVATE_URLS": ("true", lambda s: s["WEBHOOK_ALLOW_PRIVATE_URLS"] is True),
    "SESSION_COOKIE_AGE": ("600", lambda s: s["SESSION_COOKIE_AGE"] == 600),
    "TRUSTED_PROXY_COUNT": ("1", lambda s: s["TRUSTED_PROXY_COUNT"] == 1),
    "LOG_LEVEL": ("WARNING", lambda s: s["LOGGING"]["root"]["level"] == "WARNING"),
    "LOG_FORMAT": ("json", lambda s: s["LOGGING"]["handlers"]["console"]["formatter"] == "json"),
    "HTTPS": ("true", lambda s: s["SESSION_COOKIE_SECURE"] and s["SECURE_SSL_REDIRECT"]),
    "SECURE_SSL_REDIRECT": ("true", lambda s: s["SECURE_SSL_REDIRECT"] is True),
    "SECURE_HSTS_SECONDS": ("60", lambda s: s["SECURE_HSTS_SECONDS"] == 60),
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": (
        "true",
        lambda s: s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True,
    ),
    "SECURE_HSTS_PRELOAD": ("true", lambda s: s["SECURE_HSTS_PRELOAD"] is True),
    "SUPPORT_TEAM_NAME": ("Disputes team", lambda s: s["SUPPORT_TEAM_NAME"] == "Disputes team"),
    "SECRET_KEY_FALLBACKS": (
        "old-a,old-b",
        lambda s: s["SECRET_KEY_FALLBACKS"] == ["old-a", "old-b"],
    ),
    "BEHIND_TLS_PROXY": (
        "true",
        lambda s: s.get("SECURE_PROXY_SSL_HEADER") == ("HTTP_X_FORWARDED_PROTO", "https"),
    ),
}


def test_the_table_documents_exactly_the_variables_the_settings_read():
    documented = documented_variables()
    assert len(documented) == len(set(documented)), "a variable is listed twice"
    assert set(documented) == variables_read_by_settings()


def test_every_documented_variable_has_its_effect_checked():
    assert set(documented_variables()) == set(EFFECTS)


@pytest.mark.parametrize("name", sorted(EFFECTS))
def test_each_variable_changes_what_the_readme_says(name):
    value, effect = EFFECTS[name]
    environment = value if isinstance(value, dict) else {name: value}
    without = {key: setting for key, setting in environment.items() if key != name}
    assert not effect(load_settings(**without)), f"{name}: the check holds without the variable"
    assert effect(load_settings(**environment)), f"{name}={environment[name]!r} did not take effect"
