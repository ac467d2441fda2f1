"""Drift scores on constructed shifts: quiet on the same distribution, loud on a real change."""

import json

import numpy as np
import pandas as pd
import pytest

from ml.drift import drift
from ml.drift.drift import DRIFT, NO_DRIFT, NOT_ENOUGH_DATA, Thresholds, chi_square_p_value, measure, psi
from ml.drift.profile import build_profile

ISLANDS = ["Biscoe", "Dream", "Torgersen"]
DRAWS = 100


def penguins(rows: int, seed: int, *, mass_shift: float = 0.0, islands=(0.5, 0.35, 0.15)) -> pd.DataFrame:
    """Penguin-like inputs: a continuous number with gaps, a number with three values, two categories."""
    rng = np.random.default_rng(seed)
    mass = rng.normal(4200 + mass_shift * 800, 800, rows)
    mass[rng.random(rows) < 0.01] = np.nan
    sex = rng.choice(["male", "female"], rows).astype(object)
    sex[rng.random(rows) < 0.03] = None
    return pd.DataFrame(
        {
            "body_mass_g": mass,
            "bill_length_mm": rng.normal(44, 5.5, rows).round(1),
            "island": rng.choice([*ISLANDS, "Anvers"], rows, p=[*islands, max(0.0, 1 - sum(islands))]),
            "sex": sex,
            "year": rng.choice([2007, 2008, 2009], rows),
        }
    )


def reference(rows: int = 257) -> dict:
    """The size of the penguins model's training split."""
    return build_profile(penguins(rows, seed=1), np.array(["Adelie"] * 40 + ["Gentoo"] * 30 + ["Chinstrap"] * 16))


def draws(rows: int, **shift) -> list[pd.DataFrame]:
    """DRAWS samples of `rows` rows, generated at once and cut up (one generator call per column)."""
    frame = penguins(rows * DRAWS, seed=2, **shift)
    return [frame.iloc[i * rows : (i + 1) * rows] for i in range(DRAWS)]


@pytest.mark.parametrize("rows", [200, 1000])
@pytest.mark.parametrize("reference_rows", [257, 5000])
def test_the_same_distribution_raises_a_false_alarm_in_at_most_5_percent_of_draws(rows, reference_rows):
    profile = reference(reference_rows)

    verdicts = [measure(live, profile).verdict for live in draws(rows)]

    assert verdicts.count(DRIFT) <= 0.05 * DRAWS
    assert verdicts.count(NO_DRIFT) + verdicts.count(DRIFT) == DRAWS


def test_a_shifted_number_is_detected_in_every_draw_and_named_first():
    profile = reference()

    reports = [measure(live, profile) for live in draws(200, mass_shift=1.0)]

    assert all(report.verdict == DRIFT for report in reports)
    assert all(report.drifted[0] == "body_mass_g" for report in reports)
    # The other features are unchanged: flagged no more often than the false-alarm rate allows.
    assert sum(report.drifted != ["body_mass_g"] for report in reports) <= 0.05 * DRAWS
    assert min(report.features["body_mass_g"].psi for report in reports) > 0.5


def test_a_new_category_mix_is_detected_in_every_draw_and_names_the_unseen_category():
    profile = reference()

    reports = [measure(live, profile) for live in draws(200, islands=(0.2, 0.2, 0.3))]

    assert all(report.verdict == DRIFT for report in reports)
    assert all(report.drifted[0] == "island" for report in reports)
    assert sum(report.drifted != ["island"] for report in reports) <= 0.05 * DRAWS
    assert all("Anvers" in report.features["island"].unseen for report in reports)


def test_a_new_category_in_a_tenth_of_the_rows_is_detected_in_nearly_every_draw():
    profile = reference()

    reports = [measure(live, profile) for live in draws(200, islands=(0.45, 0.315, 0.135))]

    assert sum("island" in report.drifted for report in reports) >= 0.95 * DRAWS


def test_bins_too_sparse_for_the_chi_square_approximation_get_a_simulated_p_value():
    p_value, test = chi_square_p_value([120, 130, 0, 2], [40, 42, 8, 0], simulations=999)

    assert test == "simulated chi-square (999 tables)"
    assert p_value < 0.01
    assert chi_square_p_value([120, 130, 0, 2], [40, 42, 0, 1], simulations=999)[0] > 0.3
    assert chi_square_p_value([120, 130], [40, 42])[1] == "chi-square"


def test_a_feature_drifts_only_past_both_the_psi_threshold_and_the_significance_level():
    profile = reference()
    live = draws(1000, mass_shift=0.3)[0]

    moderate = measure(live, profile).features["body_mass_g"]
    assert 0.05 < moderate.psi < 0.5
    assert moderate.p_value < 0.001

    assert measure(live, profile, thresholds=Thresholds(psi=moderate.psi + 0.01)).verdict == NO_DRIFT
    assert measure(live, profile, thresholds=Thresholds(psi=moderate.psi - 0.01)).drifted == ["body_mass_g"]


def test_fewer_rows_than_the_minimum_is_not_enough_data_whatever_the_scores():
    profile = reference()
    live = draws(20, mass_shift=3.0)[0]

    report = measure(live, profile, thresholds=Thresholds(min_rows=50))

    assert report.verdict == NOT_ENOUGH_DATA
    assert report.drifted == []
    assert report.features["body_mass_g"].psi > 1
    assert measure(live, profile, thresholds=Thresholds(min_rows=20)).verdict == DRIFT


def test_an_empty_frame_is_not_enough_data_without_scores():
    report = measure(penguins(0, seed=3), reference())

    assert report.verdict == NOT_ENOUGH_DATA
    assert report.features["island"].psi is None


def test_a_column_that_vanished_counts_as_entirely_missing():
    live = draws(200)[0].drop(columns=["sex"])

    report = measure(live, reference())

    assert report.features["sex"].missing_share == 1.0
    assert report.drifted == ["sex"]


def test_values_that_are_not_numbers_in_a_numeric_feature_count_as_missing():
    live = draws(200)[0].astype({"year": object})
    live.loc[live.index[:100], "year"] = "unknown"

    report = measure(live, reference())

    assert report.features["year"].missing_share == pytest.approx(0.5)
    assert "year" in report.drifted


def test_the_prediction_distribution_is_compared_with_the_holdouts():
    profile = reference()
    live = draws(300)[0]

    same = measure(live, profile, predictions=["Adelie"] * 140 + ["Gentoo"] * 105 + ["Chinstrap"] * 55)
    skewed = measure(live, profile, predictions=["Adelie"] * 40 + ["Gentoo"] * 30 + ["Chinstrap"] * 230)

    assert same.predictions is not None
    assert not same.predictions.drifted
    assert same.verdict == NO_DRIFT
    assert skewed.predictions.drifted
    assert skewed.verdict == DRIFT


def test_a_report_is_plain_json_with_its_thresholds():
    report = measure(draws(200, mass_shift=1.0)[0], reference())

    data = json.loads(json.dumps(report.as_dict()))

    assert data["verdict"] == DRIFT
    assert data["rows"] == 200
    assert data["thresholds"] == {"psi": 0.2, "alpha": 0.05, "min_rows": 200}
    assert data["drifted"] == ["body_mass_g"]
    assert set(data["features"]["body_mass_g"]) >= {"kind", "psi", "p_value", "drifted", "missing_share"}
    assert "body_mass_g (PSI" in report.summary()


def test_psi_is_zero_for_identical_counts_and_grows_with_the_shift():
    assert psi([50, 30, 20], [50, 30, 20]) == pytest.approx(0.0, abs=1e-12)
    assert psi([50, 30, 20], [40, 30, 30]) < psi([50, 30, 20], [20, 30, 50])


@pytest.mark.parametrize(
    ("options", "message"),
    [({"psi": 0}, "psi"), ({"alpha": 1.5}, "alpha"), ({"min_rows": 0}, "min_rows")],
)
def test_bad_thresholds_are_refused_naming_the_value(options, message):
    with pytest.raises(ValueError, match=message):
        Thresholds(**options)


def test_a_text_column_is_binned_as_its_values_one_by_one_would_be():
    """Counted per distinct value (a text column of a million rows made a million Python strings)."""

    def one_by_one(column: pd.Series, reference: dict) -> tuple[list[int], list[str]]:
        values = column.to_numpy(dtype=object)
        present = values[~pd.isna(values)].astype(str)
        found, counts = np.unique(present, return_counts=True)
        seen = dict(zip(found.tolist(), counts.tolist(), strict=True))
        named = [seen.pop(name, 0) for name in reference["counts"]]
        return [*named, sum(seen.values()), len(values) - len(present)], sorted(seen, key=lambda v: -seen[v])[:10]

    rng = np.random.default_rng(4)
    words = rng.choice(["Biscoe", "Dream", "b", "a", "Torgersen", "é", "Z", "Dream "], 5000).astype(object)
    words[rng.random(5000) < 0.05] = None
    reference = {"kind": "categorical", "counts": {"Dream": 10, "Biscoe": 5, "Mars": 1}, "counts_other": 2}
    columns = [
        pd.Series(words, dtype="str"),
        pd.Series(words, dtype="string"),
        pd.Series(words, dtype=object),
        pd.Series([1 if flip else "1" for flip in rng.random(5000) < 0.5], dtype=object),
        pd.Series(rng.choice([True, False], 5000)),
        pd.Series(words).astype("category"),
    ]
    for column in columns:
        binned = drift._bin_categories(column, reference)
        assert (binned.live, binned.unseen) == one_by_one(column, reference), column.dtype
