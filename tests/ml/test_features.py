"""Features and labels as training and scoring read them from a frame."""

import pandas as pd

from ml.features import labels, prepare_features
from tests.support.frames import sizes


def test_prepared_text_is_plain_python_with_one_object_per_distinct_value():
    data = sizes(3000).assign(colour=lambda d: d["colour"].where(d.index % 10 != 0, None).astype("str"))
    as_before = data.drop(columns="label").assign(
        colour=data["colour"].astype(object).where(data["colour"].notna(), None)
    )

    prepared = prepare_features(data, "label")

    pd.testing.assert_frame_equal(prepared, as_before)
    assert {type(v) for v in prepared["colour"]} == {str, type(None)}
    # One Python string a row would be ~60 bytes a row; here the rows share two.
    assert len({id(v) for v in prepared["colour"] if v is not None}) == 2


def test_labels_are_the_text_sklearn_was_given_before():
    column = pd.Series(["big", None, "small", "big"], dtype="str")

    given = labels(column)

    expected = column.astype(str).to_numpy()
    assert given.dtype == expected.dtype == object
    assert [type(v) for v in given] == [type(v) for v in expected]
    assert given[[0, 2, 3]].tolist() == ["big", "small", "big"]
    assert given[1] != given[1]
    assert labels(pd.Series([1, 2, 1])).tolist() == ["1", "2", "1"]
