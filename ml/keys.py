"""A row's key and a whole row's hash: what the split and lineage know a row by.

A row's key is a 64-bit hash of its keyed columns (a `SplitKey`: the id column, or feature values,
never the label), read so that it stays put when the data changes shape: numbers are keyed as
floats, columns in sorted order, a gap as empty text. A whole-row hash tells apart rows that share
their keyed values.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.contract import is_numeric

DEFAULT_SALT = "retraining-rows!"
_KEY_BYTES = 8
# Rows keyed at a time (row_keys): a row's key depends on that row alone. Small, so that the Python
# strings of a block stay in a few of the interpreter's memory arenas, which larger blocks leave pinned
# by stray objects after the keys are computed (docs/benchmarks.md).
ROW_BLOCK = 2_048
# Rows a whole-row hash takes at a time (row_hashes): no Python string a row there, so a larger block
# saves pandas' cost per call, most of the hashing's time in small blocks.
HASH_BLOCK = 65_536
# A column is turned into text once per distinct value when it has at most one in this many rows
# (row_keys): numbers rounded to four places repeat that much from some 250,000 rows on. Its
# distinct texts (some 60 bytes each) and codes (4 bytes a row) then take at most twice the column
# (8 bytes a row), for as long as the keys are computed, before the split copies the frame.
_REPEATS = 4
# Text is factorized whole only if it repeats that much in its first rows as well.
_SAMPLE = 8_192
# Row keys joined as fixed-width bytes (row_keys) while a row's widest texts take at most this many
# bytes, so a block of rows takes at most ROW_BLOCK times as much (8 MiB).
_BYTES_WIDTH = 4_096
_SEPARATOR = np.array([b"\x1f"], dtype=np.bytes_)


class SplitError(ValueError):
    """The split cannot be computed on this data (a keyed column is missing, a bad fraction)."""


@dataclass(frozen=True)
class SplitKey:
    """What a row's key is made of. Recorded with each model, inherited by the next one."""

    columns: tuple[str, ...]
    salt: str = DEFAULT_SALT

    def __post_init__(self) -> None:
        if not self.columns:
            raise SplitError("a split key needs at least one column to hash")
        # Column order in the data must not matter: the key always reads them sorted.
        object.__setattr__(self, "columns", tuple(sorted(self.columns)))

    def as_dict(self) -> dict[str, object]:
        return {"columns": list(self.columns), "salt": self.salt}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> "SplitKey":
        columns = data.get("columns")
        if not isinstance(columns, list | tuple) or not all(isinstance(c, str) for c in columns):
            raise SplitError(f"a recorded split key needs a list of column names, got {columns!r}")
        return cls(tuple(columns), str(data.get("salt") or DEFAULT_SALT))


def row_keys(frame: pd.DataFrame, key: SplitKey) -> np.ndarray:
    """A 64-bit key per row, from the keyed columns only.

    Numbers are written as floats so that a column turning from int to float (a missing value
    appearing in a later version) does not change its rows' keys. A row's key depends on that row
    alone, so they are computed `ROW_BLOCK` rows at a time: each row's joined text is a Python
    string (hundreds of bytes a row), which a block bounds whatever the data's size. A column whose
    values repeat is turned into text once per distinct value (`_ColumnText`); when every keyed
    column repeats, a block's texts are joined as fixed-width bytes by numpy.
    """
    missing = [c for c in key.columns if c not in frame.columns]
    if missing:
        raise SplitError(f"the split's keyed columns are missing from the data: {', '.join(missing)}")
    columns = [_ColumnText(frame[name]) for name in key.columns]
    hash_key = _hash_key(key.salt)
    keys = np.empty(len(frame), dtype=np.uint64)
    widths = [column.encoded.itemsize + 1 for column in columns if column.encoded is not None]
    as_bytes = len(widths) == len(columns) and sum(widths) <= _BYTES_WIDTH
    for start in range(0, len(frame), ROW_BLOCK):
        stop = start + ROW_BLOCK
        if as_bytes:
            # Every column's texts as fixed-width UTF-8, joined by numpy: no Python object a value.
            joined_bytes = columns[0].bytes(start, stop)
            for column in columns[1:]:
                joined_bytes = np.strings.add(np.strings.add(joined_bytes, _SEPARATOR), column.bytes(start, stop))
            # pandas hashes a str by its UTF-8 bytes: the same key from the bytes themselves.
            keys[start:stop] = pd.util.hash_array(joined_bytes.astype(object), hash_key=hash_key, categorize=False)
            continue
        texts = [column.texts(start, stop) for column in columns]
        joined = (
            np.array(list(map("\x1f".join, zip(*texts, strict=True))), dtype=object) if len(texts) > 1 else texts[0]
        )
        # What `hash_pandas_object` computes for a Series of these strings, without its factorizing.
        keys[start:stop] = pd.util.hash_array(np.asarray(joined, dtype=object), hash_key=hash_key, categorize=False)
    return keys


class _ColumnText:
    """A keyed column's values as the key reads them (`_as_text`), a block of rows at a time.

    When the column's values repeat (at most one distinct value in `_REPEATS` rows: numbers rounded
    to a few places, counts, categories), each distinct value becomes text once and a block is a lookup of
    shared strings; otherwise each block is converted value by value. Columns of Python objects are
    always converted value by value: factorizing them would merge values that compare equal but read
    differently (1, 1.0 and True).
    """

    def __init__(self, column: pd.Series) -> None:
        self.column = column
        self.codes: np.ndarray | None = None
        self.distinct: np.ndarray | None = None
        self.encoded: np.ndarray | None = None
        if not (is_numeric(column) or isinstance(column.dtype, pd.StringDtype)) or len(column) < _REPEATS:
            return
        if not is_numeric(column) and column.iloc[:_SAMPLE].nunique() * _REPEATS > min(len(column), _SAMPLE):
            return  # text that does not repeat in its first rows (ids): factorizing all of it would be wasted
        # + 0.0 turns -0.0 into 0.0, so both spellings of zero are one value.
        values = column.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0 if is_numeric(column) else column
        codes, distinct = pd.factorize(values)
        if len(distinct) * _REPEATS > len(column):
            return
        # A gap's code is -1: the last text, "".
        self.distinct = np.array([*_as_text(pd.Series(distinct)), ""], dtype=object)
        self.codes = codes.astype(np.int32)
        encoded = [text.encode() for text in self.distinct]
        # numpy's fixed-width bytes drop trailing NULs: a text ending in one is joined as Python text.
        if not any(value.endswith(b"\0") for value in encoded):
            self.encoded = np.array(encoded, dtype=np.bytes_)

    def bytes(self, start: int, stop: int) -> np.ndarray:
        """The texts of rows start:stop as UTF-8 in a fixed-width numpy array (`encoded` is set)."""
        if self.encoded is None or self.codes is None:
            raise ValueError("this column is read value by value, not as bytes")
        return self.encoded[self.codes[start:stop]]

    def texts(self, start: int, stop: int) -> np.ndarray | list[str]:
        if self.codes is None or self.distinct is None:
            return _as_text(self.column.iloc[start:stop])
        return self.distinct[self.codes[start:stop]]


def row_hashes(frame: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
    """A 64-bit hash of each whole row (`pandas.util.hash_pandas_object` without the index) of
    `frame`, or of `frame[columns]`, computed `HASH_BLOCK` rows at a time: a column of mixed values is
    hashed as text, and the columns reordered, a block at a time."""
    hashes = np.empty(len(frame), dtype=np.uint64)
    for start in range(0, len(frame), HASH_BLOCK):
        block = frame.iloc[start : start + HASH_BLOCK]
        block = block if columns is None else block[columns]
        hashes[start : start + HASH_BLOCK] = pd.util.hash_pandas_object(block, index=False).to_numpy(dtype=np.uint64)
    return hashes


def value_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Whole-row hashes that compare rows across versions of the data, over those of `columns` the
    frame has: every number hashed as its float64 value, so that a column read as integers in one
    version (71) and as decimals in another (71.0: a partition of logged inputs) holds the same rows.
    `row_hashes` stays as it is: the data's fingerprint and the canonical order are recorded with it."""
    present = [c for c in columns if c in frame.columns]
    numbers = {c: "float64" for c in present if is_numeric(frame[c]) and frame[c].dtype != np.float64}
    return row_hashes(frame[present].astype(numbers) if numbers else frame, present)


def keys_to_bytes(keys: np.ndarray) -> bytes:
    """Little-endian uint64s, so the artifact reads the same on any machine."""
    return np.asarray(keys, dtype="<u8").tobytes()


def keys_from_bytes(data: bytes) -> np.ndarray:
    if len(data) % _KEY_BYTES:
        raise SplitError(f"training-row keys must be a multiple of {_KEY_BYTES} bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<u8").astype(np.uint64)


def _as_text(column: pd.Series) -> list[str]:
    """Each value as the key reads it: a number as its float's repr, text as itself, a gap as ""."""
    if is_numeric(column):
        # + 0.0 turns -0.0 into 0.0, so both spellings of zero key alike.
        values = column.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0
        texts = list(map(repr, values.tolist()))
        for gap in np.flatnonzero(np.isnan(values)).tolist():
            texts[gap] = ""
        return texts
    if isinstance(column.dtype, pd.StringDtype):
        # Every value is a str or a gap: each distinct one is converted once.
        codes, distinct = pd.factorize(column)
        return np.append(np.asarray(distinct, dtype=object), np.array([""], dtype=object))[codes].tolist()
    return ["" if _missing(v) else str(v) for v in column.tolist()]


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _hash_key(salt: str) -> str:
    """pandas hashes with a 16-character key: any salt is folded into one."""
    return salt if len(salt.encode()) == 16 else hashlib.md5(salt.encode()).hexdigest()[:16]
