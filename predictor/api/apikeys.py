"""Optional API keys and per-key rate limits for the prediction API.

A key is `<prefix>.<secret>`; the row is found by its prefix and checked against the SHA-256 of
the whole key. Lookups are remembered in the process for a few seconds, so a request costs no
database query; counting for the rate limit goes to the shared cache (Redis in production), a
fixed one-minute window per key, counted atomically: an INCR on Redis, a conditional UPDATE in
the database otherwise (the embedded file cache's read-then-write lets concurrent requests through).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from django.db.models import F

from predictor.models import ApiKey, RateWindow

# How long a process trusts what it read about a key: a deactivated key stops working within it.
_REMEMBER_SECONDS = 10.0
_known: dict[str, tuple[float, KeyInfo | None]] = {}


@dataclass(frozen=True)
class KeyInfo:
    pk: int
    prefix: str
    hashed_key: str
    rate_limit: int


def generate() -> tuple[str, str, str]:
    """(key to hand out once, prefix, hash to store)."""
    prefix = secrets.token_hex(4)
    key = f"{prefix}.{secrets.token_urlsafe(24)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _lookup(prefix: str) -> KeyInfo | None:
    remembered = _known.get(prefix)
    now = time.monotonic()
    if remembered is not None and remembered[0] > now:
        return remembered[1]
    row = ApiKey.objects.filter(prefix=prefix, active=True).values("pk", "hashed_key", "rate_limit").first()
    info = KeyInfo(row["pk"], prefix, row["hashed_key"], row["rate_limit"] or settings.API_RATE_LIMIT) if row else None
    if len(_known) > 10_000:
        _known.clear()
    _known[prefix] = (now + _REMEMBER_SECONDS, info)
    return info


def authenticate(key: str) -> KeyInfo | None:
    """The key's record when `key` is a valid active key, else None."""
    prefix, _, secret = key.partition(".")
    if not secret or len(prefix) > 12:
        return None
    info = _lookup(prefix)
    if info is None or not hmac.compare_digest(info.hashed_key, hash_key(key)):
        return None
    return info


def over_limit(info: KeyInfo) -> bool:
    """Count this request in the key's current minute; True once the limit is passed."""
    window = int(time.time() // 60)
    count = _count_in_redis if isinstance(caches["default"], RedisCache) else _count_in_database
    return count(info.pk, window) > info.rate_limit


def _count_in_redis(key_id: int, window: int) -> int:
    counter = f"apikey:{key_id}:{window}"
    cache.add(counter, 0, timeout=120)
    try:
        return cache.incr(counter)
    except ValueError:  # expired between the two calls: this request starts the count again
        cache.add(counter, 0, timeout=120)
        return cache.incr(counter)


def _count_in_database(key_id: int, window: int) -> int:
    with transaction.atomic():
        rows = RateWindow.objects.filter(api_key_id=key_id, window=window)
        if not rows.update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    RateWindow.objects.create(api_key_id=key_id, window=window, count=1)
            except IntegrityError:  # another request created it first
                rows.update(count=F("count") + 1)
            else:
                RateWindow.objects.filter(api_key_id=key_id, window__lt=window - 1).delete()
                return 1
        return rows.values_list("count", flat=True).get()


def forget() -> None:
    """Drop what this process remembers about keys (staff just changed one here)."""
    _known.clear()
