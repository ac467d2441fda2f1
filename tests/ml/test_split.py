"""The split and the holdout's integrity: every invariant a fair comparison rests on."""

import numpy as np
import pandas as pd
import pytest

from ml import split as split_module
from ml.keys import SplitError, SplitKey, keys_from_bytes, keys_to_bytes, row_keys
from ml.split import (
    canonical,
    canonical_split,
    exclude_trained_on,
    holdout_mask,
    non_features,
    split,
    split_key,
    training_rows,
)
from tests.support.frames import frame, mixed


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
            assert split_module.among(values, among).tolist() == np.isin(values, among).tolist()
