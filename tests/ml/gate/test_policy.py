"""The promotion policy, rule by rule, on plain dicts of scores and real paired comparisons."""

import numpy as np
import pytest

from ml.evaluate import Score
from ml.gate.policy import DEFAULT_POLICY, PolicyError, decide, gate_level, paired_comparison, regressed
from tests.support.scores import holdout, outputs, scored

CHAMPION = {"accuracy": 0.90, "precision": 0.90, "recall": 0.90, "f1": 0.90, "roc_auc": 0.95}
NO_GATE = {**DEFAULT_POLICY, "test": "none"}
MCNEMAR = {**DEFAULT_POLICY, "test": "mcnemar"}


def scores(**changes: float) -> dict[str, float]:
    return {**CHAMPION, **changes}


def paired(gained: int, lost: int, same: int, wrong: int = 0) -> tuple[np.ndarray, Score, Score]:
    """Rows only the challenger gets right, only the champion, both, and neither."""
    rows = gained + lost + same + wrong
    truth = np.array(["a"] * rows)
    champion = np.array(["b"] * gained + ["a"] * lost + ["a"] * same + ["b"] * wrong)
    challenger = np.array(["a"] * gained + ["b"] * lost + ["a"] * same + ["b"] * wrong)
    return (
        truth,
        Score({"accuracy": (lost + same) / rows}, champion),
        Score({"accuracy": (gained + same) / rows}, challenger),
    )


def judged(policy: dict, gained: int, lost: int, same: int, wrong: int = 0, **options: bool):
    truth, champion, challenger = paired(gained, lost, same, wrong)
    comparison = paired_comparison(policy, truth, champion, challenger, **options)
    return decide(policy, challenger.metrics, champion.metrics, comparison, **options)


def test_a_first_model_is_deployed_when_it_reaches_the_minimum_score():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.5), None)

    assert decision.deploy
    assert decision.rule == "first_model"
    assert "0.5000 >= minimum 0.5000" in decision.reasons[0]


def test_a_first_model_below_the_minimum_score_is_not_deployed():
    decision = decide({**DEFAULT_POLICY, "min_first_score": 0.8}, scores(accuracy=0.79), None)

    assert not decision.deploy
    assert "0.7900 is below minimum 0.8000" in decision.reasons[0]


def test_the_significance_gate_is_on_by_default():
    assert DEFAULT_POLICY["test"] == "bootstrap"
    assert gate_level(DEFAULT_POLICY) == 0.005
    assert gate_level(DEFAULT_POLICY, returning=True) == 0.001


def test_a_tie_keeps_the_champion():
    decision = judged(DEFAULT_POLICY, gained=5, lost=5, same=90)

    assert not decision.deploy
    assert decision.rule == "min_improvement"
    assert "needs strictly better" in decision.reasons[0]
    assert decision.reasons[1].startswith("accuracy difference +0.0 points on 100 rows, 99.5% interval [")


def test_identical_predictions_never_deploy_even_without_the_gate():
    truth, champion, _ = paired(0, 0, 90, wrong=10)

    for policy in (DEFAULT_POLICY, NO_GATE):
        comparison = paired_comparison(policy, truth, champion, champion)
        decision = decide(policy, scores(accuracy=0.95), champion.metrics, comparison)
        assert not decision.deploy
        assert decision.rule == "no_difference"
        assert "the two models made the same predictions on all 100 rows" in decision.reasons[0]


def test_a_clearly_better_challenger_passes_the_gate():
    decision = judged(DEFAULT_POLICY, gained=30, lost=5, same=265)

    assert decision.deploy
    assert decision.rule == "bootstrap"
    assert decision.p_value < 0.001
    assert decision.reasons[2].startswith("significant: p-value ")
    assert decision.reasons[-1].startswith("this holdout of 300 rows cannot detect a gain in accuracy below ")


@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1", "roc_auc"])
def test_the_gate_deploys_a_clearly_better_challenger_and_keeps_an_equal_one_on_every_metric(metric):
    policy = {**DEFAULT_POLICY, "primary_metric": metric, "max_guard_drop": 1.0}
    names, labels = holdout(400, 2)
    truth, champion = scored(names, labels, outputs(labels, 2, 1.0, seed=1))
    _, better = scored(names, labels, outputs(labels, 2, 3.0, seed=2))
    _, equal = scored(names, labels, outputs(labels, 2, 1.0, seed=3))

    for challenger, expected in ((better, True), (equal, False)):
        comparison = paired_comparison(policy, truth, champion, challenger)
        decision = decide(policy, challenger.metrics, champion.metrics, comparison)
        assert decision.deploy is expected, decision.reasons
        assert decision.rule in ("bootstrap", "min_improvement")


def test_a_gain_within_noise_is_kept_by_the_gate_with_the_numbers():
    decision = judged(DEFAULT_POLICY, gained=8, lost=5, same=95)

    assert not decision.deploy
    assert decision.rule == "bootstrap"
    assert "(+0.0278), strictly better: passed" in decision.reasons[0]
    assert decision.reasons[2].startswith("not significant: p-value 0.")
    assert decision.reasons[2].endswith("is not below 0.005")
    assert "interval [-" in decision.reasons[3]
    assert decision.comparison.rows == 108
    detectable = decision.comparison.detectable * 100
    assert (
        decision.reasons[4]
        == f"this holdout of 108 rows cannot detect a gain in accuracy below {detectable:.1f} points"
    )


def test_without_the_gate_any_gain_deploys_and_the_comparison_is_still_reported():
    decision = judged(NO_GATE, gained=8, lost=5, same=95)

    assert decision.deploy
    assert decision.rule == "min_improvement"
    assert any("cannot detect" in reason for reason in decision.reasons)


def test_the_gate_keeps_the_champion_when_no_paired_comparison_was_made():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.99), CHAMPION)

    assert not decision.deploy
    assert decision.reasons[-1] == "the bootstrap gate is on but the models were not compared row by row"


def test_mcnemar_keeps_a_better_challenger_that_is_not_significantly_better():
    decision = judged(MCNEMAR, gained=6, lost=1, same=100)

    assert not decision.deploy
    assert decision.rule == "mcnemar"
    assert decision.p_value == pytest.approx(0.125)
    assert "(McNemar)" in decision.reasons[3]


def test_mcnemar_deploys_a_significantly_better_challenger():
    decision = judged(MCNEMAR, gained=12, lost=0, same=100)

    assert decision.deploy
    assert decision.rule == "mcnemar"
    assert decision.reasons[2] == f"significant: p-value {decision.p_value:.4f} < 0.005"


def test_a_minimum_improvement_is_met_exactly_despite_float_rounding():
    policy = {**NO_GATE, "min_improvement": 0.1}

    assert decide(policy, scores(accuracy=0.9, precision=0.9), scores(accuracy=0.8, precision=0.9)).deploy
    assert not decide(policy, scores(accuracy=0.89), scores(accuracy=0.8)).deploy


def test_a_guard_metric_that_drops_too_much_keeps_the_champion():
    decision = decide(DEFAULT_POLICY, scores(accuracy=0.95, recall=0.85), CHAMPION)

    assert not decision.deploy
    assert decision.rule == "guard_metric"
    assert "recall dropped by 0.0500 (0.9000 -> 0.8500), more than the allowed 0.0100" in decision.reasons[-1]


def test_a_guard_metric_within_the_allowed_drop_passes():
    decision = decide(NO_GATE, scores(accuracy=0.95, f1=0.89), CHAMPION)

    assert decision.deploy
    assert "no other metric dropped by more than 0.0100" in decision.reasons


def test_with_f1_primary_its_own_parts_are_not_guarded_apart_but_accuracy_and_roc_auc_are():
    """F1 is the trade-off between precision and recall: a challenger that gives up some
    precision for more recall, with a better F1, is not kept out by a precision guard."""
    policy = {**NO_GATE, "primary_metric": "f1"}
    traded = scores(f1=0.93, precision=0.85, recall=0.99)

    decision = decide(policy, traded, CHAMPION)
    assert decision.deploy, decision.reasons
    assert "precision and recall are parts of f1, judged through it" in decision.reasons[-1]
    assert decide(policy, {**traded, "accuracy": 0.85}, CHAMPION).rule == "guard_metric"
    assert decide(policy, {**traded, "roc_auc": 0.90}, CHAMPION).rule == "guard_metric"
    # With another primary metric, precision and recall are guarded as before.
    assert decide(NO_GATE, scores(accuracy=0.95, precision=0.85), CHAMPION).rule == "guard_metric"


def test_roc_auc_is_guarded_too():
    assert decide(DEFAULT_POLICY, scores(accuracy=0.95, roc_auc=0.80), CHAMPION).rule == "guard_metric"


def test_the_primary_metric_can_be_another_metric():
    decision = decide({**NO_GATE, "primary_metric": "f1"}, scores(f1=0.92), CHAMPION)

    assert decision.deploy
    assert decision.reasons[0].startswith("f1: challenger 0.9200 vs champion 0.9000")


def test_a_primary_metric_one_model_lacks_keeps_the_champion():
    decision = decide({**DEFAULT_POLICY, "primary_metric": "roc_auc"}, scores(), {"accuracy": 0.9})

    assert not decision.deploy
    assert decision.rule == "missing_metric"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"test": "t-test"}, "unknown significance test 't-test'"),
        ({"test": "mcnemar", "primary_metric": "f1"}, "McNemar's test compares accuracy only; the primary metric is"),
        ({"significance": 0}, "significance must be strictly between 0 and 1, got 0"),
        ({"return_significance": 1.5}, "return_significance must be strictly between 0 and 1, got 1.5"),
    ],
)
def test_a_policy_that_cannot_be_applied_names_the_problem(change, message):
    with pytest.raises(PolicyError, match=message):
        decide({**DEFAULT_POLICY, **change}, scores(), CHAMPION)


def rollback(policy: dict, gained: int, lost: int, same: int, *, returning: bool = True):
    """The previous champion (as challenger) against the current one, on rows neither trained on."""
    truth, current, previous = paired(gained, lost, same)
    comparison = paired_comparison(policy, truth, current, previous, returning=returning)
    return regressed(policy, current.metrics, previous.metrics, comparison, returning=returning)


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, MCNEMAR], ids=["bootstrap", "mcnemar"])
def test_a_clear_regression_rolls_back_with_the_gate_on(policy):
    verdict = rollback(policy, gained=40, lost=5, same=255)

    assert verdict.deploy
    assert verdict.rule == policy["test"]


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, MCNEMAR], ids=["bootstrap", "mcnemar"])
def test_an_equivalent_previous_champion_is_not_brought_back(policy):
    assert not rollback(policy, gained=6, lost=4, same=290).deploy
    assert not rollback(policy, gained=5, lost=5, same=290).deploy


def test_a_replaced_model_needs_the_stricter_level_to_come_back():
    # p close to 0.0026: enough for a promotion, not for a return.
    promotion = rollback(DEFAULT_POLICY, gained=36, lost=14, same=950, returning=False)
    comeback = rollback(DEFAULT_POLICY, gained=36, lost=14, same=950, returning=True)

    assert 0.001 < comeback.p_value < 0.005
    assert promotion.deploy
    assert not comeback.deploy
    assert comeback.rule == "hysteresis"
    assert "bringing back a model that was just replaced needs p < 0.001" in comeback.reasons[-3]
    assert comeback.comparison.level == 0.001
    assert "99.9% interval" in comeback.reasons[-2]


def rows_of(right: dict[str, int], totals: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Truth and one model's answers: of each class's rows, `right[c]` answered correctly."""
    truth, answers = [], []
    for label, other in (("yes", "no"), ("no", "yes")):
        truth += [label] * totals[label]
        answers += [label] * right[label] + [other] * (totals[label] - right[label])
    return np.array(truth), np.array(answers)


def guarded(champion_right: dict[str, int], challenger_right: dict[str, int]):
    from ml.gate.policy import guard_comparisons
    from ml.metrics import label_metrics

    totals = {"yes": 300, "no": 100}
    truth, ours = rows_of(champion_right, totals)
    _, theirs = rows_of(challenger_right, totals)
    champion = Score(label_metrics(truth, ours, "yes"), ours, positive="yes")
    challenger = Score(label_metrics(truth, theirs, "yes"), theirs, positive="yes")
    guards = guard_comparisons(NO_GATE, truth, champion, challenger)
    return decide(NO_GATE, challenger.metrics, champion.metrics, guards=guards), guards


def test_a_guard_drop_the_rows_cannot_tell_from_noise_does_not_keep_a_better_challenger():
    decision, guards = guarded({"yes": 290, "no": 50}, {"yes": 286, "no": 95})

    assert set(guards) == {"precision", "recall", "f1"}
    assert decision.deploy, decision.reasons
    assert any(
        reason.startswith("recall dropped by 0.0133 (0.9667 -> 0.9533), within noise") for reason in decision.reasons
    )


def test_a_guard_drop_beyond_noise_still_keeps_the_champion():
    decision, _ = guarded({"yes": 290, "no": 50}, {"yes": 250, "no": 100})

    assert decision.rule == "guard_metric"
    assert "recall dropped by 0.1333 (0.9667 -> 0.8333), more than the allowed 0.0100" in decision.reasons[-1]
