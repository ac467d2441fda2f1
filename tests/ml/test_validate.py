"""Validating new data before training: what is a problem, what is a warning, and drift against the champion."""

import numpy as np
import pandas as pd
import pytest

from ml.drift.drift import Thresholds
from ml.drift.profile import build_profile
from ml.keys import row_keys
from ml.split import holdout_mask, split_key
from ml.validate import validate
from tests.support.frames import sizes


def check(data: pd.DataFrame, **options):
    defaults = {"min_rows": 3, "max_missing_share": 0.5, "max_classes": 50, "holdout_fraction": 0.25, "id_column": None}
    return validate(data, "label", **{**defaults, **options})


def test_valid_data_passes_with_no_problem():
    assert check(sizes()).ok


def test_a_missing_target_column_is_a_problem():
    result = check(sizes().drop(columns=["label"]))

    assert result.problems == ["the target column 'label' is missing (columns: size, colour)"]


def test_missing_labels_and_a_single_class_are_problems():
    data = sizes().assign(label="big")
    data.loc[0, "label"] = None

    result = check(data)

    assert (
        "the target column 'label' has 1 missing labels: set DROP_UNLABELLED_ROWS=true to leave such rows out"
        in result.problems
    )
    assert "the target column 'label' has 1 class(es); at least 2 are needed" in result.problems


def test_too_few_rows_is_a_problem():
    assert "60 rows, fewer than the minimum of 100" in check(sizes(), min_rows=100).problems


def test_a_column_mostly_missing_is_a_problem():
    data = sizes(10)
    data.loc[:6, "size"] = np.nan

    assert "column 'size' is 70% missing, more than the allowed 50%" in check(data).problems


def test_columns_are_checked_against_what_the_champion_expects():
    expected = [{"name": "size", "type": "double"}, {"name": "weight", "type": "double"}]
    data = sizes().assign(size=["12.5", "n/a"] * 30, extra=1)

    result = check(data, expected_columns=expected)

    assert "feature column 'weight' that the champion uses is missing" in result.problems
    assert "column 'size' should be numeric (double) but holds text such as 'n/a'" in result.problems
    assert result.warnings == ["new columns the champion did not use: colour, extra"]


def test_a_text_column_turned_numeric_is_a_changed_type():
    expected = [{"name": "colour", "type": "string"}]

    result = check(sizes().assign(colour=3), expected_columns=expected)

    assert result.problems == ["column 'colour' should be text (string) but now holds only numbers"]


def test_new_category_values_are_reported_not_rejected():
    result = check(sizes().assign(colour="green"), known_categories={"colour": ["blue", "red"]})

    assert result.ok
    assert result.new_categories == {"colour": ["green"]}


def test_more_classes_than_max_classes_is_a_problem():
    data = sizes(60).assign(label=[f"c{i % 12}" for i in range(60)])

    problems = check(data, max_classes=10).problems

    assert problems == [
        "the target column 'label' has 12 classes, more than MAX_CLASSES=10: "
        "is it the label, or an id or a measurement?"
    ]


def test_a_label_per_row_is_a_problem():
    problems = check(sizes(60).assign(label=[f"penguin-{i}" for i in range(60)]), max_classes=50).problems

    assert "the target column 'label' has 60 classes, more than MAX_CLASSES=50" in problems[0]


def test_a_class_too_small_for_both_training_and_holdout_is_a_problem():
    data = sizes(60)
    data.loc[0, "label"] = "rare"
    side = "the holdout" if holdout_mask(data.iloc[[0]], 0.25, split_key(data, "label"))[0] else "training"

    problems = check(data, holdout_fraction=0.25).problems

    assert problems == [
        "1 class(es) of 'label' have too few rows to appear in both training and the holdout: "
        f"'rare' (1 row(s), all in {side})"
    ]


def test_the_one_sided_class_check_gives_the_same_answer_from_the_rows_keys_given():
    data = pd.concat([sizes(60), sizes(60).head(8).assign(label=None)], ignore_index=True)
    data.loc[0, "label"] = "rare"
    data.loc[1, "label"] = "rare"
    key = split_key(data, "label")

    computed = check(data.dropna(subset=["label"]), key=key).problems
    given = check(data.dropna(subset=["label"]), key=key, keys=row_keys(data.dropna(subset=["label"]), key)).problems
    with_gaps = check(data, key=key, keys=row_keys(data, key)).problems

    assert computed == given
    assert "'rare' (2 row(s)" in given[0]
    assert with_gaps == check(data, key=key).problems
    assert with_gaps[0].startswith("the target column 'label' has 8 missing labels: ")


def test_classes_split_on_both_sides_pass():
    assert check(sizes(60), holdout_fraction=0.25, max_classes=2).ok


def champion_profile(rows: int = 300) -> dict:
    return build_profile(sizes(rows).drop(columns=["label"]), None)


def test_new_data_like_the_champions_training_data_records_no_drift():
    result = check(sizes(200), reference=champion_profile())

    assert result.ok
    assert result.warnings == []
    assert result.drift["verdict"] == "no drift"
    assert set(result.drift["features"]) == {"size", "colour"}


def test_drifted_new_data_is_a_warning_naming_the_feature_and_its_score():
    shifted = sizes(200).assign(size=lambda f: f["size"] + 6)

    result = check(shifted, reference=champion_profile())

    assert result.ok
    assert result.drift["verdict"] == "drift"
    assert result.drift["drifted"] == ["size"]
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("the new data drifted from the champion's training data: drift on size (PSI ")


def test_drifted_new_data_is_rejected_when_the_policy_says_so():
    shifted = sizes(200).assign(size=lambda f: f["size"] + 6)

    result = check(shifted, reference=champion_profile(), reject_on_drift=True)

    assert not result.ok
    assert result.problems[0].startswith("the new data drifted from the champion's training data: drift on size")
    assert result.problems[0].endswith("and the policy rejects drifted data")


def test_new_data_too_small_to_judge_drift_says_so_without_a_warning():
    shifted = sizes(40).assign(size=lambda f: f["size"] + 6)

    result = check(shifted, reference=champion_profile(), drift_thresholds=Thresholds(min_rows=50))

    assert result.ok
    assert result.warnings == []
    assert result.drift["verdict"] == "not enough data"


def test_without_a_champion_profile_no_drift_is_recorded():
    assert check(sizes()).drift == {}


def test_validate_takes_its_limits_from_the_caller_not_from_settings(settings):
    settings.MAX_CLASSES, settings.HOLDOUT_FRACTION = 2, 0.99
    data = sizes(60).assign(label=[f"c{i % 3}" for i in range(60)])

    with pytest.raises(TypeError, match="max_classes"):
        validate(data, "label", min_rows=3, max_missing_share=0.5)
    assert check(data, max_classes=3, holdout_fraction=0.25).ok
