"""Per-key rate limits hold under concurrent clients, on the embedded cache and on Redis."""

import os
import threading

import pytest
from django.db import connection

from predictor.api import apikeys
from tests.support.keys import create_key

CLIENTS = 8
REQUESTS = 100
LIMIT = 30


@pytest.fixture(params=["embedded", "redis"])
def cache_backend(request, settings, tmp_path):
    if request.param == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("REDIS_URL is not set")
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    else:
        location = str(tmp_path / "cache")
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": location}
        }
    return request.param


def test_a_key_limit_holds_within_ten_percent_under_eight_concurrent_clients(transactional_db, cache_backend):
    _, key = create_key("busy client", rate_limit=LIMIT)
    info = apikeys.authenticate(key)
    allowed = []
    start = threading.Barrier(CLIENTS)

    def client() -> None:
        start.wait()
        try:
            for _ in range(REQUESTS // CLIENTS + 1):
                allowed.append(not apikeys.over_limit(info))
        finally:
            connection.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert abs(sum(allowed) - LIMIT) <= LIMIT * 0.1, f"{sum(allowed)} of {len(allowed)} let through ({cache_backend})"
