from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from disputes_portal.celery import app as celery_app


def _database_label() -> str:
    db = settings.DATABASES["default"]
    vendor = db["ENGINE"].rsplit(".", 1)[-1]
    where = f"{db.get('HOST') or 'local'}:{db.get('PORT') or ''}" if db.get("HOST") else db["NAME"]
    return f"{vendor} ({where})"


def pytest_report_header(config: pytest.Config) -> list[str]:
    redis = os.environ.get("REDIS_URL") or "not reachable (Redis tests skipped)"
    return [f"database: {_database_label()}", f"redis: {redis}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks, SKIP LOCKED, one-statement inserts); set DATABASE_URL"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    # Factories hash a password per user; PBKDF2 would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_run_inline() -> None:
    # Tasks queued after commit run in the test's own process; broker tests opt out.
    celery_app.conf.task_always_eager = True


@pytest.fixture(autouse=True)
def _private_media(tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private-media")},
        },
    }


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def support_groups(django_db_blocker) -> None:  # type: ignore[no-untyped-def]
    """The staff groups made by a migration; a transactional test's flush removes them."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group

    migration = importlib.import_module("disputes.migrations.0006_support_groups")
    if Group.objects.filter(name__in=migration.GROUPS).count() < len(migration.GROUPS):
        migration.create_groups(apps, None)
        later = importlib.import_module("disputes.migrations.0011_reopen_and_protection_end")
        later.give_leads_reopen(apps, None)
        personal = importlib.import_module("disputes.migrations.0016_personal_data")
        personal.give_leads_the_personal_data_permissions(apps, None)


@pytest.fixture(autouse=True)
def _migration_data_after_a_flush(request):  # type: ignore[no-untyped-def]
    """A transactional test's flush removes what migrations wrote (the default fee schedule,
    the staff groups); the tests that run after one get them back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        return
    import importlib

    from django.apps import apps

    request.getfixturevalue("transactional_db")
    schedule = importlib.import_module("billing.migrations.0003_default_fee_schedule")
    schedule.create_default_schedule(apps, None)
