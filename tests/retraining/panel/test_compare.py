"""Comparing two runs: the paired test only where both models were scored on the same rows, the
data versions, the setups and the drift each run recorded."""

import pytest

from retraining.models import RetrainingRun
from retraining.panel.compare import compare, counterpart

PAIRED = {
    "test": "bootstrap", "metric": "accuracy", "rows": 506, "disagreements": 31, "identical": False,
    "difference": 0.083, "low": 0.051, "high": 0.115, "level": 0.05, "p_value": 0.0002,
    "p_method": "paired randomization test", "detectable": 0.03,
}  # fmt: skip
COLUMNS = {"columns": {"tenure": {"kind": "numeric"}, "plan": {"kind": "categorical"}}}


@pytest.fixture(autouse=True)
def plain_static(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def profile(tenure_mean: float, missing: float, plans: dict[str, float]) -> dict:
    """A run's drift profile in brief (ml/drift/profile.summarise)."""
    return {
        "rows": 220,
        "features": {
            "tenure": {"kind": "numeric", "rows": 220, "missing_share": missing, "mean": tenure_mean, "std": 4.0,
                       "median": tenure_mean - 1},
            "plan": {"kind": "categorical", "rows": 220, "missing_share": 0.0, "shares": plans},
        },
        "predictions": {"kind": "categorical", "rows": 55, "shares": {"yes": 0.2, "no": 0.8}},
    }  # fmt: skip


def run(**fields) -> RetrainingRun:
    return RetrainingRun.objects.create(trigger="schedule", active=None, **{"status": "deployed", **fields})


@pytest.fixture
def history(db):
    first = run(
        model_version="1",
        challenger_metrics={"accuracy": 0.7636},
        dataset={"md5": "m1", "rev": "r1", "path": "data/churn.csv"},
        rows={"total": 275, "train": 220, "holdout": 55},
        lineage={"columns": COLUMNS, "app_version": "abc123"},
        setup={"estimator": "random_forest", "params": {"n_estimators": 50}},
        profile=profile(12.0, 0.0, {"basic": 0.75, "pro": 0.25}),
    )
    skipped = run(status="skipped", dataset={"md5": "m1"})
    second = run(
        model_version="2",
        champion_version="1",
        champion_metrics={"accuracy": 0.8123},
        challenger_metrics={"accuracy": 0.8953},
        comparison=PAIRED,
        holdout_exclusion={
            "clean": 506,
            "training_rows_vs_champion": {"champion": "1", "added": 1804, "removed": 0, "kept": 220},
            "holdout_rows_vs_champion": {"champion": "1", "added": 451, "removed": 0, "kept": 55},
        },
        dataset={"md5": "m2", "rev": "r2", "path": "data/churn.csv"},
        rows={"total": 2530, "train": 2024, "holdout": 506},
        validation={"drift": {"verdict": "drift", "features": {"tenure": {"psi": 0.31}, "plan": {"psi": 0.02}}}},
        profile=profile(15.5, 0.1, {"basic": 0.6, "pro": 0.3}),
    )
    return first, skipped, second


def test_a_run_judged_against_an_earlier_model_shows_the_paired_test_on_its_rows(history):
    first, _, second = history

    seen = compare(second, first)  # either order: the older run is on the left

    assert (seen["older"].run, seen["newer"].run) == (first, second)
    paired = seen["paired"]
    assert (paired.older_model, paired.newer_model, paired.rows, paired.by_run) == ("1", "2", 506, second.pk)
    assert paired.metrics == [("accuracy", 0.8123, 0.8953)]
    assert paired.comparison.p_value == 0.0002
    assert seen["own_metrics"] == [("accuracy", 0.7636, 0.8953)]
    assert seen["older"].kinds == [("categorical", ["plan"]), ("numeric", ["tenure"])]
    assert ("code version", "abc123") in seen["older"].setup
    assert seen["newer"].drift[0] == ("tenure", 0.31)


def test_models_never_scored_on_the_same_rows_get_no_paired_figures(db):
    left = run(model_version="3", challenger_metrics={"accuracy": 0.7})
    right = run(model_version="4", champion_version="2", challenger_metrics={"accuracy": 0.8})

    assert compare(left, right)["paired"] is None


def test_one_run_is_compared_with_the_run_that_made_its_champion(history):
    first, skipped, second = history

    assert counterpart(second.pk) == first.pk
    assert counterpart(skipped.pk) == first.pk  # no champion recorded: the latest earlier model
    assert counterpart(first.pk) is None


def test_the_page_shows_both_runs_and_says_what_is_not_paired(history, client, staff_user):
    first, skipped, second = history
    client.force_login(staff_user)

    page = client.get(f"/panel/runs/compare/?a={second.pk}").content.decode()
    unpaired = client.get(f"/panel/runs/compare/?a={skipped.pk}&b={second.pk}").content.decode()

    assert f'data-compare-side="{first.pk}"' in page
    assert f'data-compare-side="{second.pk}"' in page
    assert "p-value 0.0002" in page
    assert "data-not-paired" in unpaired
    assert "1804 added, 0 removed, 220 kept" in page
    assert "rows added and removed between them are unknown" in unpaired


@pytest.mark.parametrize(
    ("query", "problem"),
    [("a=abc&b=1", "a=&#x27;abc&#x27; is not a run number"), ("a=1&b=99999", "there is no run #99999")],
)
def test_a_wrong_run_is_named(history, client, staff_user, query, problem):
    client.force_login(staff_user)

    page = client.get(f"/panel/runs/compare/?{query}").content.decode()

    assert problem in page
    assert "data-compare-metrics" not in page


def test_runs_and_deployments_link_to_the_comparison(history, client, staff_user):
    from predictor.models import Deployment

    _first, _, second = history
    second.deployment = Deployment.objects.create(model_name="m", version="2", source="pipeline")
    second.save(update_fields=["deployment"])
    client.force_login(staff_user)

    assert f"/panel/runs/compare/?a={second.pk}" in client.get(f"/panel/runs/{second.pk}/").content.decode()
    assert f"/panel/runs/compare/?a={second.pk}" in client.get("/panel/deployments/").content.decode()


def test_the_drift_profiles_are_side_by_side_with_their_difference(history):
    first, _, second = history

    rows = {row.name: row for row in compare(first, second)["profiles"]}

    tenure = rows["tenure"]
    assert (tenure.older, tenure.newer) == (first.profile["features"]["tenure"], second.profile["features"]["tenure"])
    assert tenure.change == ["mean +3.5 (+0.88 sd)", "missing +10.0 pt"]
    assert rows["plan"].change == ["basic -15.0 pt", "pro +5.0 pt"]
    assert rows["predictions"].change == []
    assert next(iter(rows)) == "tenure"  # the largest change first


def test_a_column_only_one_model_profiled_is_said_so(db):
    left = run(profile={"rows": 9, "features": {"a": {"kind": "numeric", "rows": 9, "missing_share": 0.0}}})
    right = run(profile={"rows": 9, "features": {}})

    rows = compare(left, right)["profiles"]

    assert [(row.name, row.change) for row in rows] == [("a", [f"not in run #{right.pk}'s profile"])]
    assert compare(run(), run())["profiles"] == []


def test_the_page_shows_the_holdouts_rows_added_and_removed_and_both_profiles(history, client, staff_user):
    _first, skipped, second = history
    client.force_login(staff_user)

    page = client.get(f"/panel/runs/compare/?a={second.pk}").content.decode()
    half = client.get(f"/panel/runs/compare/?a={skipped.pk}&b={second.pk}").content.decode()
    unrecorded = client.get(f"/panel/runs/compare/?a={skipped.pk}&b={run().pk}").content.decode()

    assert "Holdout rows from v1 to v2, by row key: 451 added, 0 removed, 55 kept" in page
    assert "data-drift-profiles" in page
    assert "mean +3.5 (+0.88 sd)" in page
    assert "basic 75.0%" in page
    assert "basic 60.0%" in page
    assert "not profiled" in half
    assert "data-holdout-changed" not in half
    assert "data-no-profiles" in unrecorded


def test_models_are_compared_by_version_too(history, client, staff_user):
    first, _, second = history
    client.force_login(staff_user)

    page = client.get("/panel/runs/compare/?a=v2&b=v1").content.decode()
    unknown = client.get("/panel/runs/compare/?a=v9&b=v1").content.decode()

    assert f'data-compare-side="{first.pk}"' in page
    assert f'data-compare-side="{second.pk}"' in page
    assert "no run made model v9" in unknown
