"""When the data moved under the champion (a drift or degradation run, or one that published
feedback), both models are judged on the holdout rows of the data newer than the champion's: the
rows that say what the world is now. The whole holdout's figures are kept beside, the same models
are still never scored on a row they trained on, and a challenger no better than the champion on
those rows is still kept."""

import numpy as np
import pandas as pd
import pytest

from demo import datasets
from demo.batches import demo_frame
from demo.traffic.shifts import SHIFTS
from ml.keys import row_keys
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS

DRIFTED = {"summary": "inputs drifted on tenure_months", "drift": {"drifted": {"tenure_months": {}}}}


@pytest.fixture
def resources(settings):
    settings.DEMO_DATASET = "churn"
    settings.TARGET_COLUMN = "churned"
    return memory_resources(demo_frame(2))


def customers(rows: int, seed: int, poached: bool) -> pd.DataFrame:
    """New customers like the demo's; `poached`: after the demo's shift (simulate_traffic's:
    features moved, mostly month-to-month, long-standing month-to-month customers now leave),
    labelled by the shifted rule."""
    rng = np.random.default_rng(seed)
    demo = demo_frame(3)
    shift = SHIFTS["churn"]
    weights = None
    if poached:
        counts = demo[shift.mix_column].value_counts()
        weights = demo[shift.mix_column].map(lambda v: shift.mix[v] / counts[v]).to_numpy(float)
    frame = demo.sample(rows, replace=True, weights=weights, random_state=seed).reset_index(drop=True)
    # Redrawn so that each new customer is a row of its own (its key), whatever it was drawn from.
    frame["monthly_usage_gb"] = np.round(rng.gamma(2.0, 150, rows), 1) + rng.random(rows) / 100
    if poached:
        for name, sds in shift.numeric.items():
            frame[name] = (frame[name] + sds * demo[name].std()).round().astype(demo[name].dtype)
        return frame.assign(churned=shift.relabel(frame, frame["churned"], rng))
    leaves = (datasets.churn_risk(frame) > datasets.CHURN_THRESHOLD) ^ (rng.random(rows) < datasets.CHURN_FLIPPED)
    return frame.assign(churned=np.where(leaves, "yes", "no"))


def new_holdout_rows(state, older: pd.DataFrame) -> int:
    return int((~np.isin(state.holdout_keys, row_keys(older, state.split_key))).sum())


def test_after_a_shifted_partition_a_better_challenger_on_the_new_rows_deploys_under_the_default_guard(resources):
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(1500, 1, poached=True)], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert state.status == "deployed", state.reasons
    judged = state.verdict.exclusion["judged_on"]
    fresh = new_holdout_rows(state, demo_frame(2))
    assert judged["rows"] == "new"
    assert judged["new"] == fresh == state.verdict.paired.rows
    assert judged["clean"] == len(state.holdout) > fresh
    assert len(state.challenger.score.predictions) == len(state.verdict.champion_score.predictions) == fresh
    whole = judged["whole_holdout"]
    assert set(whole) == {"challenger", "champion v1"}
    assert whole["champion v1"]["accuracy"] != state.verdict.champion_score.metrics["accuracy"]
    assert any(
        reason.startswith(f"judged on the {fresh} holdout rows new since champion v1") for reason in state.reasons
    )


def test_the_same_run_judged_on_the_whole_holdout_when_the_setting_says_so(resources, settings):
    settings.JUDGE_ON_NEW_ROWS = "never"
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(1500, 1, poached=True)], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert state.verdict.exclusion["judged_on"]["rows"] == "all"
    assert state.verdict.paired.rows == len(state.holdout)


def test_a_run_on_new_rows_of_an_unchanged_world_is_judged_on_the_whole_holdout_unless_the_data_moved(resources):
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(600, 2, poached=False)], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="schedule")

    judged = state.verdict.exclusion["judged_on"]
    assert judged["rows"] == "all"
    assert "not started by drift, degradation or published feedback" in judged["why"]
    assert state.verdict.paired.rows == len(state.holdout)


@pytest.mark.parametrize("seed", [3, 4, 5, 6])
def test_a_challenger_of_the_same_world_judged_on_the_new_rows_is_kept(resources, seed):
    """A/A: new customers drawn as the champion's were; the run is judged on them, and keeps the champion."""
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(1500, seed, poached=False)], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert state.verdict.exclusion["judged_on"]["rows"] == "new"
    assert state.status == "kept", state.reasons


def test_too_few_new_holdout_rows_judge_on_the_whole_holdout_and_say_so(resources, settings):
    settings.MIN_CLEAN_HOLDOUT_ROWS = 200
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(300, 7, poached=True)], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    judged = state.verdict.exclusion["judged_on"]
    assert judged["rows"] == "all"
    assert judged["why"].startswith(f"only {judged['new']} holdout rows new since champion v1's data")
    assert state.verdict.paired.rows == len(state.holdout)


def test_a_shift_that_makes_the_positive_class_the_commoner_one_keeps_the_champions(resources):
    """Churners become the majority: the guard still watches the churners, not the customers who stay."""
    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(1500, 1, poached=True)], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert (state.training["churned"] == "yes").mean() > 0.5
    assert state.positive.label == "yes"
    assert state.positive.reason == "champion v1's positive class, kept (the rarer class now: no)"
    assert state.challenger.score.positive == state.verdict.champion_score.positive == "yes"


def test_rows_seen_again_are_new_beyond_the_copies_the_older_data_held():
    from retraining.pipeline.fresh import added

    older = np.array([7, 7, 9], dtype=np.uint64)
    rows = np.array([7, 5, 7, 7, 9, 7], dtype=np.uint64)

    assert added(rows, older).tolist() == [False, True, False, True, False, True]
    assert added(rows, np.array([], dtype=np.uint64)).all()


def test_the_run_says_which_rows_the_decision_rested_on(resources):
    from types import SimpleNamespace

    from retraining.runs.wording import holdout_sentences

    run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = pd.concat([demo_frame(2), customers(1500, 1, poached=True)], ignore_index=True)
    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)
    fields = state.row_fields()

    said = holdout_sentences(SimpleNamespace(holdout_exclusion=fields["holdout_exclusion"], comparison=None))

    new = state.verdict.exclusion["judged_on"]["new"]
    assert f"the decision rested on the {new} of them the data added since the champion's version" in said[1]
