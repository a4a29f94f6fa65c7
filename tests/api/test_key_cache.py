"""A worker keeps the API keys it has found for API_KEY_CACHE_SECONDS: fewer queries per request,
and a revoked key still stops working within that time; the rate limit counts in one window."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey
from disputes_portal.ratelimit import hit

LIST = "/api/v1/disputes"


def _key_queries(client: Client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return [q["sql"] for q in queries.captured_queries if '"api_apikey"' in q["sql"]]


def test_a_known_key_is_found_without_a_query_within_the_cache_time(api):
    assert api.get(LIST).status_code == 200  # looked up, and its use noted
    assert _key_queries(api) == []


def test_a_key_revoked_on_this_worker_stops_at_once(api, merchant):
    assert api.get(LIST).status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(merchant=merchant), now=timezone.now())
    assert api.get(LIST).status_code == 401


@pytest.mark.parametrize("change", ["revoked", "deleted"])
def test_a_key_revoked_elsewhere_stops_within_the_cache_time(api, merchant, settings, change):
    settings.API_KEY_CACHE_SECONDS = 5
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert api.get(LIST).status_code == 200
        # Another worker, or the admin, revokes it: this worker's copy does not know yet.
        keys = ApiKey.objects.filter(merchant=merchant)
        if change == "revoked":
            keys.update(revoked_at=timezone.now())
        else:
            keys.delete()
        clock.shift(timedelta(seconds=4))
        assert api.get(LIST).status_code == 200
        clock.shift(timedelta(seconds=1))
        assert api.get(LIST).status_code == 401
        assert api.get(LIST).status_code == 401


def test_a_scope_taken_away_in_the_admin_applies_within_the_cache_time(api, merchant, settings):
    settings.API_KEY_CACHE_SECONDS = 5
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert api.get(LIST).status_code == 200
        ApiKey.objects.filter(merchant=merchant).update(scopes=["disputes:write"])
        clock.shift(timedelta(seconds=6))
        response = api.get(LIST)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"


def test_last_use_is_written_at_most_once_a_minute_with_the_key_cached(api, merchant):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        first = timezone.now()
        api.get(LIST)
        clock.shift(timedelta(seconds=30))
        api.get(LIST)
        assert ApiKey.objects.get(merchant=merchant).last_used_at == first
        clock.shift(timedelta(seconds=31))
        api.get(LIST)
        assert ApiKey.objects.get(merchant=merchant).last_used_at == timezone.now()


def test_two_keys_of_one_merchant_are_kept_apart(api, merchant):
    other = api_key_create(name="other", merchant=merchant, now=timezone.now())
    other_client = Client(HTTP_AUTHORIZATION=f"Bearer {other.key}")
    assert api.get(LIST).status_code == 200
    assert other_client.get(LIST).status_code == 200
    api_key_revoke(api_key=other.api_key, now=timezone.now())
    assert other_client.get(LIST).status_code == 401
    assert api.get(LIST).status_code == 200


def test_the_rate_limit_counts_each_attempt_once_and_its_window_expires():
    with time_machine.travel("2026-12-02 10:00:05 +0000", tick=False) as clock:
        verdicts = [hit("test-window", limit=3, window=60) for _ in range(4)]
        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert verdicts[-1].retry_after == 55
        bucket = "ratelimit:test-window:" + str(int(timezone.now().timestamp()) // 60 * 60)
        assert cache.get(bucket) == 4  # the counter the cache sees is the one counted
        backend = caches["default"]
        if isinstance(backend, RedisCache):  # Redis: the counter expires after its window
            client = backend._cache.get_client(bucket)
            assert 0 < client.ttl(backend.make_and_validate_key(bucket)) <= 61
        clock.shift(timedelta(seconds=60))
        assert hit("test-window", limit=3, window=60).allowed
