"""The reference profile of a model's training data: what live inputs are later compared with."""

import json

import numpy as np
import pandas as pd
import pytest

from ml.drift.profile import (
    MAX_CATEGORIES,
    OTHER,
    PROFILE_VERSION,
    ProfileError,
    bin_counts,
    build_profile,
    summarise,
)


def training(rows: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    mass = rng.normal(4000, 500, rows)
    mass[:50] = np.nan
    return pd.DataFrame(
        {
            "body_mass_g": mass,
            "island": rng.choice(["Biscoe", "Dream", "Torgersen"], rows, p=[0.5, 0.35, 0.15]),
            "year": rng.choice([2007, 2008, 2009], rows),
        }
    )


def test_a_profile_is_plain_json_and_names_its_format_version():
    profile = build_profile(training(), np.array(["Adelie", "Gentoo"]))

    assert json.loads(json.dumps(profile)) == profile
    assert profile["profile_version"] == PROFILE_VERSION
    assert profile["rows"] == 1000
    assert list(profile["features"]) == ["body_mass_g", "island", "year"]


def test_a_number_gets_quantiles_a_histogram_with_fixed_edges_and_its_missing_share():
    numeric = build_profile(training(), None)["features"]["body_mass_g"]

    assert numeric["kind"] == "numeric"
    assert numeric["missing"] == 50
    assert numeric["missing_share"] == pytest.approx(0.05)
    assert numeric["quantiles"]["0.5"] == pytest.approx(4000, abs=60)
    assert numeric["quantiles"]["0.05"] < numeric["quantiles"]["0.95"]
    edges, counts = numeric["histogram"]["edges"], numeric["histogram"]["counts"]
    assert edges == sorted(edges)
    assert len(counts) == len(edges) + 1
    assert sum(counts) == 950
    # Edges at the training deciles: each bin holds about a tenth of the training rows.
    assert max(counts) - min(counts) <= 2


def test_a_numbers_edges_and_quantiles_come_from_one_partition_and_equal_separate_ones(monkeypatch):
    from ml.drift.profile import BINS, QUANTILES

    values = np.random.default_rng(5).normal(0, 1, 10_001)
    quantile, calls = np.quantile, []
    monkeypatch.setattr(np, "quantile", lambda *a, **k: calls.append(a) or quantile(*a, **k))

    profile = build_profile(pd.DataFrame({"x": values}), None)["features"]["x"]

    assert len(calls) == 1
    monkeypatch.undo()
    assert profile["histogram"]["edges"] == np.unique(np.quantile(values, np.arange(1, BINS) / BINS)).tolist()
    assert list(profile["quantiles"].values()) == np.quantile(values, QUANTILES).tolist()


def test_live_values_are_binned_with_the_reference_edges_open_at_both_ends():
    numeric = build_profile(training(), None)["features"]["body_mass_g"]
    edges = numeric["histogram"]["edges"]

    counts = bin_counts(np.array([-1e9, edges[0], edges[0] + 1e-9, 1e9, np.nan]), edges)

    assert counts[0] == 2
    assert counts[1] == 1
    assert counts[-1] == 1
    assert sum(counts) == 4


def test_a_number_with_few_distinct_values_gets_one_bin_per_value():
    year = build_profile(training(), None)["features"]["year"]

    assert [c for c in year["histogram"]["counts"] if c] == pytest.approx([333, 333, 333], abs=40)


def test_a_category_gets_its_frequencies_and_an_other_bucket_beyond_the_cap():
    rows = 10 * (MAX_CATEGORIES + 5)
    frame = pd.DataFrame({"code": [f"c{i % (MAX_CATEGORIES + 5):02d}" for i in range(rows)]})
    frame.loc[:4, "code"] = None

    code = build_profile(frame, None)["features"]["code"]

    assert code["kind"] == "categorical"
    assert len(code["counts"]) == MAX_CATEGORIES
    assert code["missing"] == 5
    assert sum(code["counts"].values()) + code["counts_other"] + code["missing"] == rows
    assert code["counts_other"] > 0
    assert OTHER not in code["counts"]


def test_booleans_are_categories_not_numbers():
    flag = build_profile(pd.DataFrame({"flag": [True, False, True]}), None)["features"]["flag"]

    assert flag["kind"] == "categorical"
    assert flag["counts"] == {"True": 2, "False": 1}


def test_the_holdout_predictions_give_the_class_distribution():
    profile = build_profile(training(), np.array(["Adelie", "Adelie", "Gentoo", "Chinstrap"]))

    assert profile["predictions"] == {"rows": 4, "counts": {"Adelie": 2, "Gentoo": 1, "Chinstrap": 1}}


def test_without_holdout_predictions_there_is_no_prediction_distribution():
    assert build_profile(training(), None)["predictions"] is None


def test_an_empty_frame_is_refused_with_a_clear_error():
    with pytest.raises(ProfileError, match="no rows"):
        build_profile(pd.DataFrame({"x": []}), None)


def test_a_regressions_predictions_are_profiled_and_judged_as_a_distribution():
    import numpy as np
    import pandas as pd

    from ml.drift import drift
    from ml.drift.profile import build_profile

    rng = np.random.default_rng(3)
    features = pd.DataFrame({"x": rng.normal(size=2000)})
    profile = build_profile(features, rng.normal(200, 40, 2000))

    assert profile["predictions"]["kind"] == "numeric"
    assert set(profile["predictions"]["quantiles"]) >= {"0.05", "0.5", "0.95"}
    like = drift.measure(features.head(800), profile, predictions=[str(float(v)) for v in rng.normal(200, 40, 800)])
    assert not like.predictions.drifted
    shifted = drift.measure(features.head(800), profile, predictions=rng.normal(260, 40, 800))
    assert shifted.predictions.drifted
    assert drift.PREDICTIONS in shifted.drifted


def test_a_profiles_summary_keeps_each_columns_reference_figures_and_nothing_per_bin():
    frame = pd.DataFrame({"n": [1.0, 2.0, 3.0, None], "c": ["a", "a", "b", None]})

    summary = summarise(build_profile(frame, np.array(["x", "y"])))

    assert summary["rows"] == 4
    assert summary["features"]["n"] == {
        "kind": "numeric", "rows": 4, "missing_share": 0.25, "mean": 2.0,
        "std": pytest.approx(0.8165, abs=1e-4), "median": 2.0,
    }  # fmt: skip
    # Shares of all rows, as drift bins them: the missing ones are a bin of their own.
    assert summary["features"]["c"] == {
        "kind": "categorical", "rows": 4, "missing_share": 0.25, "shares": {"a": 0.5, "b": 0.25},
    }  # fmt: skip
    assert summary["predictions"] == {"kind": "categorical", "rows": 2, "shares": {"x": 0.5, "y": 0.5}}


def test_a_summarys_rare_categories_are_one_share_as_drift_counts_them():
    frame = pd.DataFrame({"c": [f"v{n}" for n in range(MAX_CATEGORIES)] + ["v0", "rare"]})

    shares = summarise(build_profile(frame, None))["features"]["c"]["shares"]

    assert shares[OTHER] == pytest.approx(1 / (MAX_CATEGORIES + 2))
    assert len(shares) == MAX_CATEGORIES + 1
