"""Row keys: pinned, equal to their value-by-value definition whatever the path or block size, and
unmoved by the changes of shape data goes through."""

import numpy as np
import pandas as pd
import pytest

from ml import keys as keys_module
from ml.keys import SplitError, SplitKey, row_keys, value_hashes
from ml.split import split_key
from tests.support.frames import frame, mixed


def test_an_int_column_turning_float_keeps_its_rows_keys():
    ints = pd.DataFrame({"n": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]})
    floats = ints.assign(n=[1.0, 2.0, 3.0, 4.0])
    key = split_key(ints, "label")

    assert row_keys(ints, key).tolist() == row_keys(floats, key).tolist()


def test_a_split_key_round_trips_through_its_record():
    key = SplitKey(("size", "colour"), salt="s")

    assert SplitKey.from_dict(key.as_dict()) == key
    with pytest.raises(SplitError, match="needs a list of column names"):
        SplitKey.from_dict({"columns": "size"})


def test_row_keys_are_pinned_so_no_speed_up_can_move_a_row():
    data = pd.DataFrame(
        {
            "size": [1.5, -0.0, np.nan, 2.0, 1e-05],
            "count": [3, 0, 7, 2, 1],
            "colour": ["red", None, "blue", "green", "r\u00e9d"],
            "label": ["a", "b", "a", "b", "a"],
        }
    )

    keys = row_keys(data, SplitKey(("size", "count", "colour")))
    salted = row_keys(data, SplitKey(("colour",), "another salt"))

    assert [hex(k) for k in keys.tolist()] == [
        "0x356f106dea4d6273",
        "0xd1a2c53d00c9e4b0",
        "0xd8b247d1eb48b0eb",
        "0xbfa907ea46275a91",
        "0x521a219be401a16a",
    ]
    assert [hex(k) for k in salted.tolist()] == [
        "0xeb5a39125c75fd20",
        "0x55e623e0d4c567de",
        "0x746703980d70f434",
        "0xa705250dbba498db",
        "0xe49526567177fc71",
    ]


def reference_keys(data: pd.DataFrame, key: SplitKey) -> list[int]:
    """Row keys as first defined, value by value: numbers as float reprs, text as str, gaps empty."""

    def text(column: pd.Series) -> list[str]:
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = (column.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0).tolist()
            return ["" if v != v else repr(v) for v in values]
        gap = lambda v: v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)  # noqa: E731
        return ["" if gap(v) else str(v) for v in column.tolist()]

    texts = [text(data[name]) for name in key.columns]
    joined = ["\x1f".join(values) for values in zip(*texts, strict=True)]
    salt = keys_module._hash_key(key.salt)
    return pd.util.hash_pandas_object(pd.Series(joined, dtype=object), index=False, hash_key=salt).tolist()


def test_row_keys_are_the_value_by_value_keys_for_every_kind_of_column():
    data = mixed().assign(
        big=lambda d: np.where(np.arange(len(d)) % 4 == 0, 1e17, 1 / (np.arange(len(d)) + 1)),
        text=lambda d: pd.Series(
            np.where(np.arange(len(d)) % 9 == 0, None, "t" + (np.arange(len(d)) % 40).astype(str)), dtype="string"
        ),
        category=lambda d: pd.Categorical(np.where(np.arange(len(d)) % 13 == 0, None, d["colour"].astype(object))),
    )
    for columns in [("size",), ("count", "flag"), ("note",), ("code",), ("text", "category"), tuple(data.columns)]:
        key = SplitKey(columns)
        assert row_keys(data, key).tolist() == reference_keys(data, key), columns


def test_repeating_columns_are_read_once_per_value_and_key_as_value_by_value(monkeypatch):
    rows = 4_000
    at = np.arange(rows)
    data = pd.DataFrame(
        {
            # Repeats (one distinct value in 16 rows or fewer): turned into text once per value.
            "rounded": np.where(at % 23 == 0, np.nan, np.where(at % 7 == 0, -0.0, (at % 50) / 8)),
            "big": np.where(at % 3 == 0, 1e17, np.where(at % 3 == 1, 1e-05, 0.0)),
            "count": at % 9,
            "text": pd.Series(np.where(at % 11 == 0, None, "t\u00e9" + (at % 30).astype(str)), dtype="string"),
            # Repeats, but a text ends in NUL, which numpy's fixed-width bytes would drop: joined as text.
            "nul": pd.Series(["a\x00" if i % 2 else "b" for i in range(rows)], dtype="string"),
            # Mostly distinct, or Python objects: value by value.
            "unique": np.random.default_rng(1).normal(size=rows),
            "ids": pd.Series([f"id-{i}" for i in range(rows)], dtype="string"),
            "code": pd.Series([i % 4 if i % 2 else (1.0, True, "1")[i % 3] for i in range(rows)], dtype=object),
        }
    )
    reader = keys_module._ColumnText
    assert all(reader(data[name]).encoded is not None for name in ("rounded", "big", "count", "text"))
    assert reader(data["nul"]).codes is not None
    assert reader(data["nul"]).encoded is None
    assert all(reader(data[name]).codes is None for name in ("unique", "ids", "code"))

    monkeypatch.setattr(keys_module, "ROW_BLOCK", 333)
    for columns in [("rounded",), ("big", "count", "text"), ("nul", "count"), ("ids",), ("code",), tuple(data.columns)]:
        key = SplitKey(columns)
        assert row_keys(data, key).tolist() == reference_keys(data, key), columns
    # Wider than a row's bytes may be: joined as text, the same keys.
    monkeypatch.setattr(keys_module, "_BYTES_WIDTH", 8)
    key = SplitKey(("big", "count", "text"))
    assert row_keys(data, key).tolist() == reference_keys(data, key)


def test_row_keys_are_the_same_computed_block_by_block(monkeypatch):
    data = mixed(1000)
    key = split_key(data, "label")
    whole = row_keys(data, key)

    monkeypatch.setattr(keys_module, "ROW_BLOCK", 7)
    monkeypatch.setattr(keys_module, "HASH_BLOCK", 11)

    assert (row_keys(data, key) == whole).all()
    assert (keys_module.row_hashes(data) == pd.util.hash_pandas_object(data, index=False).to_numpy()).all()


def test_row_keys_hold_a_block_of_rows_at_a_time_not_every_row(monkeypatch):
    import tracemalloc

    data = frame(40_000)
    key = split_key(data, "label")
    monkeypatch.setattr(keys_module, "ROW_BLOCK", 2_000)
    tracemalloc.start()
    try:
        row_keys(data, key)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Value by value, a row's texts and their join are Python strings, some 500 bytes a row here:
    # 19 MiB for every row at once, 1 MiB for a block (and 0.3 MiB of keys).
    assert peak < 3 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_value_hashes_know_a_row_whether_its_numbers_read_as_integers_or_decimals():
    integers = pd.DataFrame({"tenure": [71, 3], "plan": ["a", "b"], "spend": [1.5, 2.0]})
    decimals = integers.astype({"tenure": "float64"})

    columns = ["tenure", "plan", "spend"]

    assert (value_hashes(integers, columns) == value_hashes(decimals, columns)).all()
    assert (value_hashes(integers, ["tenure", "plan", "missing"]) == value_hashes(decimals, ["tenure", "plan"])).all()
    assert value_hashes(integers, ["tenure"])[0] != value_hashes(integers.assign(tenure=[72, 3]), ["tenure"])[0]
