from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from api.keys import api_key_create
from tests.factories import MerchantFactory


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):  # type: ignore[no-untyped-def]
    cache.clear()
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # tests deliver to 127.0.0.1


@pytest.fixture
def merchant(db):  # type: ignore[no-untyped-def]
    return MerchantFactory()


@pytest.fixture
def api_key(merchant) -> str:  # type: ignore[no-untyped-def]
    return api_key_create(name="test", merchant=merchant, now=timezone.now()).key


@pytest.fixture
def api(api_key) -> Client:  # type: ignore[no-untyped-def]
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
