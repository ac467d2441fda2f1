"""Optional API keys and per-key rate limits for the prediction API.

A key is `<prefix>.<secret>`; the row is found by its prefix and checked against the SHA-256 of
the whole key. Lookups are remembered in the process for a few seconds, so a request costs no
database query; counting for the rate limit goes to the shared cache (Redis in production), a
fixed one-minute window per key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from predictor.models import ApiKey

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
    counter = f"apikey:{info.pk}:{window}"
    cache.add(counter, 0, timeout=120)
    try:
        used = cache.incr(counter)
    except ValueError:
        cache.set(counter, 1, timeout=120)
        used = 1
    return used > info.rate_limit


def forget() -> None:
    """Drop what this process remembers about keys (staff just changed one here)."""
    _known.clear()
