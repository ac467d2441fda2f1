"""The paired comparison behind the gate: exact on the full sample, seeded, honest about its power."""

import numpy as np
import pytest
from scipy.stats import norm

from ml.evaluate import Score
from ml.gate.significance import ComparisonError, mcnemar_p_value, paired_test
from tests.support.scores import holdout, outputs, scored

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("metric", METRICS)
def test_the_difference_on_the_full_holdout_is_exactly_sklearns(metric, classes):
    names, labels = holdout(500, classes)
    truth, champion = scored(names, labels, outputs(labels, classes, 1.0, seed=1))
    _, challenger = scored(names, labels, outputs(labels, classes, 1.5, seed=2))

    comparison = paired_test(metric, truth, champion, challenger)

    assert comparison.difference == pytest.approx(challenger.metrics[metric] - champion.metrics[metric], abs=1e-12)
    assert comparison.low < comparison.difference < comparison.high


@pytest.mark.parametrize("metric", METRICS)
def test_a_clearly_better_model_is_significant_on_every_metric(metric):
    names, labels = holdout(600, 2)
    truth, champion = scored(names, labels, outputs(labels, 2, 0.8, seed=1))
    _, challenger = scored(names, labels, outputs(labels, 2, 3.0, seed=2))

    comparison = paired_test(metric, truth, champion, challenger)

    assert comparison.low > 0
    assert comparison.p_value < 0.01


@pytest.mark.parametrize("metric", METRICS)
def test_an_equally_good_model_is_not_significant_on_any_metric(metric):
    names, labels = holdout(600, 2)
    truth, champion = scored(names, labels, outputs(labels, 2, 1.5, seed=1))
    # The champion's outputs shuffled among rows of the same class: every metric is exactly equal,
    # yet the two models disagree on many rows.
    probabilities = champion.probabilities.copy()
    rng = np.random.default_rng(5)
    for label in (0, 1):
        rows = np.flatnonzero(labels == label)
        probabilities[rows] = probabilities[rng.permutation(rows)]
    _, challenger = scored(names, labels, probabilities)

    comparison = paired_test(metric, truth, champion, challenger)

    assert comparison.difference == pytest.approx(0, abs=1e-12)
    assert comparison.disagreements > 50
    assert comparison.low < 0 < comparison.high
    assert comparison.p_value > 0.5


def test_identical_models_are_flagged_and_never_significant():
    names, labels = holdout(200, 2)
    truth, champion = scored(names, labels, outputs(labels, 2, 1.0, seed=1))

    comparison = paired_test("accuracy", truth, champion, champion)

    assert comparison.identical
    assert comparison.p_value == 1.0
    assert (comparison.low, comparison.difference, comparison.high) == (0, 0, 0)


def test_same_labels_with_other_probabilities_are_not_identical_for_roc_auc():
    names, labels = holdout(200, 2)
    truth, champion = scored(names, labels, outputs(labels, 2, 1.0, seed=1))
    _, sharper = scored(names, labels, champion.probabilities**3 / (champion.probabilities**3).sum(1, keepdims=True))

    assert not paired_test("roc_auc", truth, champion, sharper).identical
    assert paired_test("accuracy", truth, champion, sharper).identical


def test_the_comparison_is_seeded():
    names, labels = holdout(300, 3)
    truth, champion = scored(names, labels, outputs(labels, 3, 1.0, seed=1))
    _, challenger = scored(names, labels, outputs(labels, 3, 1.2, seed=2))

    assert paired_test("roc_auc", truth, champion, challenger) == paired_test("roc_auc", truth, champion, challenger)
    assert paired_test("f1", truth, champion, challenger, seed=1) != paired_test(
        "f1", truth, champion, challenger, seed=2
    )


def paired(gained: int, lost: int, same: int) -> tuple[np.ndarray, Score, Score]:
    """Accuracy outcomes: rows only the challenger gets right, only the champion, and both."""
    truth = np.array(["a"] * (gained + lost + same))
    champion = np.array(["b"] * gained + ["a"] * lost + ["a"] * same)
    challenger = np.array(["a"] * gained + ["b"] * lost + ["a"] * same)
    return truth, Score({}, champion), Score({}, challenger)


def test_the_detectable_gain_grows_with_disagreement_and_shrinks_with_rows():
    few = paired_test("accuracy", *paired(6, 2, 100), level=0.05)
    many_disagree = paired_test("accuracy", *paired(24, 20, 64), level=0.05)
    more_rows = paired_test("accuracy", *paired(6, 2, 1000), level=0.05)

    # (z_0.975 + z_0.8) x the standard error of the paired difference of two proportions.
    expected = (norm.ppf(0.975) + norm.ppf(0.8)) * np.sqrt((8 - 4**2 / 108) / 108**2)
    assert few.detectable == pytest.approx(expected, rel=0.1)
    assert many_disagree.detectable > 2 * few.detectable
    assert more_rows.detectable < few.detectable / 3
    detectable = few.detectable * 100
    assert (
        few.describe()[1] == f"this holdout of 108 rows cannot detect a gain in accuracy below {detectable:.1f} points"
    )


@pytest.mark.parametrize(("gained", "exact"), [(4, 2 * 0.5**4), (6, 2 * 0.5**6), (9, 2 * 0.5**9)])
def test_a_handful_of_disagreements_gets_the_exact_p_value_not_an_optimistic_one(gained, exact):
    # Four rows all in the challenger's favour: a bootstrap p-value would be about 0.03.
    comparison = paired_test("accuracy", *paired(gained, 0, 100))

    assert comparison.p_value == pytest.approx(exact, abs=0.01)
    assert "(paired randomization test)" in comparison.describe()[0]


def test_mcnemar_gives_the_exact_p_value_and_the_wald_interval():
    comparison = paired_test("accuracy", *paired(10, 0, 10), test="mcnemar", level=0.05)

    assert comparison.p_value == pytest.approx(2 * 0.5**10)
    assert comparison.difference == pytest.approx(0.5)
    error = np.sqrt(10 - 10**2 / 20) / 20
    assert comparison.low == pytest.approx(0.5 - norm.ppf(0.975) * error)
    assert comparison.detectable == pytest.approx((norm.ppf(0.975) + norm.ppf(0.8)) * error)


def test_mcnemar_counts_only_the_rows_where_the_models_disagree():
    truth = np.array(["a"] * 20)
    champion = np.array(["b"] * 10 + ["a"] * 10)
    challenger = np.array(["a"] * 20)

    assert mcnemar_p_value(truth, champion, challenger) == pytest.approx(2 * 0.5**10)
    assert mcnemar_p_value(truth, challenger, challenger) == 1.0


def test_bad_comparisons_name_the_problem():
    truth, champion, challenger = paired(3, 1, 10)
    with pytest.raises(ComparisonError, match="McNemar's test compares accuracy only, not f1"):
        paired_test("f1", truth, champion, challenger, test="mcnemar")
    with pytest.raises(ComparisonError, match="ROC AUC needs class probabilities"):
        paired_test("roc_auc", truth, champion, challenger)
    with pytest.raises(ComparisonError, match="rows differ: 13 labels"):
        paired_test("accuracy", truth[:-1], champion, challenger)
    with pytest.raises(ComparisonError, match="unknown metric 'log_loss'"):
        paired_test("log_loss", truth, champion, challenger)
    with pytest.raises(ComparisonError, match="strictly between 0 and 1, got 0"):
        paired_test("accuracy", truth, champion, challenger, level=0)


def test_labels_are_indexed_by_their_sorted_classes_across_the_truth_and_both_models():
    from ml.metrics import class_indices

    truth = np.array(["b", "a", "c", "a"], dtype=object)
    ours = np.array(["a", "a", "d", "b"], dtype=object)
    theirs = np.array(["c", "b", "a", "a"], dtype=object)

    t, a, b, k = class_indices(truth, ours, theirs)

    index = {label: i for i, label in enumerate(sorted({*truth, *ours, *theirs}))}
    assert k == 4
    for indices, values in ((t, truth), (a, ours), (b, theirs)):
        assert indices.tolist() == [index[v] for v in values]
