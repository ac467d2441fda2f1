"""The split and the holdout's integrity: every invariant a fair comparison rests on."""

import numpy as np
import pandas as pd
import pytest

from ml import split as split_module
from ml.split import (
    SplitError,
    SplitKey,
    canonical,
    canonical_split,
    exclude_trained_on,
    holdout_mask,
    keys_from_bytes,
    keys_to_bytes,
    non_features,
    row_keys,
    split,
    split_key,
    training_rows,
)


def frame(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    size = rng.normal(10, 3, rows).round(2)
    return pd.DataFrame(
        {
            "size": size,
            "count": rng.integers(0, 1000, rows),
            "colour": rng.choice(["red", "blue", "green"], rows),
            "label": np.where(size > 10, "big", "small"),
        }
    )


def sides(data: pd.DataFrame, key: SplitKey, fraction: float = 0.25) -> dict[int, bool]:
    return dict(zip(row_keys(data, key).tolist(), holdout_mask(data, fraction, key).tolist(), strict=True))


def test_the_first_model_keys_on_its_feature_columns_never_the_label():
    key = split_key(frame(), "label")

    assert key.columns == ("colour", "count", "size")


def test_a_new_column_moves_no_row():
    data = frame()
    key = split_key(data, "label")
    grown = data.assign(weight=np.random.default_rng(1).normal(size=len(data)))

    inherited = split_key(grown, "label", inherited=key)

    assert inherited == key
    assert (holdout_mask(grown, 0.25, inherited) == holdout_mask(data, 0.25, key)).all()


def test_a_corrected_label_moves_no_row():
    data = frame()
    key = split_key(data, "label")
    corrected = data.assign(label=np.where(data.index % 3 == 0, "medium", data["label"]))

    assert (holdout_mask(corrected, 0.25, key) == holdout_mask(data, 0.25, key)).all()


def test_raising_the_holdout_fraction_only_adds_rows_to_the_holdout():
    data = frame(10_000)
    key = split_key(data, "label")

    smaller = holdout_mask(data, 0.25, key)
    larger = holdout_mask(data, 0.30, key)

    assert not (smaller & ~larger).any()
    assert 0.28 < larger.mean() < 0.32
    assert 0.23 < smaller.mean() < 0.27


def test_reordered_rows_and_columns_keep_their_sides():
    data = frame()
    key = split_key(data, "label")
    shuffled = data.sample(frac=1.0, random_state=3)[["label", "size", "colour", "count"]]

    assert sides(shuffled, key) == sides(data, key)


def test_duplicate_rows_land_on_the_same_side_whatever_their_label():
    data = frame(500)
    copies = data.head(100).assign(label="other")
    doubled = pd.concat([data, copies], ignore_index=True)
    key = split_key(doubled, "label")

    mask = holdout_mask(doubled, 0.25, key)

    assert (mask[:100] == mask[500:]).all()


def test_an_int_column_turning_float_keeps_its_rows_keys():
    ints = pd.DataFrame({"n": [1, 2, 3, 4], "label": ["a", "b", "a", "b"]})
    floats = ints.assign(n=[1.0, 2.0, 3.0, 4.0])
    key = split_key(ints, "label")

    assert row_keys(ints, key).tolist() == row_keys(floats, key).tolist()


def test_an_id_column_decides_the_split_and_is_not_a_feature():
    data = frame().assign(row_id=range(2000))
    changed = data.assign(size=data["size"] + 1, colour="red")

    key = split_key(data, "label", id_column="row_id")

    assert key.columns == ("row_id",)
    assert (holdout_mask(changed, 0.25, key) == holdout_mask(data, 0.25, key)).all()
    assert "row_id" in non_features("label", "row_id")


def test_excluded_columns_are_neither_features_nor_keyed():
    data = frame().assign(extracted_at=pd.Timestamp("2026-11-29"))

    key = split_key(data, "label", exclude=["extracted_at"])

    assert non_features("label", None, ["extracted_at"]) == ["label", "extracted_at"]
    assert key.columns == ("colour", "count", "size")


def test_an_inherited_key_drops_columns_that_left_the_data_or_stopped_being_features():
    data = frame().drop(columns=["count"]).assign(extra=1.0)
    inherited = SplitKey(("colour", "count", "size"), salt="another salt")

    key = split_key(data, "label", exclude=["colour"], inherited=inherited)

    assert key == SplitKey(("size",), salt="another salt")


def test_the_salt_reshuffles_the_split():
    data = frame()
    columns = ("colour", "count", "size")

    first = holdout_mask(data, 0.25, SplitKey(columns))
    second = holdout_mask(data, 0.25, SplitKey(columns, salt="a new draw"))

    assert (first != second).mean() > 0.2


def test_a_split_key_round_trips_through_its_record():
    key = SplitKey(("size", "colour"), salt="s")

    assert SplitKey.from_dict(key.as_dict()) == key
    with pytest.raises(SplitError, match="needs a list of column names"):
        SplitKey.from_dict({"columns": "size"})


def test_split_names_what_is_wrong_with_its_inputs():
    data = frame(10)
    with pytest.raises(SplitError, match="the id column 'row_id' \\(DATA_ID_COLUMN\\) is not in the data"):
        split_key(data, "label", id_column="row_id")
    with pytest.raises(SplitError, match="keyed columns are missing from the data: weight"):
        row_keys(data, SplitKey(("size", "weight")))
    with pytest.raises(SplitError, match=r"strictly between 0 and 1, got 1\.5"):
        split(data, 1.5, split_key(data, "label"))
    with pytest.raises(SplitError, match="no feature column"):
        split_key(data[["label"]], "label")


def test_training_rows_take_eight_bytes_a_distinct_row_and_round_trip():
    data = frame(300)
    doubled = pd.concat([data, data], ignore_index=True)
    key = split_key(data, "label")

    rows = training_rows(doubled, key)
    encoded = rows.to_bytes()

    assert len(encoded) == 8 * len(data.drop(columns="label").drop_duplicates())
    assert (keys_from_bytes(keys_to_bytes(rows.keys)) == rows.keys).all()
    assert (type(rows).from_bytes(key, encoded).keys == rows.keys).all()
    with pytest.raises(SplitError, match="multiple of 8 bytes, got 7"):
        keys_from_bytes(b"1234567")


def test_holdout_rows_a_compared_model_trained_on_are_excluded_and_counted():
    data = frame(2000)
    # The champion keyed its split on other columns: some of today's holdout rows were its training rows.
    champion_key = SplitKey(("size",))
    champion_training, _ = split(data.head(1500), 0.25, champion_key)
    key = split_key(data, "label")
    training, holdout = split(data, 0.25, key)

    exclusion = exclude_trained_on(
        holdout,
        {"challenger": training_rows(training, key), "champion v1": training_rows(champion_training, champion_key)},
    )

    seen = holdout["size"].isin(champion_training["size"]).to_numpy()
    assert seen.sum() > 100
    assert (exclusion.clean == ~seen).all()
    assert exclusion.excluded == {"challenger": 0, "champion v1": int(seen.sum())}
    excluded = f"champion v1 was trained on {seen.sum()} of the {len(holdout)} holdout rows: excluded"
    assert exclusion.reasons == [excluded]


def test_a_holdout_row_with_a_corrected_label_still_counts_as_seen():
    data = frame(400)
    key = split_key(data, "label")
    trained_on = training_rows(data.head(200), key)
    relabelled = data.head(10).assign(label="other")

    exclusion = exclude_trained_on(relabelled, {"champion v2": trained_on})

    assert exclusion.clean_rows == 0


def test_a_model_whose_keyed_columns_are_gone_is_scored_on_no_row():
    data = frame(100)
    rows = training_rows(data.assign(old=1), SplitKey(("old", "size")))

    exclusion = exclude_trained_on(data, {"previous champion v1": rows})

    assert exclusion.clean_rows == 0
    assert "its keyed columns old are not in this data" in exclusion.reasons[0]


def test_too_few_clean_rows_says_so_instead_of_deciding():
    data = frame(100)
    key = split_key(data, "label")

    clean = exclude_trained_on(data, {"champion v1": training_rows(data.head(0), key)})
    dirty = exclude_trained_on(data, {"champion v1": training_rows(data.head(90), key)})

    assert clean.too_few(30) is None
    assert clean.reasons == ["no compared model was trained on any of the 100 holdout rows"]
    assert dirty.too_few(30) == (
        "only 10 of the 100 holdout rows were never trained on by a compared model, fewer than the 30 needed "
        "to compare models: no decision on contaminated rows"
    )


def mixed(rows: int = 3000, seed: int = 5) -> pd.DataFrame:
    """Every kind of column a CSV gives: floats with gaps and -0.0, ints, text with gaps, booleans, and
    duplicated rows (same keyed values, other labels), so the canonical order's tie-break matters."""
    data = frame(rows, seed).assign(
        ratio=np.where(
            np.arange(rows) % 17 == 0, np.nan, np.where(np.arange(rows) % 5 == 0, -0.0, np.arange(rows) % 7)
        ),
        note=np.where(np.arange(rows) % 11 == 0, None, (np.arange(rows) % 300).astype(str)),
        # As a CSV column typed differently in two of pandas' chunks: numbers and text in one column.
        code=pd.Series([i if i % 2 else f"c{i}" for i in range(rows)], dtype=object),
        flag=np.arange(rows) % 3 == 0,
    )
    data["note"] = data["note"].astype("str")
    copies = data.head(200).assign(label="other")
    return pd.concat([data, copies], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


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
    salt = split_module._hash_key(key.salt)
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
    reader = split_module._ColumnText
    assert all(reader(data[name]).encoded is not None for name in ("rounded", "big", "count", "text"))
    assert reader(data["nul"]).codes is not None
    assert reader(data["nul"]).encoded is None
    assert all(reader(data[name]).codes is None for name in ("unique", "ids", "code"))

    monkeypatch.setattr(split_module, "ROW_BLOCK", 333)
    for columns in [("rounded",), ("big", "count", "text"), ("nul", "count"), ("ids",), ("code",), tuple(data.columns)]:
        key = SplitKey(columns)
        assert row_keys(data, key).tolist() == reference_keys(data, key), columns
    # Wider than a row's bytes may be: joined as text, the same keys.
    monkeypatch.setattr(split_module, "_BYTES_WIDTH", 8)
    key = SplitKey(("big", "count", "text"))
    assert row_keys(data, key).tolist() == reference_keys(data, key)


def test_row_keys_are_the_same_computed_block_by_block(monkeypatch):
    data = mixed(1000)
    key = split_key(data, "label")
    whole = row_keys(data, key)

    monkeypatch.setattr(split_module, "ROW_BLOCK", 7)
    monkeypatch.setattr(split_module, "HASH_BLOCK", 11)

    assert (row_keys(data, key) == whole).all()
    assert (split_module.row_hashes(data) == pd.util.hash_pandas_object(data, index=False).to_numpy()).all()


def test_row_keys_hold_a_block_of_rows_at_a_time_not_every_row(monkeypatch):
    import tracemalloc

    data = frame(40_000)
    key = split_key(data, "label")
    monkeypatch.setattr(split_module, "ROW_BLOCK", 2_000)
    tracemalloc.start()
    try:
        row_keys(data, key)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # Value by value, a row's texts and their join are Python strings, some 500 bytes a row here:
    # 19 MiB for every row at once, 1 MiB for a block (and 0.3 MiB of keys).
    assert peak < 3 * 2**20, f"{peak / 2**20:.1f} MiB"


def test_the_canonical_split_is_split_then_canonical_with_the_keys_computed_once():
    data = mixed()
    key = split_key(data, "label")
    training, holdout = (canonical(part, key) for part in split(data, 0.25, key))

    parts = canonical_split(data, 0.25, key)
    given = canonical_split(data, 0.25, key, row_keys(data, key))

    for found in (parts, given):
        pd.testing.assert_frame_equal(found.training, training)
        pd.testing.assert_frame_equal(found.holdout, holdout)
        assert (found.holdout_keys == row_keys(holdout, key)).all()
        assert (found.trained_on.keys == training_rows(training, key).keys).all()
        assert found.trained_on.key == key
    with pytest.raises(SplitError, match=r"strictly between 0 and 1, got 1\.5"):
        canonical_split(data, 1.5, key)


def test_holdout_keys_given_by_the_split_exclude_the_same_rows():
    data = frame(2000)
    key = split_key(data, "label")
    parts = canonical_split(data, 0.25, key)
    champion = training_rows(split(data.head(1500), 0.25, SplitKey(("size",)))[0], SplitKey(("size",)))
    models = {"challenger": parts.trained_on, "champion v1": champion}

    given = exclude_trained_on(parts.holdout, models, {key: parts.holdout_keys})
    computed = exclude_trained_on(parts.holdout, models)

    assert (given.clean == computed.clean).all()
    assert given.excluded == computed.excluded
    assert given.reasons == computed.reasons


def test_the_key_order_is_lexsort_by_key_then_whole_row_hash_ties_kept_in_place():
    rng = np.random.default_rng(3)
    for rows, distinct in [(0, 1), (1, 1), (500, 40), (5_000, 4_000), (5_000, 5_000)]:
        keys = rng.integers(0, distinct, rows).astype(np.uint64) * np.uint64(2**50)
        whole = rng.integers(0, 3, rows).astype(np.uint64)

        order = split_module._key_order(keys, whole)

        assert order.tolist() == np.lexsort((whole, keys)).tolist(), (rows, distinct)
        assert split_module._distinct_sorted(keys[order]).tolist() == np.unique(keys).tolist()


def test_membership_in_training_rows_is_isin_sorted_or_not():
    rng = np.random.default_rng(4)
    for rows, known in [(0, 5), (5, 0), (1_000, 300), (2_000, 2_000)]:
        values = rng.integers(0, 1_500, rows).astype(np.uint64)
        keys = np.unique(rng.integers(0, 1_500, known).astype(np.uint64))
        shuffled = rng.permutation(keys)
        for among in (keys, shuffled):
            assert split_module._among(values, among).tolist() == np.isin(values, among).tolist()
