"""The whole pipeline over in-memory resources (Kedro style): every branch of the step list, in
seconds. The same runs against git, DVC, MLflow and the database are in test_flow.py."""

from dataclasses import replace

import pandas as pd
import pytest

from demo.batches import demo_frame
from ml.drift.profile import summarise
from ml.keys import row_keys
from ml.split import canonical, split, training_rows
from retraining.pipeline import flow
from retraining.pipeline.flow import Step
from retraining.pipeline.state import RunState
from tests.support.in_memory import StepLog, memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS


def run(resources, params: dict, **policy) -> tuple[RunState, list[tuple[str, str]]]:
    """One run over in-memory resources, and the steps it went through."""
    log = StepLog()
    return run_in_memory(resources, params, log=log, **policy), log.steps


def names(steps: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in steps]


@pytest.fixture
def resources(settings):
    """The penguins, as the tests' demo registry holds them (tests/conftest.py)."""
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    return memory_resources(demo_frame(1))


def test_a_first_run_deploys_its_model_without_loading_any(resources):
    state, steps = run(resources, GOOD_PARAMS)

    assert state.status == "deployed"
    assert steps == [(name, "done") for name in ["check", "pull", "validate", "train", "compare", "deploy", "notify"]]
    assert resources.deployments.sources == ["bootstrap"]
    assert resources.models.loaded == []
    assert resources.notifier.notified == [state.run_id]
    assert state.reasons[0].startswith("first model: accuracy")


def test_the_same_data_again_is_skipped_at_the_check_and_notifies_nobody(resources):
    run(resources, GOOD_PARAMS)

    state, steps = run(resources, GOOD_PARAMS)

    assert state.status == "skipped"
    assert steps == [("check", "stopped")]
    assert len(resources.deployments.served) == 1
    assert len(resources.notifier.notified) == 1


DRIFTED = {"summary": "inputs drifted on body_mass_g and island", "drift": {"drifted": {"body_mass_g": {}}}}


def test_a_drift_run_without_new_data_says_to_publish_data_and_tells_the_team(resources):
    run(resources, GOOD_PARAMS)

    log = StepLog()
    state = run_in_memory(resources, GOOD_PARAMS, log=log, trigger="drift", evidence=DRIFTED)

    assert state.status == "skipped"
    assert state.reasons == ["inputs drifted on body_mass_g and island; no new labelled data since v1: publish data"]
    assert log.steps == [("check", "stopped"), ("notify", "done")]
    assert resources.notifier.notified[-1] == state.run_id
    assert len(resources.deployments.served) == 1


def test_a_drift_run_with_new_data_trains_and_is_judged_like_any_other(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2)

    log = StepLog()
    state = run_in_memory(resources, GOOD_PARAMS, log=log, trigger="drift", evidence=DRIFTED)

    assert names(log.steps)[:5] == ["check", "pull", "validate", "train", "compare"]
    assert state.challenger is not None


def test_a_worse_challenger_is_kept_out_and_tagged_and_only_the_champion_is_loaded(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2)

    state, steps = run(resources, WEAK_PARAMS)

    assert state.status == "kept"
    assert names(steps) == ["check", "pull", "validate", "train", "compare", "keep", "notify"]
    assert resources.models.tags[state.challenger.version]["retraining.rejected"] == "; ".join(state.reasons)
    assert resources.models.loaded == ["1"]
    assert len(resources.deployments.served) == 1


def test_a_regressed_champion_is_rolled_back_in_its_own_step(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2)
    weak, _ = run(resources, WEAK_PARAMS)
    resources.deployments.deploy(weak.challenger.version, source="registry")
    resources.source.frame = demo_frame(3)

    state, steps = run(resources, WEAK_PARAMS)

    assert state.status == "kept"
    assert names(steps) == ["check", "pull", "validate", "train", "compare", "keep", "rollback", "notify"]
    assert resources.deployments.sources[-1] == "rollback"
    assert resources.deployments.champion().version == "1"
    assert state.reasons[-1].startswith("regression: champion v2 fell below the previous champion v1")


def test_the_previous_champion_is_not_scored_when_the_challenger_is_deployed(resources):
    run(resources, WEAK_PARAMS)
    resources.source.frame = demo_frame(2)
    weak, _ = run(resources, WEAK_PARAMS)
    resources.deployments.deploy(weak.challenger.version, source="registry")
    resources.models.loaded.clear()
    resources.source.frame = demo_frame(3)

    state, steps = run(resources, GOOD_PARAMS)

    assert state.status == "deployed"
    assert "rollback" not in names(steps)
    assert resources.models.loaded == ["2"]
    assert state.verdict.previous is None


def test_invalid_data_stops_at_validation_and_is_still_notified(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2).drop(columns=["island"])

    state, steps = run(resources, GOOD_PARAMS)

    assert state.status == "rejected"
    assert steps == [("check", "done"), ("pull", "done"), ("validate", "stopped"), ("notify", "done")]
    assert state.reasons == ["feature column 'island' that the champion uses is missing"]
    assert resources.models.loaded == []


def heavier(frame):
    return frame.assign(body_mass_g=frame["body_mass_g"] + 1500)


def test_drifted_data_is_a_warning_and_the_challenger_is_still_judged(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = heavier(demo_frame(2))

    state, steps = run(resources, GOOD_PARAMS)

    assert names(steps)[:5] == ["check", "pull", "validate", "train", "compare"]
    assert state.validation.drift["drifted"] == ["body_mass_g"]
    assert "drift on body_mass_g" in state.validation.warnings[0]


def test_drifted_data_stops_at_validation_when_the_policy_rejects_it(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = heavier(demo_frame(2))

    state, steps = run(resources, GOOD_PARAMS, reject_on_drift=True)

    assert state.status == "rejected"
    assert steps == [("check", "done"), ("pull", "done"), ("validate", "stopped"), ("notify", "done")]
    assert "drift on body_mass_g" in state.reasons[0]


def test_a_new_step_is_one_function_and_one_entry_in_the_list(resources, monkeypatch):
    def count_rows(state: RunState, resources) -> RunState:
        return replace(state, note=f"{len(state.frame)} rows")

    with_count = list(flow.STEPS)
    with_count.insert(2, Step("count", count_rows, interruptible=True))
    monkeypatch.setattr(flow, "STEPS", tuple(with_count))

    state, recorded = run(resources, GOOD_PARAMS)

    assert names(recorded)[:4] == ["check", "pull", "count", "validate"]
    assert state.status == "deployed"
    assert "count" in flow.interruptible()


class States(StepLog):
    """The state each step handed on."""

    def __init__(self) -> None:
        super().__init__()
        self.after: dict[str, RunState] = {}

    def step(self, name, work, state):
        self.after[name] = super().step(name, work, state)
        return self.after[name]


def test_the_frame_is_let_go_once_split_and_the_split_is_the_canonical_one(resources, settings):
    states = States()
    run_in_memory(resources, GOOD_PARAMS, log=states)
    pulled, validated = states.after["pull"], states.after["validate"]
    key = validated.split_key
    training, holdout = (canonical(part, key) for part in split(pulled.frame, settings.HOLDOUT_FRACTION, key))

    assert validated.frame is None
    assert states.after["train"].frame is None
    pd.testing.assert_frame_equal(validated.training, training)
    pd.testing.assert_frame_equal(validated.holdout, holdout)
    assert (validated.holdout_keys == row_keys(holdout, key)).all()
    assert (validated.trained_on.keys == training_rows(training, key).keys).all()
    assert validated.rows == {"total": len(pulled.frame), "train": len(training), "holdout": len(holdout)}
    assert states.after["train"].rows == validated.rows


def test_only_the_steps_before_anything_is_deployed_may_be_interrupted():
    assert [step.name for step in flow.STEPS if step.interruptible] == [
        "check",
        "pull",
        "validate",
        "train",
        "compare",
    ]


class Labelled:
    """Automatic publishing as the pipeline sees it: labelled rows become the source's next data."""

    def __init__(self, source, frame: pd.DataFrame | None) -> None:
        self.source, self.frame = source, frame

    def publish(self) -> dict | None:
        if self.frame is None:
            return None
        self.source.frame = self.frame
        return {
            "file": "data/feedback-20261207T100000.csv",
            "rows": 40,
            "sources": {"key:shop": 30, "key:app": 10},
            "predicted_from": "2026-12-06T08:00:00+00:00",
            "predicted_to": "2026-12-07T09:00:00+00:00",
        }


def test_a_drift_run_publishes_enough_new_labels_and_retrains_in_the_same_run(resources):
    run(resources, GOOD_PARAMS)
    resources = replace(resources, feedback=Labelled(resources.source, demo_frame(2)))

    log = StepLog()
    state = run_in_memory(resources, GOOD_PARAMS, log=log, trigger="drift", evidence=DRIFTED)

    assert names(log.steps)[:5] == ["check", "pull", "validate", "train", "compare"]
    assert state.challenger is not None
    recorded = state.row_fields()["dataset"]["feedback"]
    assert (recorded["rows"], recorded["sources"]) == (40, {"key:shop": 30, "key:app": 10})
    assert recorded["predicted_from"].startswith("2026-12-06")


def test_a_drift_run_with_too_few_new_labels_still_says_to_publish_data(resources):
    run(resources, GOOD_PARAMS)
    resources = replace(resources, feedback=Labelled(resources.source, None))

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert state.status == "skipped"
    assert state.reasons[0].endswith("publish data")
    assert "feedback" not in state.row_fields()["dataset"]


def test_the_run_records_training_rows_added_and_removed_against_the_champion(resources):
    run(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(1), demo_frame(2)], ignore_index=True)

    state, _ = run(resources, GOOD_PARAMS)

    changed = state.verdict.exclusion["training_rows_vs_champion"]
    assert changed["champion"] == "1"
    assert changed["added"] > 0
    assert changed["removed"] == 0
    assert changed["kept"] + changed["added"] == len(state.trained_on.keys)


def test_the_run_records_holdout_rows_added_and_removed_against_the_champion(resources):
    first, _ = run(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(1), demo_frame(2)], ignore_index=True)

    state, _ = run(resources, GOOD_PARAMS)

    changed = state.verdict.exclusion["holdout_rows_vs_champion"]
    assert changed["champion"] == "1"
    # The split is by row key: the first holdout stays held out, the new rows add to it.
    assert changed["kept"] == len(set(first.holdout_keys))
    assert changed["removed"] == 0
    assert changed["kept"] + changed["added"] == len(set(state.holdout_keys))


def test_the_run_keeps_its_models_drift_profile_in_brief(resources):
    state, _ = run(resources, GOOD_PARAMS)

    profile = state.row_fields()["profile"]

    assert profile["rows"] == state.rows["train"]
    assert profile["features"]["body_mass_g"]["kind"] == "numeric"
    assert profile["features"]["island"]["shares"]
    assert profile == summarise(resources.models.profile(state.challenger.version))
