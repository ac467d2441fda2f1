"""`manage.py reproduce`: a registered model made again from its record, predictions compared."""

import pytest
from django.core.management import CommandError, call_command

from demo.batches import demo_frame
from retraining.pipeline.reproduce import ReproduceError, reproduce
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.pipeline import GOOD_PARAMS, WEAK_PARAMS


@pytest.fixture
def resources(settings):
    settings.DEMO_DATASET = "penguins"
    settings.TARGET_COLUMN = "species"
    return memory_resources(demo_frame(1))


def test_a_model_retrained_from_its_record_is_identical(resources):
    state = run_in_memory(resources, GOOD_PARAMS)

    result = reproduce(state.challenger.version, resources.models, resources.source)

    assert result.identical
    assert result.rows == len(demo_frame(1))
    assert result.describe().startswith("v1 reproduced: identical outputs on all 206 training and holdout rows")


def test_a_registered_model_that_differs_from_its_record_is_not_reproduced(resources):
    first = run_in_memory(resources, GOOD_PARAMS)
    resources.source.frame = demo_frame(2)
    other = run_in_memory(resources, WEAK_PARAMS)
    resources.source.frame = demo_frame(1)
    resources.models.models["1"] = resources.models.models[other.challenger.version]

    result = reproduce(first.challenger.version, resources.models, resources.source)

    assert not result.identical
    assert result.describe().startswith("v1 not reproduced: outputs differ on ")


def test_a_model_without_a_record_cannot_be_reproduced(resources):
    run_in_memory(resources, GOOD_PARAMS)
    resources.models.artifacts["1"].clear()

    with pytest.raises(ReproduceError, match="version 1 was logged before models recorded what they were made from"):
        reproduce("1", resources.models, resources.source)


@pytest.mark.slow
def test_the_command_reproduces_a_bootstrapped_model_from_mlflow_and_dvc(good_champion, capsys):
    call_command("reproduce", good_champion.version)

    assert f"v{good_champion.version} reproduced: identical outputs" in capsys.readouterr().out


@pytest.mark.slow
def test_the_command_fails_in_one_line_for_a_version_that_is_not_registered(good_champion):
    with pytest.raises(CommandError, match=r"could not read .* version 99"):
        call_command("reproduce", "99")


def test_a_reproduction_says_when_the_teams_code_changed_since(settings):
    from retraining.pipeline.reproduce import Reproduction

    same = Reproduction("3", 10, 0, True, settings.APP_VERSION, "team-models 1.0", "team-models 1.0")
    changed = Reproduction("3", 10, 2, True, settings.APP_VERSION, "team-models 1.0", "team-models 1.1")

    assert same.describe() == "v3 reproduced: identical outputs on all 10 training and holdout rows"
    assert changed.describe().endswith(
        "outputs differ on 2 of 10 rows (team code team-models 1.0 then, team-models 1.1 now)"
    )


def test_a_regressor_is_retrained_from_its_record_as_a_regressor(settings):
    from demo.datasets import houses

    settings.TARGET_COLUMN, settings.DATA_ID_COLUMN, settings.TASK = "price", "", ""
    resources = memory_resources(houses(400, 8))
    state = run_in_memory(resources, GOOD_PARAMS)
    assert state.task.task.name == "regression"

    result = reproduce(state.challenger.version, resources.models, resources.source)

    assert result.identical, result.describe()
