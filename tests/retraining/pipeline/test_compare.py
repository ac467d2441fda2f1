"""The compare step's holdout over in-memory resources: no compared model is scored on a row it
trained on, the split key is inherited, reordered rows are no new data, and a model just
replaced needs the stricter level to come back."""

from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest

from demo.batches import demo_frame
from ml import lineage
from ml.features import prepare_features
from ml.keys import row_keys
from retraining.pipeline import validation
from retraining.pipeline.state import RunState
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS

run = run_in_memory


@pytest.fixture
def resources(settings):
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    return memory_resources(demo_frame(1))


class Seen:
    """A model that remembers every row it was asked to score."""

    def __init__(self, model) -> None:
        self.model, self.rows = model, []
        self.classes_, self.steps = model.classes_, model.steps

    def predict_proba(self, features):
        self.rows.append(features)
        return self.model.predict_proba(features)

    def predict(self, features):
        self.rows.append(features)
        return self.model.predict(features)


def spy_on_loads(resources, monkeypatch) -> dict[str, Seen]:
    seen: dict[str, Seen] = {}
    load = resources.models.load

    def loading(version: str):
        seen[version] = Seen(load(version))
        return seen[version]

    monkeypatch.setattr(resources.models, "load", loading)
    return seen


def assert_never_scored_on_its_training_rows(resources, seen: dict[str, Seen]) -> None:
    for version, model in seen.items():
        rows = lineage.trained_on(resources.models, version)
        for features in model.rows:
            assert not np.isin(row_keys(features, rows.key), rows.keys).any(), f"v{version} scored a row it saw"


def test_the_champions_training_rows_are_dropped_from_a_larger_holdout_and_counted(resources, settings, monkeypatch):
    run(resources, GOOD_PARAMS)
    settings.HOLDOUT_FRACTION = 0.5
    resources.source.frame = demo_frame(2)
    seen = spy_on_loads(resources, monkeypatch)

    state = run(resources, GOOD_PARAMS)

    exclusion = state.verdict.exclusion
    assert exclusion["excluded"]["champion v1"] > 0
    assert exclusion["clean"] == exclusion["rows"] - exclusion["excluded"]["champion v1"]
    assert state.verdict.paired.rows == exclusion["clean"]
    assert len(state.challenger.score.predictions) == exclusion["clean"]
    assert any("champion v1 was trained on" in reason for reason in state.reasons)
    assert_never_scored_on_its_training_rows(resources, seen)


def test_with_no_row_to_drop_the_challengers_score_stands_and_is_not_computed_again(resources, monkeypatch):
    from ml import evaluate as evaluate_module
    from ml.evaluate import evaluate

    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2)
    scored = []
    real_metrics = evaluate_module.label_metrics
    monkeypatch.setattr(evaluate_module, "label_metrics", lambda *a: scored.append(a) or real_metrics(*a))

    state = run(resources, GOOD_PARAMS)

    # Scored twice, by evaluate: the challenger when trained, the champion when compared; not a third time.
    assert len(scored) == 2

    exclusion = state.verdict.exclusion
    assert sum(exclusion["excluded"].values()) == 0
    assert exclusion["clean"] == exclusion["rows"] == len(state.holdout)
    assert state.verdict.paired.rows == len(state.holdout)
    challenger = resources.models.models[state.challenger.version]
    assert state.challenger.score.metrics == evaluate(challenger, state.holdout, "species").metrics


def test_a_version_that_adds_a_column_keeps_the_champions_split_key(resources, monkeypatch):
    run(resources, GOOD_PARAMS)
    keys = []
    validate = validation.validate
    monkeypatch.setattr(validation, "validate", lambda *a, **k: keys.append(k["key"]) or validate(*a, **k))
    grown = demo_frame(2).assign(ring=lambda f: np.arange(len(f)) % 7)
    resources.source.frame = grown
    seen = spy_on_loads(resources, monkeypatch)

    state = run(resources, GOOD_PARAMS)

    assert keys == [lineage.recorded_key(resources.models, "1")] == [state.split_key]
    assert "ring" not in state.split_key.columns
    assert_never_scored_on_its_training_rows(resources, seen)


def test_too_few_clean_rows_keep_the_champion_without_a_decision(resources, settings):
    run(resources, GOOD_PARAMS)
    settings.MIN_CLEAN_HOLDOUT_ROWS = 10_000
    resources.source.frame = demo_frame(2)

    state = run(resources, GOOD_PARAMS)

    assert state.status == "kept"
    assert state.verdict.decision.rule == "too_few_clean_rows"
    assert "no decision on contaminated rows" in state.reasons[0]
    assert resources.models.loaded == []


def first_published_since(state: RunState, frame) -> int:
    """How many of the run's holdout rows are not among `frame`'s rows, by key."""
    return int((~np.isin(state.holdout_keys, row_keys(frame, state.split_key))).sum())


def test_a_champion_logged_without_its_training_rows_is_compared_only_on_rows_published_after_it(
    resources, settings, monkeypatch
):
    run(resources, GOOD_PARAMS)
    del resources.models.artifacts["1"][lineage.TRAINING_ROWS]
    settings.MIN_CLEAN_HOLDOUT_ROWS = 5
    resources.source.frame = demo_frame(2)
    seen = spy_on_loads(resources, monkeypatch)

    state = run(resources, GOOD_PARAMS)

    new = first_published_since(state, demo_frame(1))
    assert 5 <= new < len(state.holdout)
    assert state.verdict.paired.rows == state.verdict.exclusion["clean"] == new
    assert any(reason.startswith("champion v1's training rows unknown") for reason in state.reasons)
    assert not any("no compared model was trained on" in reason for reason in state.reasons)
    assert all(len(features) == new for features in seen["1"].rows)


def test_without_a_history_of_publication_no_row_is_proved_new_to_a_champion_of_unknown_rows(
    resources, settings, monkeypatch
):
    run(resources, GOOD_PARAMS)
    del resources.models.artifacts["1"][lineage.TRAINING_ROWS]
    settings.MIN_CLEAN_HOLDOUT_ROWS = 5
    resources.source.frame = demo_frame(2)
    # What a plain data file answers.
    monkeypatch.setattr(resources.source, "published", lambda version, until: None)

    state = run(resources, GOOD_PARAMS)

    assert state.status == "kept"
    assert state.verdict.decision.rule == "too_few_clean_rows"
    assert state.reasons[0].startswith(
        f"champion v1's training rows unknown: 0 of the {len(state.holdout)} holdout rows can be proved new to it: "
        "the data source keeps no history of when its rows were published, fewer than MIN_CLEAN_HOLDOUT_ROWS=5"
    )
    assert resources.models.loaded == []


def test_the_regression_check_compares_a_previous_champion_of_unknown_rows_only_on_rows_published_after_it(
    resources, settings
):
    _v2_served_by_hand_after_v1(resources)
    del resources.models.artifacts["1"][lineage.TRAINING_ROWS]
    settings.MIN_CLEAN_HOLDOUT_ROWS = 5
    resources.source.frame = demo_frame(3)

    state = run(resources, WEAK_PARAMS)

    assert state.verdict.previous.version == "1"
    rollback = state.verdict.exclusion["rollback"]
    new = first_published_since(state, demo_frame(1))
    assert 5 <= new < len(state.holdout)
    assert rollback["clean"] == len(state.verdict.previous_score.predictions) == new
    assert any(reason.startswith("previous champion v1's training rows unknown") for reason in rollback["reasons"])


def test_a_previous_champion_of_unknown_rows_with_too_few_rows_published_after_it_is_not_checked(resources, settings):
    _v2_served_by_hand_after_v1(resources)
    del resources.models.artifacts["1"][lineage.TRAINING_ROWS]
    settings.MIN_CLEAN_HOLDOUT_ROWS = 50
    resources.source.frame = demo_frame(3)

    state = run(resources, WEAK_PARAMS)

    assert state.verdict.previous is None
    assert resources.deployments.champion().version == "2"
    assert any(
        reason.startswith("no rollback check: previous champion v1's training rows unknown")
        and "MIN_CLEAN_HOLDOUT_ROWS=50" in reason
        for reason in state.reasons
    )


def test_the_same_rows_in_another_order_are_no_new_data(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(1).sample(frac=1, random_state=3)

    state = run(resources, GOOD_PARAMS)

    assert state.status == "skipped"
    assert state.reasons[0].startswith("no new data: the same rows v1 was trained on, in another order")


def test_the_same_rows_in_another_order_train_the_same_model(resources, settings):
    first = run(resources, GOOD_PARAMS)
    resources.deployments.served.clear()
    resources.source.frame = demo_frame(1).sample(frac=1, random_state=3)

    second = run(resources, GOOD_PARAMS)

    features = prepare_features(demo_frame(1), settings.TARGET_COLUMN)
    ours, theirs = (resources.models.models[s.challenger.version] for s in (first, second))
    assert np.array_equal(ours.predict_proba(features), theirs.predict_proba(features))


def test_every_model_records_what_it_was_made_from(resources, settings):
    state = run(resources, GOOD_PARAMS)

    made = lineage.recorded(resources.models, state.challenger.version)
    assert made == state.lineage
    assert made["target"] == "species"
    assert "species" not in made["features"]
    assert made["split"] == state.split_key.as_dict()
    assert made["app_version"] == settings.APP_VERSION
    assert made["data"]["md5"] == state.dataset.md5
    assert made["data"]["fingerprint"] == state.fingerprint
    assert resources.models.tags["1"]["lineage.target"] == "species"


def _v2_served_by_hand_after_v1(resources, **policy) -> RunState:
    """v1 served, then a weak v2 served by hand: the next kept run checks v2 against v1."""
    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2)
    weak = run(resources, WEAK_PARAMS)
    resources.deployments.deploy(weak.challenger.version, source="registry")
    return weak


def test_a_model_replaced_recently_needs_the_stricter_level_to_come_back(resources):
    _v2_served_by_hand_after_v1(resources)
    resources.source.frame = demo_frame(3)

    state = run(resources, WEAK_PARAMS, significance=0.9, return_significance=1e-12)

    assert state.verdict.previous.version == "1"
    assert state.verdict.rollback is None
    assert resources.deployments.champion().version == "2"


def test_a_model_replaced_long_ago_comes_back_at_the_usual_level(resources):
    _v2_served_by_hand_after_v1(resources)
    old = resources.deployments.served[0].created_at - timedelta(days=90)
    resources.deployments.served[:] = [replace(served, created_at=old) for served in resources.deployments.served]
    resources.source.frame = demo_frame(3)

    state = run(resources, WEAK_PARAMS, significance=0.9, return_significance=1e-12)

    assert state.verdict.rollback is not None
    assert resources.deployments.champion().version == "1"
    assert "previous champion v1" in state.verdict.exclusion["rollback"]["excluded"]
