"""Optional API keys and per-key rate limits for the prediction API.

A key is `<prefix>.<secret>`; the row is found by its prefix and checked against the SHA-256 of
the whole key. Lookups are remembered in the process for a few seconds, so a request costs no
database query; counting for the rate limit goes to the shared cache (Redis in production), a
fixed one-minute window per key, counted atomically: request numbers leased from a Redis counter
(`_Leases`), a conditional UPDATE in the database otherwise (the embedded file cache's
read-then-write lets concurrent requests through).

Redis down does not take the prediction API with it: counting falls back to this process, with
one logged warning, rather than answering 503. The model still answers, and a 503 would refuse
every keyed client for a fault in what only counts them; per process, a key gets its limit in
each process until Redis answers again (tried again every `_RETRY_REDIS_AFTER` seconds).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, transaction
from django.db.models import F
from redis import Redis
from redis.exceptions import NoScriptError, RedisError

from predictor.models import ApiKey, RateWindow

logger = logging.getLogger(__name__)

# How long a process trusts what it read about a key: a deactivated key stops working within it.
_REMEMBER_SECONDS = 10.0
_known: dict[str, tuple[float, KeyInfo | None]] = {}
# Once Redis failed, this process counts for itself this long before it asks Redis again, so a
# down Redis costs one failed connection per interval, not one per request.
_RETRY_REDIS_AFTER = 5.0
# The most request numbers a process takes from Redis at once (_Leases).
_MAX_LEASE = 64
# A window's counter outlives its minute, so a request at the minute's end still finds it.
_WINDOW_EXPIRY = 120
# A counter without an expiry (TTL -1) is a new window's: INCRBY creates it with no expiry.
_COUNT_SCRIPT = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""
# Clients by connection pool: a pool goes with its cache backend (settings overridden in tests).
_clients: weakref.WeakKeyDictionary[Any, Redis] = weakref.WeakKeyDictionary()
_COUNT_SHA = hashlib.sha1(_COUNT_SCRIPT.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    pk: int
    prefix: str
    hashed_key: str
    rate_limit: int
    # Rows predicted per minute; 0: rows are not limited.
    row_limit: int = 0


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
    row = (
        ApiKey.objects.filter(prefix=prefix, active=True).values("pk", "hashed_key", "rate_limit", "row_limit").first()
    )
    info = None
    if row:
        rows = settings.API_ROW_RATE_LIMIT if row["row_limit"] is None else row["row_limit"]
        info = KeyInfo(row["pk"], prefix, row["hashed_key"], row["rate_limit"] or settings.API_RATE_LIMIT, rows)
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


class _RedisOutage:
    """Whether this process counts for itself because Redis failed, since when and why."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retry_at = 0.0
        self.since: datetime | None = None
        self.error = ""
        self.counts: dict[tuple[int, int], int] = {}

    def down(self) -> bool:
        return time.monotonic() < self.retry_at

    def failed(self, exc: Exception) -> None:
        with self.lock:
            self.retry_at = time.monotonic() + _RETRY_REDIS_AFTER
            if self.since is None:
                self.since = datetime.now(UTC)
                self.error = f"Redis unreachable since {self.since:%Y-%m-%d %H:%M:%S} UTC ({exc})"
                logger.warning(
                    "%s: rate limits are counted in this process until it answers again, so a key gets "
                    "its limit in each process",
                    self.error,
                )

    def answered(self) -> None:
        if self.since is None:
            return
        with self.lock:
            if self.since is not None:
                logger.warning("Redis answers again: rate limits are shared again (%s)", self.error)
                self.since, self.error, self.retry_at = None, "", 0.0
                self.counts.clear()

    def count(self, key_id: int, window: int, amount: int = 1, what: str = "count") -> int:
        with self.lock:
            if len(self.counts) > 10_000:
                self.counts = {k: v for k, v in self.counts.items() if k[1] >= window}
            counter = (key_id, window, what)
            self.counts[counter] = self.counts.get(counter, 0) + amount
            return self.counts[counter]


_outage = _RedisOutage()


def over_limit(info: KeyInfo) -> bool:
    """Count this request in the key's current minute; True once the limit is passed."""
    window = int(time.time() // 60)
    if isinstance(caches["default"], RedisCache):
        return _leases.take(info, window) > info.rate_limit
    return _count_in_database(info.pk, window) > info.rate_limit


class _Leases:
    """Request numbers taken from the shared counter a few at a time, so that most requests ask
    nothing of Redis (a round trip cost a keyed request more than its own checks and encoding).

    A request's number is its place in the key's minute; it is over the limit when its number is.
    A process takes a lease of `n` numbers with one INCRBY and hands them out in order, so the
    limit is never exceeded across processes. Numbers a process holds unused when the minute
    ends were never given to a request: far from the limit a lease is a sixteenth of what is left
    (at most _MAX_LEASE), and within 16 requests of it every lease is one number, so a key is
    refused early by at most the few numbers other processes hold. Redis down: the numbers come
    from this process's own count, as single requests' did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (key, window) -> [next number to hand out, last number of the lease]
        self.held: dict[tuple[int, int], list[int]] = {}

    def take(self, info: KeyInfo, window: int) -> int:
        with self.lock:
            lease = self.held.get((info.pk, window))
            if lease is None or lease[0] > lease[1]:
                size = _lease_size(info.rate_limit, None if lease is None else lease[1])
                last = _count_shared(info.pk, window, size)
                if lease is None and len(self.held) > 10_000:
                    self.held = {k: v for k, v in self.held.items() if k[1] >= window}
                lease = self.held[(info.pk, window)] = [last - size + 1, last]
            number = lease[0]
            lease[0] += 1
            return number


def _lease_size(limit: int, last: int | None) -> int:
    """How many numbers to take next, after a lease ending at `last` (None: the minute's first)."""
    if last is None:
        return 1  # nothing is known of the count yet
    if last >= limit:
        # Every number the counter gives from here is over the limit: a large lease refuses
        # nothing that one number at a time would let through.
        return _MAX_LEASE
    return max(1, min(_MAX_LEASE, (limit - last) // 16))


_leases = _Leases()


def over_row_limit(info: KeyInfo, rows: int) -> bool:
    """Count this request's rows in the key's current minute; True once its row limit is passed.

    Counted where requests are (Redis, the database, or this process while Redis is down)."""
    if not info.row_limit:
        return False
    window = int(time.time() // 60)
    count = _count_shared if isinstance(caches["default"], RedisCache) else _count_in_database
    return count(info.pk, window, rows, "rows") > info.row_limit


def counting() -> tuple[str, str]:
    """Where rate limits are counted now ("off", "database", "redis" or "per-process"), and why
    not in Redis when it failed: asks Redis (once per retry interval at most when it is down)."""
    if not settings.API_KEYS_REQUIRED:
        return "off", ""
    if not isinstance(caches["default"], RedisCache):
        return "database", ""
    if not _outage.down():
        try:
            cache.get("apikey:ready")
        except (RedisError, OSError) as exc:
            _outage.failed(exc)
        else:
            _outage.answered()
    return ("per-process", _outage.error) if _outage.down() else ("redis", "")


def _count_shared(key_id: int, window: int, amount: int = 1, what: str = "count") -> int:
    if not _outage.down():
        try:
            count = _count_in_redis(key_id, window, amount, what)
        except (RedisError, OSError) as exc:
            _outage.failed(exc)
        else:
            _outage.answered()
            return count
    return _outage.count(key_id, window, amount, what)


def _count_in_redis(key_id: int, window: int, amount: int = 1, what: str = "count") -> int:
    """One command: a server-side script counts and, for a new window, sets its expiry. A
    pipeline (MULTI, SET NX EX, INCRBY, EXEC) was one round trip too, but redis-py builds a
    pipeline object per call, which costs as a client does (`_counting_client`)."""
    counter = cache.make_and_validate_key(f"apikey:{key_id}:{window}" + ("" if what == "count" else f":{what}"))
    client = _counting_client()
    try:
        return int(client.evalsha(_COUNT_SHA, 1, counter, amount, _WINDOW_EXPIRY))
    except NoScriptError:  # a restarted or flushed Redis forgot it: EVAL sends it again
        return int(client.eval(_COUNT_SCRIPT, 1, counter, amount, _WINDOW_EXPIRY))


def _counting_client() -> Redis:
    """A client on the cache's write pool, made once per pool: Django's cache makes a new client
    per call, and making one copies redis-py's table of response callbacks, which cost more than
    the round trip (docs/benchmarks.md). Clients are thread-safe; the pool holds the connections."""
    backend = cache._cache
    pool = backend._get_connection_pool(write=True)
    client = _clients.get(pool)
    if client is None:
        client = _clients[pool] = backend._client(connection_pool=pool)
    return client


def _count_in_database(key_id: int, window: int, amount: int = 1, what: str = "count") -> int:
    """Add `amount` to the key's minute: requests ("count") or rows ("rows")."""
    with transaction.atomic():
        rows = RateWindow.objects.filter(api_key_id=key_id, window=window)
        if not rows.update(**{what: F(what) + amount}):
            try:
                with transaction.atomic():
                    RateWindow.objects.create(api_key_id=key_id, window=window, **{what: amount})
            except IntegrityError:  # another request created it first
                rows.update(**{what: F(what) + amount})
            else:
                RateWindow.objects.filter(api_key_id=key_id, window__lt=window - 1).delete()
                return amount
        return rows.values_list(what, flat=True).get()


def forget() -> None:
    """Drop what this process remembers about keys (staff just changed one here) and about Redis."""
    global _outage, _leases
    _known.clear()
    _outage = _RedisOutage()
    _leases = _Leases()
