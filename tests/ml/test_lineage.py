import numpy as np
import pandas as pd

from ml import keys as keys_module
from ml import lineage
from ml.keys import SplitKey
from ml.split import TrainingRows, training_rows

FRAME = pd.DataFrame({"size": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"], "label": ["a", "b", "a"]})


def test_the_fingerprint_ignores_row_and_column_order():
    shuffled = FRAME.iloc[[2, 0, 1]][["label", "colour", "size"]]

    assert lineage.fingerprint(shuffled) == lineage.fingerprint(FRAME)


def test_the_fingerprint_sees_a_corrected_label_and_a_duplicated_row():
    corrected = FRAME.assign(label=["a", "b", "b"])
    duplicated = pd.concat([FRAME, FRAME.head(1)])

    assert len({lineage.fingerprint(f) for f in (FRAME, corrected, duplicated)}) == 3


def test_the_fingerprint_is_pinned_whatever_block_of_rows_it_hashes_at_a_time(monkeypatch):
    rows = np.arange(1000)
    data = pd.DataFrame(
        {
            "size": np.where(rows % 13 == 0, np.nan, rows % 7 * 0.5),
            "count": rows % 11,
            "colour": np.where(rows % 5 == 0, None, np.where(rows % 2 == 0, "red", "blue")),
            "label": np.where(rows % 3 == 0, "a", "b"),
        }
    )
    data["colour"] = data["colour"].astype("str")
    pinned = "a820e64496a9660ee5ae525374b6f23e"

    assert lineage.fingerprint(data) == pinned
    monkeypatch.setattr(keys_module, "HASH_BLOCK", 7)
    assert lineage.fingerprint(data[["label", "colour", "count", "size"]].iloc[::-1]) == pinned


class Stored(dict):
    def artifact(self, version: str, name: str) -> bytes | None:
        return self.get((version, name))


def test_a_models_training_rows_read_back_as_they_were_logged():
    rows = training_rows(FRAME, SplitKey(("size", "colour")))
    stored = Stored({("4", name): data for name, data in lineage.artifacts(rows, {"target": "label"}).items()})

    read = lineage.trained_on(stored, "4")

    assert read.key == rows.key
    assert list(read.keys) == list(rows.keys)
    assert lineage.recorded(stored, "4") == {"target": "label"}


def test_a_model_logged_before_rows_were_kept_has_unknown_rows():
    assert lineage.trained_on(Stored(), "1") is None
    assert lineage.recorded_key(Stored(), "1") is None


def test_rows_changed_counts_training_rows_added_removed_and_kept_by_key():
    key = SplitKey(("id",), "salt")
    old = TrainingRows(key, np.array([1, 2, 3, 4], dtype=np.uint64))
    new = TrainingRows(key, np.array([3, 4, 5, 6, 7], dtype=np.uint64))

    assert lineage.rows_changed(new, old) == {"added": 3, "removed": 2, "kept": 2}
    assert lineage.rows_changed(new, None) is None
    assert lineage.rows_changed(TrainingRows(SplitKey(("id",), "other"), new.keys), old) is None


def test_a_models_holdout_rows_read_back_beside_its_training_rows():
    key = SplitKey(("size", "colour"))
    trained, held = training_rows(FRAME.iloc[:2], key), training_rows(FRAME.iloc[2:], key)
    stored = Stored({("4", name): data for name, data in lineage.artifacts(trained, {}, held).items()})
    before = Stored({("4", name): data for name, data in lineage.artifacts(trained, {}).items()})

    read = lineage.held_out(stored, "4")

    assert read.key == key
    assert list(read.keys) == list(held.keys)
    assert lineage.held_out(before, "4") is None  # logged before holdout rows were kept
