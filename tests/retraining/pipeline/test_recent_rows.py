"""A run that trains after a shift (a drift or degradation run, or one that published feedback)
gives the training rows new since the champion's data a share of the fit (RECENT_ROWS_SHARE): a
small shifted partition next to many old rows is then learnt, not outvoted. Any other run, and
the setting at 0, train exactly as before; a team's pipeline that takes no sample_weight trains
unweighted and the run says so."""

import numpy as np
import pandas as pd
import pytest

from demo.batches import demo_frame
from ml.estimators import train
from ml.features import prepare_features
from ml.split import non_features
from retraining.pipeline.recent import RECORD
from retraining.pipeline.reproduce import reproduce
from tests.retraining.pipeline.test_fresh_holdout import DRIFTED, customers
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS
from tests.support.team import PIPELINE, write_module

# A partition of shifted customers small next to the demo's 2,000 old ones, as labelled traffic
# published soon after a shift is.
SHIFTED_ROWS = 400


@pytest.fixture
def resources(settings):
    settings.DEMO_DATASET = "churn"
    settings.TARGET_COLUMN = "churned"
    return memory_resources(demo_frame(2))


def after_shift(resources, share: float, settings, trigger: str = "drift", params=GOOD_PARAMS):
    """Champion v1 on the old world, then a run on the data with a small shifted partition added."""
    settings.RECENT_ROWS_SHARE = share
    run_in_memory(resources, params)
    resources.source.frame = pd.concat([demo_frame(2), customers(SHIFTED_ROWS, 1, poached=True)], ignore_index=True)
    evidence = DRIFTED if trigger == "drift" else None
    return run_in_memory(resources, params, trigger=trigger, evidence=evidence)


def inputs(state) -> pd.DataFrame:
    setup = state.setup
    return prepare_features(state.holdout, setup.target, non_features(setup.target, setup.id_column, state.left_out))


def unweighted_outputs(state) -> np.ndarray:
    """The challenger as training made it before RECENT_ROWS_SHARE: the same rows, the same seed, no weights."""
    setup = state.setup
    excluded = non_features(setup.target, setup.id_column, state.left_out)
    model = train(state.training, setup.target, setup.estimator, setup.params, setup.seed, excluded)
    return model.predict_proba(inputs(state))


def challenger_outputs(resources, state) -> np.ndarray:
    model = resources.models.load(state.challenger.version)
    return model.predict_proba(inputs(state))


def test_a_small_shifted_partition_is_learnt_when_its_rows_carry_their_share(resources, settings):
    unweighted = after_shift(resources, 0, settings)
    weighted = after_shift(memory_resources(demo_frame(2)), 0.5, settings)

    judged = weighted.verdict.exclusion["judged_on"]
    assert judged["rows"] == "new"
    assert (judged["new"], judged["clean"]) == tuple(
        unweighted.verdict.exclusion["judged_on"][k] for k in ("new", "clean")
    )
    # On the same new holdout rows, the weighted challenger knows today's customers better.
    gain = weighted.challenger.score.metrics["accuracy"] - unweighted.challenger.score.metrics["accuracy"]
    assert gain >= 0.05, (weighted.challenger.score.metrics, unweighted.challenger.score.metrics)
    recent = weighted.lineage[RECORD]
    assert recent["weighted"]
    assert recent["share"] == 0.5
    assert recent["weight_share"] == pytest.approx(0.5)
    assert 0 < recent["rows"] <= SHIFTED_ROWS
    assert recent["of"] == len(weighted.training)
    assert recent["champion"] == "1"
    assert recent["moved"] == "a drift run"
    assert recent["why"].startswith(f"the {recent['rows']} of {recent['of']} training rows new since champion v1")
    assert weighted.row_fields()["lineage"][RECORD] == recent
    assert RECORD not in unweighted.lineage


def test_at_zero_training_is_what_it_was(resources, settings):
    state = after_shift(resources, 0, settings)

    assert RECORD not in state.lineage
    assert np.array_equal(challenger_outputs(resources, state), unweighted_outputs(state))


def test_a_run_without_a_shift_trains_unweighted_whatever_the_share(resources, settings):
    state = after_shift(resources, 0.5, settings, trigger="schedule")

    assert RECORD not in state.lineage
    assert np.array_equal(challenger_outputs(resources, state), unweighted_outputs(state))


def test_new_rows_already_carrying_the_share_are_not_weighted_down(resources, settings):
    state = after_shift(resources, 0.1, settings)

    recent = state.lineage[RECORD]
    assert not recent["weighted"]
    assert recent["weight_share"] > 0.1
    assert "at least RECENT_ROWS_SHARE=0.1: trained unweighted" in recent["why"]
    assert np.array_equal(challenger_outputs(resources, state), unweighted_outputs(state))


# A team's pipeline whose final estimator's fit takes no sample_weight.
NEAREST = PIPELINE.replace(
    "from sklearn.ensemble import HistGradientBoostingClassifier", "from sklearn.neighbors import KNeighborsClassifier"
).replace('("model", HistGradientBoostingClassifier(**params))', '("model", KNeighborsClassifier(n_neighbors=15))')


@pytest.mark.parametrize(("source", "weighted"), [(PIPELINE, True), (NEAREST, False)])
def test_a_team_pipeline_is_weighted_only_where_its_final_estimator_takes_weights(
    resources, settings, tmp_path, monkeypatch, source, weighted
):
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.TRAINING_PIPELINE = write_module(tmp_path, source)

    state = after_shift(resources, 0.5, settings, params={"max_iter": 30})

    recent = state.lineage[RECORD]
    assert recent["weighted"] is weighted, recent
    if not weighted:
        assert recent["why"].startswith(f"TRAINING_PIPELINE {settings.TRAINING_PIPELINE}'s final estimator takes no")
        assert recent["weight_share"] == pytest.approx(recent["rows"] / recent["of"], abs=1e-4)


def test_a_weighted_model_is_reproduced_from_its_record(resources, settings):
    state = after_shift(resources, 0.5, settings)
    settings.RECENT_ROWS_SHARE = 0  # reproduce reads the record, not this process's settings

    result = reproduce(state.challenger.version, resources.models, resources.source)

    assert state.lineage[RECORD]["weighted"]
    assert result.identical, result.describe()


def test_old_rows_stay_old_when_a_partition_of_logged_inputs_reads_their_numbers_as_decimals(resources, settings):
    """A feedback partition writes 71.0 where the champion's data said 71: the whole column then
    reads as decimals, and the champion's rows must still be known as its own."""
    settings.RECENT_ROWS_SHARE = 0.5
    run_in_memory(resources, GOOD_PARAMS)
    logged = customers(SHIFTED_ROWS, 1, poached=True)
    logged = logged.astype({c: "float64" for c in logged.columns if pd.api.types.is_integer_dtype(logged[c])})
    resources.source.frame = pd.concat([demo_frame(2), logged], ignore_index=True)

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert pd.api.types.is_float_dtype(state.training["tenure_months"])
    assert 0 < state.lineage[RECORD]["rows"] <= SHIFTED_ROWS
    judged = state.verdict.exclusion["judged_on"]
    assert judged["rows"] == "new"
    assert judged["new"] < SHIFTED_ROWS / 2 < judged["clean"]


def test_a_shift_run_reads_the_champions_data_once_for_its_weights_and_its_judgement(resources, settings, monkeypatch):
    settings.RECENT_ROWS_SHARE = 0.8
    run_in_memory(resources, GOOD_PARAMS)
    champions_data = resources.source.history[-1][1]
    resources.source.frame = pd.concat([demo_frame(2), customers(SHIFTED_ROWS, 1, poached=True)], ignore_index=True)
    pulled = []
    pull = resources.source.pull
    monkeypatch.setattr(resources.source, "pull", lambda version: pulled.append(version) or pull(version))

    state = run_in_memory(resources, GOOD_PARAMS, trigger="drift", evidence=DRIFTED)

    assert state.lineage[RECORD]["weighted"] is True
    assert state.verdict.exclusion["judged_on"]["rows"] == "new"
    assert pulled.count(champions_data) == 1, pulled
