import hashlib
import logging

import pytest

from predictor.api import apikeys
from predictor.models import ApiKey
from tests.support.keys import create_key
from tests.support.processes import free_port

PREDICT = "/api/v1/predict"


def predict(client, rows, **headers):
    return client.post(PREDICT, {"instances": rows}, content_type="application/json", headers=headers)


def test_keys_are_not_needed_by_default(client, served, rows):
    assert predict(client, rows).status_code == 200


def test_a_missing_key_is_401(client, served, rows, keys_required):
    response = predict(client, rows)
    assert response.status_code == 401
    assert response.json() == {"error": "an API key is required: send it as 'Authorization: Bearer <key>'"}
    assert response["X-Model-Version"] == "1"


@pytest.mark.parametrize("given", ["nonsense", "abcd1234.wrong-secret", "x" * 300])
def test_a_wrong_key_is_401(client, served, rows, keys_required, given):
    create_key("mobile app")
    response = predict(client, rows, Authorization=f"Bearer {given}")
    assert response.status_code == 401
    assert response.json() == {"error": "the API key is not valid"}


def test_a_valid_key_is_accepted_in_either_header(client, served, rows, keys_required):
    _, key = create_key("mobile app")
    assert predict(client, rows, Authorization=f"Bearer {key}").status_code == 200
    assert predict(client, rows, **{"X-API-Key": key}).status_code == 200
    assert client.get("/api/v1/model", headers={"X-API-Key": key}).status_code == 200


def test_a_deactivated_key_stops_working(client, served, rows, keys_required):
    row, key = create_key("mobile app")
    row.active = False
    row.save()
    apikeys.forget()
    assert predict(client, rows, Authorization=f"Bearer {key}").status_code == 401


def test_keys_are_stored_hashed(served, keys_required):
    row, key = create_key("mobile app")
    stored = ApiKey.objects.values_list("prefix", "hashed_key").get(pk=row.pk)
    assert stored == (key.split(".")[0], hashlib.sha256(key.encode()).hexdigest())
    assert key.split(".")[1] not in str(stored)


def test_a_key_over_its_rate_limit_is_429(client, served, rows, keys_required):
    from django.core.cache import cache

    cache.clear()
    _, key = create_key("batch job", rate_limit=3)
    statuses = [predict(client, rows, Authorization=f"Bearer {key}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = predict(client, rows, Authorization=f"Bearer {key}")
    assert response.json() == {"error": "rate limit of 3 requests per minute passed for this key"}
    assert response["Retry-After"] == "60"


def test_a_key_over_its_row_limit_is_429_however_few_requests_it_sends(client, served, rows, keys_required):
    from django.core.cache import cache

    cache.clear()
    _, key = create_key("batch job", row_limit=10)
    statuses = [predict(client, rows, Authorization=f"Bearer {key}").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = predict(client, rows, Authorization=f"Bearer {key}")
    assert response.json() == {"error": "row limit of 10 rows per minute passed for this key: send fewer rows"}
    assert response["Retry-After"] == "60"
    _, large = create_key("one large request", row_limit=10)
    assert predict(client, rows * 4, Authorization=f"Bearer {large}").status_code == 429


def test_rows_are_counted_before_they_are_checked(client, served, rows, keys_required):
    from django.core.cache import cache

    cache.clear()
    _, key = create_key("large batches", row_limit=10)
    # The rows carry a column the model does not know: checking them would say 400.
    wrong = [{**row, "unknown": 1} for row in rows * 4]
    assert predict(client, wrong, Authorization=f"Bearer {key}").status_code == 429
    assert predict(client, wrong[:3], Authorization=f"Bearer {key}").status_code == 429


def test_the_row_limit_setting_applies_to_keys_without_their_own(client, served, rows, keys_required, settings):
    from django.core.cache import cache

    cache.clear()
    settings.API_ROW_RATE_LIMIT = 5
    _, key = create_key("default")
    _, own = create_key("its own", row_limit=0)
    assert [predict(client, rows, Authorization=f"Bearer {key}").status_code for _ in range(2)] == [200, 429]
    assert [predict(client, rows, Authorization=f"Bearer {own}").status_code for _ in range(3)] == [200] * 3


def test_staff_create_a_key_in_the_admin_and_see_it_once(client, served, staff_user, keys_required, rows, plain_static):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    response = client.post("/admin/predictor/apikey/add/", {"name": "partner", "active": "on"}, follow=True)
    assert response.status_code == 200
    shown = next(str(m) for m in response.context["messages"])
    key = shown.split(" is ")[1].split(" ")[0]
    client.logout()
    assert ApiKey.objects.get(name="partner").hashed_key == hashlib.sha256(key.encode()).hexdigest()
    assert predict(client, rows, Authorization=f"Bearer {key}").status_code == 200


@pytest.fixture
def redis_down(settings):
    """The cache on Redis, at a port nothing listens on: Redis down, as the web process sees it."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    apikeys.forget()
    yield
    apikeys.forget()


def test_with_redis_down_a_key_is_still_served_and_limited_in_this_process(
    client, served, rows, keys_required, redis_down, caplog
):
    _, key = create_key("batch job", rate_limit=3)

    with caplog.at_level(logging.WARNING, logger="predictor.api.apikeys"):
        statuses = [predict(client, rows, Authorization=f"Bearer {key}").status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    warnings = [r.getMessage() for r in caplog.records if r.name == "predictor.api.apikeys"]
    assert len(warnings) == 1, warnings
    assert "rate limits are counted in this process" in warnings[0]
    assert "Redis" in warnings[0]


def test_with_redis_down_rows_are_limited_in_this_process(client, served, rows, keys_required, redis_down):
    _, key = create_key("batch job", row_limit=7)
    statuses = [predict(client, rows, Authorization=f"Bearer {key}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_readyz_says_when_rate_limits_are_counted_per_process(client, served, keys_required, redis_down):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["rate_limits"] == "per-process"
    assert "Redis" in body["rate_limits_error"]


def test_readyz_says_where_rate_limits_are_counted(client, served, settings):
    assert client.get("/readyz").json()["rate_limits"] == "off"
    settings.API_KEYS_REQUIRED = True
    expected = "redis" if "RedisCache" in settings.CACHES["default"]["BACKEND"] else "database"
    assert client.get("/readyz").json()["rate_limits"] == expected
