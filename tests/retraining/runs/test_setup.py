"""The training setup: one frozen object, read back as stored, and a fingerprint of what the model is made of."""

import dataclasses

import pytest

from ml.drift.drift import Thresholds
from retraining.models import RetrainingRun
from retraining.pipeline.state import RunState
from retraining.runs import store
from retraining.runs.setup import SetupError, TrainingSetup


def setup(**changes) -> TrainingSetup:
    base = TrainingSetup(
        target="species",
        id_column=None,
        exclude=("year",),
        estimator="random_forest",
        params={"n_estimators": 30},
        seed=42,
        holdout_fraction=0.25,
        policy={"primary_metric": "accuracy"},
        drift=Thresholds(psi=0.3),
    )
    return dataclasses.replace(base, **changes)


def test_it_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup().target = "other"


def test_it_reads_back_exactly_what_it_wrote():
    original = setup(id_column="id", kinds={"island": "categorical"})

    copy = TrainingSetup.deserialise(original.serialise())

    assert copy == original
    assert copy.exclude == ("year",)
    assert copy.drift == Thresholds(psi=0.3)
    assert copy.fingerprint == original.fingerprint


def test_a_field_added_since_takes_its_default_and_an_unknown_one_is_named():
    stored = setup().serialise()
    del stored["kinds"]
    assert TrainingSetup.deserialise(stored).kinds == {}

    with pytest.raises(SetupError, match=r"setup: unknown field\(s\) colour"):
        TrainingSetup.deserialise({**stored, "colour": "blue"})
    with pytest.raises(SetupError, match=r"setup.drift: expected an object, got str"):
        TrainingSetup.deserialise({**stored, "drift": "high"})
    with pytest.raises(SetupError, match=r"setup: .*target"):
        TrainingSetup.deserialise({k: v for k, v in stored.items() if k != "target"})


@pytest.mark.parametrize(
    "change",
    [
        {"exclude": ("year", "sex")},
        {"id_column": "id"},
        {"estimator": "logistic_regression"},
        {"params": {"n_estimators": 31}},
        {"target": "island"},
        {"holdout_fraction": 0.3},
        {"seed": 7},
        {"salt": "another-salt-000"},
        {"kinds": {"year": "categorical"}},
        {"pipeline": "team.models:make_pipeline"},
    ],
)
def test_the_fingerprint_changes_with_what_the_model_is_made_of(change):
    changed = setup(**change)

    assert changed.fingerprint != setup().fingerprint
    assert setup().differences(changed) == list(change)


@pytest.mark.parametrize(
    "change",
    [
        {"policy": {"primary_metric": "f1"}},
        {"app_version": "9.9"},
        {"min_rows": 500},
        {"drift": Thresholds(psi=0.5)},
        # Weights only rows new since the champion's data: on its own data it trains the same model.
        {"recent_rows_share": 0.7},
    ],
)
def test_the_fingerprint_leaves_out_what_judges_but_does_not_make_the_model(change):
    assert setup(**change).fingerprint == setup().fingerprint


def test_a_setup_without_a_team_pipeline_keeps_the_fingerprint_it_had_before_pipelines_existed():
    # What a champion recorded before the field existed: no retraining just for an upgrade.
    assert setup().fingerprint == "6e4ca28f6436680133107394ce27a20751b449b12ba08f13edeffdacd6384090"


def test_a_team_pipeline_travels_with_the_queued_run(db, settings):
    settings.TRAINING_PIPELINE = "team.models:make_pipeline"

    run, _ = store.start_run(RetrainingRun.Trigger.API)

    assert TrainingSetup.deserialise(RetrainingRun.objects.get(pk=run.pk).setup).pipeline == settings.TRAINING_PIPELINE


def test_the_recent_rows_share_travels_with_the_queued_run(db, settings):
    settings.RECENT_ROWS_SHARE = 0.7
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    settings.RECENT_ROWS_SHARE = 0.2  # the executing process's own
    assert store.claim(run.pk)

    assert RunState.of(RetrainingRun.objects.get(pk=run.pk)).setup.recent_rows_share == 0.7


def test_a_setup_queued_before_the_recent_rows_share_existed_trains_unweighted():
    stored = setup(recent_rows_share=0.7).serialise()
    del stored["recent_rows_share"]

    assert TrainingSetup.deserialise(stored).recent_rows_share == 0


def test_the_fingerprint_is_the_same_whatever_the_order_of_the_params():
    one = setup(params={"n_estimators": 30, "max_depth": 3})
    other = setup(params={"max_depth": 3, "n_estimators": 30})

    assert one.fingerprint == other.fingerprint
    assert len(one.fingerprint) == 64


def test_a_run_is_queued_with_the_setup_of_its_starter_and_claimed_with_that_setup(db, settings):
    settings.EXCLUDE_COLUMNS = ["year"]
    settings.TRAINING_PARAMS = {"n_estimators": 7}
    run, _ = store.start_run(RetrainingRun.Trigger.API)
    queued = TrainingSetup.from_settings(store.current_policy().as_dict())
    # The process that executes the run has settings of its own.
    settings.EXCLUDE_COLUMNS = []
    settings.TRAINING_PARAMS = {"n_estimators": 500}
    settings.DATA_ID_COLUMN = "id"

    assert store.claim(run.pk)
    state = RunState.of(RetrainingRun.objects.get(pk=run.pk))

    assert state.setup == queued
    assert (state.setup.exclude, state.params, state.setup.id_column) == (("year",), {"n_estimators": 7}, None)
    assert RetrainingRun.objects.get(pk=run.pk).setup_fingerprint == queued.fingerprint
