"""The promotion policy, rule by rule, on plain dicts of scores."""

import numpy as np
import pytest

from retraining.policy import DEFAULT_POLICY, decide, mcnemar_p_value, regressed

CHAMPION = {"accuracy": 0.90, "precision": 0.90, "recall": 0.90, "f1": 0.90, "roc_auc": 0.95}


def scores(**changes: float) -> dict[str, float]:
    return {**CHAMPION, **changes}


def test_a_first_model_is_deployed_when_it_reaches_the_minimum_score():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.5), None)

    assert decision.deploy
    assert decision.rule == "first_model"
    assert "0.5000 >= minimum 0.5000" in decision.reasons[0]


def test_a_first_model_below_the_minimum_score_is_not_deployed():
    decision = decide({**DEFAULT_POLICY, "min_first_score": 0.8}, scores(accuracy=0.79), None)

    assert not decision.deploy
    assert "0.7900 is below minimum 0.8000" in decision.reasons[0]


def test_a_tie_keeps_the_champion_by_default():
    decision = decide(DEFAULT_POLICY, scores(), CHAMPION, p_value=1.0)

    assert not decision.deploy
    assert decision.rule == "min_improvement"
    assert "needs strictly better" in decision.reasons[0]
    assert "McNemar p-value 1.0000" in decision.reasons[1]


def test_a_strictly_better_challenger_is_deployed_by_default():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.91), CHAMPION)

    assert decision.deploy
    assert "(+0.0100), strictly better: passed" in decision.reasons[0]


def test_a_minimum_improvement_is_met_exactly_despite_float_rounding():
    policy = {**DEFAULT_POLICY, "min_improvement": 0.1}

    assert decide(policy, scores(accuracy=0.9, precision=0.9), scores(accuracy=0.8, precision=0.9)).deploy
    assert not decide(policy, scores(accuracy=0.89), scores(accuracy=0.8)).deploy


def test_a_guard_metric_that_drops_too_much_keeps_the_champion():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.95, recall=0.85), CHAMPION)

    assert not decision.deploy
    assert decision.rule == "guard_metric"
    assert "recall dropped by 0.0500 (0.9000 -> 0.8500), more than the allowed 0.0100" in decision.reasons[-1]


def test_a_guard_metric_within_the_allowed_drop_passes():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.95, f1=0.89), CHAMPION)

    assert decision.deploy
    assert "no other metric dropped by more than 0.0100" in decision.reasons


def test_roc_auc_is_guarded_too():
    assert decide(DEFAULT_POLICY, scores(accuracy=0.95, roc_auc=0.80), CHAMPION).rule == "guard_metric"


def test_the_primary_metric_can_be_another_metric():
    policy = {**DEFAULT_POLICY, "primary_metric": "f1"}

    decision = decide(policy, scores(f1=0.92), CHAMPION)

    assert decision.deploy
    assert decision.reasons[0].startswith("f1: challenger 0.9200 vs champion 0.9000")


def test_mcnemar_keeps_a_better_challenger_that_is_not_significantly_better():
    policy = {**DEFAULT_POLICY, "use_mcnemar": True, "significance": 0.05}

    decision = decide(policy, scores(accuracy=0.92), CHAMPION, p_value=0.3)

    assert not decision.deploy
    assert decision.rule == "mcnemar"
    assert decision.p_value == 0.3
    assert "McNemar p-value 0.3000 is not below the significance level 0.05" in decision.reasons[-1]


def test_mcnemar_deploys_a_significantly_better_challenger():
    policy = {**DEFAULT_POLICY, "use_mcnemar": True, "significance": 0.05}

    decision = decide(policy, scores(accuracy=0.92), CHAMPION, p_value=0.01)

    assert decision.deploy
    assert decision.rule == "mcnemar"
    assert "McNemar p-value 0.0100 < 0.05" in decision.reasons[-1]


def test_mcnemar_counts_only_the_rows_where_the_models_disagree():
    truth = np.array(["a"] * 20)
    champion = np.array(["b"] * 10 + ["a"] * 10)
    challenger = np.array(["a"] * 20)

    assert mcnemar_p_value(truth, champion, challenger) == pytest.approx(2 * 0.5**10)
    assert mcnemar_p_value(truth, challenger, challenger) == 1.0


def test_a_previous_champion_that_beats_the_current_one_means_a_regression():
    verdict = regressed(DEFAULT_POLICY, current=scores(accuracy=0.80), previous=CHAMPION)

    assert verdict.deploy
    assert not regressed(DEFAULT_POLICY, current=CHAMPION, previous=CHAMPION).deploy
