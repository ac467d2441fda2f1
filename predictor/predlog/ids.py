"""Prediction ids: UUIDs laid out as UUIDv7 (48 bits of milliseconds, then random bits).

Time first keeps the log's primary-key index append-only (random UUIDs would touch a page
anywhere in it for every row) and lets feedback tell an id pruned for its age from one never
issued. Whether an id is in the logged sample is decided by its own last 32 random bits, so
any process can tell later, from the id alone, that it was sampled out.
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, datetime

import numpy as np

_SAMPLE_SPACE = 2**32
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
# Where each of the 32 hex digits goes in "8-4-4-4-12 " (36 characters and a separator).
_DIGIT_AT = np.array([i + (i >= 8) + (i >= 12) + (i >= 16) + (i >= 20) for i in range(32)])
# Each ASCII byte's value as a hexadecimal digit.
_DIGIT_VALUE = np.zeros(256, np.uint64)
for _value, _digit in enumerate(b"0123456789abcdef"):
    _DIGIT_VALUE[_digit] = _DIGIT_VALUE[ord(chr(_digit).upper())] = _value
_TAIL_SHIFTS = np.arange(28, -1, -4, dtype=np.uint64)


def new_ids(count: int) -> list[str]:
    """`count` fresh ids, as the strings clients receive (8-4-4-4-12 hexadecimal)."""
    stamp = (int(time.time() * 1000) & 0xFFFF_FFFF_FFFF).to_bytes(6, "big")
    if count == 1:
        # The common case, without numpy's per-call overhead.
        raw = bytearray(stamp + os.urandom(10))
        raw[6] = 0x70 | (raw[6] & 0x0F)
        raw[8] = 0x80 | (raw[8] & 0x3F)
        h = raw.hex()
        return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"]
    # Formatted as one array of characters, not one id at a time.
    raw = np.empty((count, 16), np.uint8)
    raw[:, :6] = np.frombuffer(stamp, np.uint8)
    raw[:, 6:] = np.frombuffer(os.urandom(10 * count), np.uint8).reshape(count, 10)
    # Version 7 in the high nibble of byte 6, the RFC 4122 variant in the top bits of byte 8.
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    text = np.full((count, 37), ord("-"), np.uint8)
    text[:, 36] = ord(" ")
    digits = np.empty((count, 32), np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    text[:, _DIGIT_AT] = digits
    return text.tobytes().decode("ascii").split()


def issued_at(prediction_id: uuid.UUID) -> datetime | None:
    """When an id of ours was made (None for a UUID that is not version 7)."""
    if prediction_id.version != 7:
        return None
    return datetime.fromtimestamp((prediction_id.int >> 80) / 1000, tz=UTC)


def in_sample(prediction_id: str | uuid.UUID, share: float) -> bool:
    """Whether the log keeps this prediction when it keeps `share` of them (0..1)."""
    tail = prediction_id.int & 0xFFFF_FFFF if isinstance(prediction_id, uuid.UUID) else int(prediction_id[-8:], 16)
    return tail < share * _SAMPLE_SPACE


def sampled(ids: list[str], share: float) -> list[int]:
    """The positions of the ids the log keeps at `share`, each decided as `in_sample` decides it, for a batch at
    once (ours are 36 characters; others are read one at a time)."""
    if set(map(len, ids)) != {36}:
        return [i for i, pid in enumerate(ids) if in_sample(pid, share)]
    digits = np.frombuffer("".join(ids).encode("ascii"), np.uint8).reshape(len(ids), 36)[:, 28:]
    tails = (_DIGIT_VALUE[digits] << _TAIL_SHIFTS).sum(axis=1)
    return np.flatnonzero(tails < share * _SAMPLE_SPACE).tolist()
