"""The gate on a regression: a paired test on per-row losses, errors that improve downwards, and
the first model's error ceiling."""

import numpy as np
import pytest

from ml.evaluate import Score
from ml.gate.policy import DEFAULT_POLICY, decide, paired_comparison
from ml.gate.significance import ComparisonError, paired_test
from ml.metrics import regression_metrics
from ml.task import REGRESSION


def scored(truth: np.ndarray, predicted: np.ndarray) -> Score:
    return Score(regression_metrics(truth, predicted), predicted, task="regression")


def pair(rows: int, champion_noise: float, challenger_noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(100, 30, rows)
    return (
        truth,
        scored(truth, truth + rng.normal(0, champion_noise, rows)),
        scored(truth, truth + rng.normal(0, challenger_noise, rows)),
    )


def judged(policy, truth, champion, challenger):
    comparison = paired_comparison(policy, truth, champion, challenger)
    return comparison, decide(policy, challenger.metrics, champion.metrics, comparison, task=REGRESSION)


def test_a_clearly_lower_rmse_is_deployed_under_a_policy_written_for_accuracy():
    truth, champion, challenger = pair(2000, 10.0, 8.0)

    comparison, decision = judged(DEFAULT_POLICY, truth, champion, challenger)

    assert comparison.metric == "rmse"
    assert comparison.difference == pytest.approx(challenger.metrics["rmse"] - champion.metrics["rmse"])
    assert comparison.low < comparison.difference < comparison.high < 0
    assert comparison.p_method == "paired t-test on per-row squared errors"
    assert decision.deploy, decision.reasons
    assert decision.rule == "bootstrap"
    assert "smaller than" in comparison.describe()[1]


def test_a_higher_rmse_or_the_same_models_are_kept():
    truth, champion, challenger = pair(2000, 8.0, 10.0)
    assert not judged(DEFAULT_POLICY, truth, champion, challenger)[1].deploy

    comparison, decision = judged(DEFAULT_POLICY, truth, champion, champion)
    assert comparison.identical
    assert decision.rule == "no_difference"


def test_mae_is_tested_on_absolute_errors():
    truth, champion, challenger = pair(3000, 10.0, 8.0)

    comparison = paired_test("mae", truth, champion, challenger, level=0.005)

    assert comparison.p_method == "paired t-test on per-row absolute errors"
    assert comparison.difference == pytest.approx(challenger.metrics["mae"] - champion.metrics["mae"])
    with pytest.raises(ComparisonError, match="per-row losses"):
        paired_test("rmse", truth, champion, challenger, test="mcnemar")


def test_a_guard_error_is_direction_aware_and_relative():
    champion = {"rmse": 10.0, "mae": 8.0, "r2": 0.8}
    challenger = {"rmse": 9.0, "mae": 8.5, "r2": 0.84}

    decision = decide({**DEFAULT_POLICY, "test": "none"}, challenger, champion, task=REGRESSION)

    assert decision.rule == "guard_metric"
    assert "mae 6.25% worse (8.0000 -> 8.5000), more than the allowed 1.00%" in decision.reasons[-1]
    better_mae = decide({**DEFAULT_POLICY, "test": "none"}, {**challenger, "mae": 7.0}, champion, task=REGRESSION)
    assert better_mae.deploy


def test_the_first_model_has_an_error_ceiling():
    metrics = {"rmse": 12.0, "mae": 9.0, "r2": 0.4}

    assert decide(DEFAULT_POLICY, metrics, None, task=REGRESSION).deploy
    assert not decide(DEFAULT_POLICY, {**metrics, "r2": -0.1}, None, task=REGRESSION).deploy
    ceiling = {**DEFAULT_POLICY, "max_first_error": 10.0}
    refused = decide(ceiling, metrics, None, task=REGRESSION)
    assert not refused.deploy
    assert refused.reasons == ["first model: rmse 12.0000 is above the ceiling 10.0000"]
