"""A team's own pipeline under a regression: the product fits the team's regressor on the numeric
target, scores it on RMSE, logs it and reproduces it, as it does for a built-in estimator."""

import pytest

from demo.datasets import houses
from retraining.models import RetrainingRun
from retraining.pipeline.reproduce import reproduce
from tests.support.in_memory import memory_resources, run_in_memory
from tests.support.team import write_module

REGRESSOR = """
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder


def make_pipeline(params, columns):
    codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    preprocess = ColumnTransformer(
        [("numbers", "passthrough", columns["numeric"]), ("categories", codes, columns["categorical"])]
    )
    return Pipeline([("preprocess", preprocess), ("model", HistGradientBoostingRegressor(**params))])
"""


@pytest.fixture
def team_regressor(tmp_path, monkeypatch, settings):
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.TRAINING_PIPELINE = write_module(tmp_path, REGRESSOR)
    settings.TARGET_COLUMN, settings.DATA_ID_COLUMN, settings.TASK = "price", "", ""
    return settings.TRAINING_PIPELINE


def test_a_team_regressor_is_trained_on_the_numeric_target_scored_on_rmse_and_reproduced(team_regressor):
    resources = memory_resources(houses(600, 3))

    state = run_in_memory(resources, {"max_iter": 40})

    assert state.status == RetrainingRun.Status.DEPLOYED, state.reasons
    assert state.task.task.name == "regression"
    model = resources.models.load(state.challenger.version)
    assert type(model.named_steps["model"]).__name__ == "HistGradientBoostingRegressor"
    metrics = state.challenger.score.metrics
    assert {"rmse", "mae", "r2"} <= set(metrics)
    # Better than answering the mean, on rows the team's code never saw.
    assert metrics["r2"] > 0.5
    result = reproduce(state.challenger.version, resources.models, resources.source)
    assert result.identical, result.describe()
