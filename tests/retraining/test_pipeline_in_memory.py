"""The whole pipeline over in-memory edges (Kedro style): every branch of the step list, in
seconds. The same runs against git, DVC, MLflow and the database are in test_pipeline.py."""

from dataclasses import replace

import pandas as pd
import pytest

from demo.batches import demo_frame
from ml.keys import row_keys
from ml.split import canonical, split, training_rows
from retraining.pipeline import steps
from retraining.pipeline.state import RunState
from retraining.pipeline.steps import Step
from tests.support.memory import StepLog, memory_edges, run_in_memory
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS


def run(edges, params: dict, **policy) -> tuple[RunState, list[tuple[str, str]]]:
    """One run over in-memory edges, and the steps it went through."""
    log = StepLog()
    return run_in_memory(edges, params, log=log, **policy), log.steps


def names(steps: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in steps]


@pytest.fixture
def edges(settings):
    """The penguins, as the tests' demo registry holds them (tests/conftest.py)."""
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    return memory_edges(demo_frame(1))


def test_a_first_run_deploys_its_model_without_loading_any(edges):
    state, steps = run(edges, GOOD_PARAMS)

    assert state.status == "deployed"
    assert steps == [(name, "done") for name in ["check", "pull", "validate", "train", "compare", "deploy", "notify"]]
    assert edges.deployments.sources == ["bootstrap"]
    assert edges.models.loaded == []
    assert edges.notifier.notified == [state.run_id]
    assert state.reasons[0].startswith("first model: accuracy")


def test_the_same_data_again_is_skipped_at_the_check_and_notifies_nobody(edges):
    run(edges, GOOD_PARAMS)

    state, steps = run(edges, GOOD_PARAMS)

    assert state.status == "skipped"
    assert steps == [("check", "stopped")]
    assert len(edges.deployments.served) == 1
    assert len(edges.notifier.notified) == 1


DRIFTED = {"summary": "inputs drifted on body_mass_g and island", "drift": {"drifted": {"body_mass_g": {}}}}


def test_a_drift_run_without_new_data_says_to_publish_data_and_tells_the_team(edges):
    run(edges, GOOD_PARAMS)

    log = StepLog()
    state = run_in_memory(edges, GOOD_PARAMS, log=log, trigger="drift", evidence=DRIFTED)

    assert state.status == "skipped"
    assert state.reasons == ["inputs drifted on body_mass_g and island; no new labelled data since v1: publish data"]
    assert log.steps == [("check", "stopped"), ("notify", "done")]
    assert edges.notifier.notified[-1] == state.run_id
    assert len(edges.deployments.served) == 1


def test_a_drift_run_with_new_data_trains_and_is_judged_like_any_other(edges):
    run(edges, GOOD_PARAMS)
    edges.source.frame = demo_frame(2)

    log = StepLog()
    state = run_in_memory(edges, GOOD_PARAMS, log=log, trigger="drift", evidence=DRIFTED)

    assert names(log.steps)[:5] == ["check", "pull", "validate", "train", "compare"]
    assert state.challenger is not None


def test_a_worse_challenger_is_kept_out_and_tagged_and_only_the_champion_is_loaded(edges):
    run(edges, GOOD_PARAMS)
    edges.source.frame = demo_frame(2)

    state, steps = run(edges, WEAK_PARAMS)

    assert state.status == "kept"
    assert names(steps) == ["check", "pull", "validate", "train", "compare", "keep", "notify"]
    assert edges.models.tags[state.challenger.version]["retraining.rejected"] == "; ".join(state.reasons)
    assert edges.models.loaded == ["1"]
    assert len(edges.deployments.served) == 1


def test_a_regressed_champion_is_rolled_back_in_its_own_step(edges):
    run(edges, GOOD_PARAMS)
    edges.source.frame = demo_frame(2)
    weak, _ = run(edges, WEAK_PARAMS)
    edges.deployments.deploy(weak.challenger.version, source="registry")
    edges.source.frame = demo_frame(3)

    state, steps = run(edges, WEAK_PARAMS)

    assert state.status == "kept"
    assert names(steps) == ["check", "pull", "validate", "train", "compare", "keep", "rollback", "notify"]
    assert edges.deployments.sources[-1] == "rollback"
    assert edges.deployments.champion().version == "1"
    assert state.reasons[-1].startswith("regression: champion v2 fell below the previous champion v1")


def test_the_previous_champion_is_not_scored_when_the_challenger_is_deployed(edges):
    run(edges, WEAK_PARAMS)
    edges.source.frame = demo_frame(2)
    weak, _ = run(edges, WEAK_PARAMS)
    edges.deployments.deploy(weak.challenger.version, source="registry")
    edges.models.loaded.clear()
    edges.source.frame = demo_frame(3)

    state, steps = run(edges, GOOD_PARAMS)

    assert state.status == "deployed"
    assert "rollback" not in names(steps)
    assert edges.models.loaded == ["2"]
    assert state.comparison.previous is None


def test_invalid_data_stops_at_validation_and_is_still_notified(edges):
    run(edges, GOOD_PARAMS)
    edges.source.frame = demo_frame(2).drop(columns=["island"])

    state, steps = run(edges, GOOD_PARAMS)

    assert state.status == "rejected"
    assert steps == [("check", "done"), ("pull", "done"), ("validate", "stopped"), ("notify", "done")]
    assert state.reasons == ["feature column 'island' that the champion uses is missing"]
    assert edges.models.loaded == []


def heavier(frame):
    return frame.assign(body_mass_g=frame["body_mass_g"] + 1500)


def test_drifted_data_is_a_warning_and_the_challenger_is_still_judged(edges):
    run(edges, GOOD_PARAMS)
    edges.source.frame = heavier(demo_frame(2))

    state, steps = run(edges, GOOD_PARAMS)

    assert names(steps)[:5] == ["check", "pull", "validate", "train", "compare"]
    assert state.validation.drift["drifted"] == ["body_mass_g"]
    assert "drift on body_mass_g" in state.validation.warnings[0]


def test_drifted_data_stops_at_validation_when_the_policy_rejects_it(edges):
    run(edges, GOOD_PARAMS)
    edges.source.frame = heavier(demo_frame(2))

    state, steps = run(edges, GOOD_PARAMS, reject_on_drift=True)

    assert state.status == "rejected"
    assert steps == [("check", "done"), ("pull", "done"), ("validate", "stopped"), ("notify", "done")]
    assert "drift on body_mass_g" in state.reasons[0]


def test_a_new_step_is_one_function_and_one_entry_in_the_list(edges, monkeypatch):
    def count_rows(state: RunState, edges) -> RunState:
        return replace(state, note=f"{len(state.frame)} rows")

    with_count = list(steps.STEPS)
    with_count.insert(2, Step("count", count_rows, interruptible=True))
    monkeypatch.setattr(steps, "STEPS", tuple(with_count))

    state, recorded = run(edges, GOOD_PARAMS)

    assert names(recorded)[:4] == ["check", "pull", "count", "validate"]
    assert state.status == "deployed"
    assert steps.interruptible("count")


class States(StepLog):
    """The state each step handed on."""

    def __init__(self) -> None:
        super().__init__()
        self.after: dict[str, RunState] = {}

    def step(self, name, work, state):
        self.after[name] = super().step(name, work, state)
        return self.after[name]


def test_the_frame_is_let_go_once_split_and_the_split_is_the_canonical_one(edges, settings):
    states = States()
    run_in_memory(edges, GOOD_PARAMS, log=states)
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
    assert [step.name for step in steps.STEPS if step.interruptible] == [
        "check",
        "pull",
        "validate",
        "train",
        "compare",
    ]
