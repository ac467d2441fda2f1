"""A body already in columns (V2's inputs, MLflow's `inputs` as columns) is checked as it comes, with
the same rules and the same words as the same data sent as rows: the same arrays and warnings when
it is good, the same message, status, rows and fields when it is not."""

import math

import numpy as np
import pytest

from predictor.api import inputs, predict
from predictor.serving.holder import holder
from tests.predictor.api.test_v2 import v2_inputs

SCHEMA = [
    inputs.Column("island", "string", True),
    inputs.Column("bill_length_mm", "double", True),
    inputs.Column("sex", "string", False),
    inputs.Column("year", "long", True),
    inputs.Column("body_mass_g", "double", False),
    inputs.Column("ringed", "boolean", False),
    inputs.Column("seen_on_year", "double", False),
    inputs.Column("seen_on_month", "double", False),
    inputs.Column("seen_on_dayofweek", "double", False),
]
CATEGORIES = {"island": {"Biscoe", "Dream"}, "sex": {"female", "male"}}
DATES = {"seen_on": False}
IGNORED = frozenset({"band"})
GOOD = [
    {"island": "Dream", "bill_length_mm": 39.1, "sex": "male", "year": 2007, "body_mass_g": 3750.0, "ringed": True},
    {"island": "Biscoe", "bill_length_mm": 40, "sex": None, "year": 2008.0, "body_mass_g": None, "ringed": None},
    {"island": "Dream", "bill_length_mm": 41.5, "sex": "female", "year": 2009, "body_mass_g": 3800, "ringed": False},
]
for _row, _date in zip(GOOD, ["2026-12-01", None, "2026-01-01T10:00:00Z"], strict=True):
    _row["seen_on"] = _date


def _with(row: int, **changes):
    return [({**r, **changes} if i == row else dict(r)) for i, r in enumerate(GOOD)]


def _without(name: str):
    return [{k: v for k, v in r.items() if k != name} for r in GOOD]


CASES = {
    "valid": GOOD,
    "an id column sent with the whole record": [{**r, "band": f"B{i}"} for i, r in enumerate(GOOD)],
    "an unknown field": [{**r, "bill_lenght_mm": 1.0} for r in GOOD],
    "a missing field": _without("year"),
    "a string in a number column": _with(1, bill_length_mm="long"),
    "a boolean in a number column": _with(2, bill_length_mm=True),
    "a fraction in an integer column": _with(0, year=2007.5),
    "a number in a text column": _with(2, island=3),
    "a string in a boolean column": _with(0, ringed="yes"),
    "an unseen category": _with(1, island="Torgersen"),
    "a gap in a required column": _with(2, island=None),
    "a gap in an optional column": _with(0, sex=None),
    "NaN as a gap in an optional number column": _with(0, body_mass_g=float("nan")),
    "NaN in a required number column": _with(1, bill_length_mm=float("nan")),
    "infinity": _with(1, bill_length_mm=float("inf")),
    "a number too large for a float": _with(0, year=10**400),
    "a value that is no date": _with(2, seen_on="last tuesday"),
    "several bad values in several columns": [{**r, "year": "x", "island": 1} for r in GOOD],
}

ACCEPTED = {
    "an id column sent with the whole record",
    "an unseen category",
    "a gap in an optional column",
    "NaN as a gap in an optional number column",
}


def _as_split(rows):
    names = list(rows[0])
    return {"dataframe_split": {"columns": names, "data": [[r[n] for n in names] for r in rows]}}


def _as_columns(rows):
    return inputs.Columns({name: [r[name] for r in rows] for name in rows[0]})


def _outcome(body, max_rows=10):
    """What the check comes to, in plain values (a gap, NaN or None, compared as None)."""
    try:
        checked = inputs.check(body, SCHEMA, CATEGORIES, max_rows, ignored=IGNORED, dates=DATES)
    except inputs.InvalidInput as exc:
        return ("refused", exc.status, exc.message, exc.errors)
    columns = {
        name: (values.dtype.str, [None if isinstance(v, float) and math.isnan(v) else v for v in values.tolist()])
        for name, values in checked.columns.items()
    }
    return ("checked", columns, checked.warnings)


@pytest.mark.parametrize("case", list(CASES))
def test_columns_are_checked_as_the_same_rows_are(case):
    rows = CASES[case]

    as_columns = _outcome(_as_columns(rows))

    assert as_columns == _outcome(_as_split(rows))
    if case == "valid":
        assert as_columns[0] == "checked"
    elif case not in ACCEPTED:
        assert as_columns[0] == "refused", as_columns


@pytest.mark.parametrize(
    "case",
    ["a string in a number column", "a gap in a required column", "an unseen category", "a value that is no date"],
)
def test_a_bad_value_is_named_by_the_same_row_and_field_as_in_records(case):
    rows = CASES[case]

    assert _outcome(_as_columns(rows)) == _outcome({"instances": rows})


def test_the_bad_row_and_field_are_named():
    refused = _outcome(_as_columns(_with(1, bill_length_mm="long")))

    assert refused == (
        "refused",
        400,
        "some values do not match the model's input schema",
        [{"row": 1, "field": "bill_length_mm", "message": 'must be a finite number, got "long"'}],
    )


@pytest.mark.parametrize(("count", "status"), [(0, 400), (11, 413)])
def test_the_row_limits_are_the_same(count, status):
    rows = [GOOD[i % 3] for i in range(count)]
    columns = inputs.Columns({name: [r[name] for r in rows] for name in GOOD[0]})
    split = {"dataframe_split": {"columns": list(GOOD[0]), "data": [list(r.values()) for r in rows]}}

    assert _outcome(columns)[:2] == ("refused", status)
    assert _outcome(columns) == _outcome(split)
    assert inputs.sent_rows(columns) == inputs.sent_rows(split) == count


def test_columns_of_different_lengths_are_refused():
    body = inputs.Columns({name: [r[name] for r in GOOD] for name in GOOD[0]} | {"year": [2007]})

    refused = _outcome(body)

    assert refused[:2] == ("refused", 400)
    assert "same number" in refused[2]


def test_the_predict_function_answers_columns_as_it_answers_rows(served, rows):
    models = holder()
    names = list(rows[0])

    by_columns = predict.predict(inputs.Columns({n: [r[n] for r in rows] for n in names}), models.current, models, None)
    by_rows = predict.predict({"instances": rows}, models.current, models, None)

    assert by_columns.status == by_rows.status == 200
    assert by_columns.body["predictions"] == by_rows.body["predictions"]
    assert np.array_equal(by_columns.body["probabilities"], by_rows.body["probabilities"])


def _handed(monkeypatch):
    """The bodies the protocols hand the predict function."""
    handed = []
    real = predict.predict

    def spy(body, *args):
        handed.append(body)
        return real(body, *args)

    monkeypatch.setattr(predict, "predict", spy)
    return handed


def test_v2_and_mlflows_columns_reach_the_predict_function_as_columns(client, served, rows, monkeypatch):
    handed = _handed(monkeypatch)
    names = list(rows[0])

    v2 = client.post(
        f"/v2/models/{served.model_name}/infer", {"inputs": v2_inputs(rows)}, content_type="application/json"
    )
    mlflow = client.post(
        "/invocations", {"inputs": {n: [r[n] for r in rows] for n in names}}, content_type="application/json"
    )

    assert v2.status_code == 200, v2.content
    assert mlflow.status_code == 200, mlflow.content
    assert [type(body) for body in handed] == [inputs.Columns, inputs.Columns]
    assert handed[0] == handed[1] == inputs.Columns({n: [r[n] for r in rows] for n in names})
