import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from predictor.predlog.quality import score, wilson

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


def test_the_wilson_interval_matches_the_textbook_values():
    assert wilson(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson(90, 100) == pytest.approx((0.8256, 0.9448), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)
    assert wilson(10, 10)[1] == 1.0


def labelled(n: int, accuracy: float, seed: int = 0):
    """n labels with the given share predicted right, and probabilities that favour the prediction."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(CLASSES, n)
    predicted = truth.copy()
    wrong = rng.random(n) > accuracy
    predicted[wrong] = [CLASSES[(CLASSES.index(t) + 1) % 3] for t in truth[wrong]]
    proba = rng.dirichlet([1, 1, 1], n) * 0.5
    proba[np.arange(n), [CLASSES.index(p) for p in predicted]] += 0.5
    return list(truth), list(predicted), proba


def test_every_metric_of_the_contract_comes_with_its_interval_and_the_label_count():
    truth, predicted, proba = labelled(400, 0.85)
    result = score(truth, predicted, proba, CLASSES)
    assert result["labels"] == 400
    assert list(result["metrics"]) == ["accuracy", "precision", "recall", "f1", "roc_auc"]
    correct = sum(t == p for t, p in zip(truth, predicted, strict=True))
    assert result["metrics"]["accuracy"]["value"] == correct / 400
    assert (result["metrics"]["accuracy"]["low"], result["metrics"]["accuracy"]["high"]) == wilson(correct, 400)
    assert result["metrics"]["f1"]["value"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    for metric in result["metrics"].values():
        assert 0 <= metric["low"] <= metric["value"] <= metric["high"] <= 1


def test_the_bootstrap_intervals_agree_with_resampling_rows_one_by_one():
    truth, predicted, proba = labelled(300, 0.8, seed=3)
    result = score(truth, predicted, proba, CLASSES)["metrics"]
    rng = np.random.default_rng(7)
    y, p = np.array(truth), np.array(predicted)
    f1s, aucs = [], []
    for _ in range(1000):
        i = rng.integers(0, 300, 300)
        f1s.append(f1_score(y[i], p[i], average="macro", zero_division=0))
        aucs.append(roc_auc_score(y[i], proba[i], multi_class="ovr", labels=CLASSES))
    assert result["f1"]["low"] == pytest.approx(np.percentile(f1s, 2.5), abs=0.02)
    assert result["f1"]["high"] == pytest.approx(np.percentile(f1s, 97.5), abs=0.02)
    assert result["roc_auc"]["low"] == pytest.approx(np.percentile(aucs, 2.5), abs=0.02)
    assert result["roc_auc"]["high"] == pytest.approx(np.percentile(aucs, 97.5), abs=0.02)


def test_more_labels_give_a_narrower_interval():
    small = score(*labelled(50, 0.8), CLASSES)["metrics"]
    large = score(*labelled(5000, 0.8), CLASSES)["metrics"]
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        assert large[name]["high"] - large[name]["low"] < small[name]["high"] - small[name]["low"]


def test_two_classes_score_the_second_as_positive_as_the_holdout_does():
    truth = ["no", "yes", "yes", "yes", "no", "no"]
    predicted = ["no", "yes", "no", "yes", "yes", "no"]
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7], [0.8, 0.2]])
    metrics = score(truth, predicted, proba, ["no", "yes"])["metrics"]
    assert metrics["precision"]["value"] == pytest.approx(2 / 3)
    assert metrics["recall"]["value"] == pytest.approx(2 / 3)
    assert metrics["roc_auc"]["value"] == pytest.approx(roc_auc_score([0, 1, 1, 1, 0, 0], proba[:, 1]))


def test_no_labels_give_no_metrics_and_one_class_gives_no_roc_auc():
    assert score([], [], None, CLASSES) == {"labels": 0, "metrics": {}}
    one_class = score(["Adelie"] * 5, ["Adelie"] * 5, np.full((5, 3), 1 / 3), CLASSES)
    assert "roc_auc" not in one_class["metrics"]
    assert one_class["metrics"]["accuracy"]["value"] == 1.0


def test_a_live_figure_is_the_holdouts_figure_for_the_same_rows():
    """Live quality and the holdout share one implementation of each metric (ml.metrics): the same
    labels, predictions and probabilities give the same figures, to the last bit."""
    from ml.evaluate import Score, restrict

    truth, predicted, proba = labelled(500, 0.8, seed=5)
    y, p = np.array(truth, dtype=object), np.array(predicted, dtype=object)
    holdout = restrict(Score({}, p, proba, CLASSES), y[::2], np.arange(500) % 2 == 0)

    live = score(list(y[::2]), list(p[::2]), proba[::2], CLASSES)["metrics"]

    assert {name: figure["value"] for name, figure in live.items()} == holdout.metrics


def test_the_confusion_counts_give_the_same_figures_as_the_rows():
    """What the trigger and the badge compute from one GROUP BY is what `score` says of the rows."""
    from collections import Counter

    from predictor.predlog.quality import CONFUSION_METRICS, score_counts

    truth, predicted, proba = labelled(700, 0.8, seed=11)
    rows = score(truth, predicted, proba, CLASSES)["metrics"]
    cells = Counter(zip(truth, predicted, strict=True))

    for metric in CONFUSION_METRICS:
        assert score_counts(dict(cells), metric) == pytest.approx(rows[metric]), metric
    assert score_counts(dict(cells), "roc_auc") is None
    assert score_counts({}, "accuracy") is None


def test_past_the_auc_bootstrap_rows_the_interval_matches_the_full_bootstrap():
    """Beyond AUC_BOOTSTRAP_ROWS the interval comes from a subsample, scaled: it must still be the
    interval a bootstrap of every row gives."""
    from predictor.predlog import quality

    truth, predicted, proba = labelled(15_000, 0.7, seed=4)
    y = np.array(truth)
    fast = score(truth, predicted, proba, CLASSES)["metrics"]["roc_auc"]

    weights = quality._weights(len(y))
    full = quality._macro([quality._weighted_auc(y == c, proba[:, i], weights) for i, c in enumerate(CLASSES)])
    low, high = np.percentile(full, [2.5, 97.5])

    half_width = (high - low) / 2
    assert fast["value"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", labels=CLASSES))
    assert fast["low"] == pytest.approx(low, abs=0.2 * half_width)
    assert fast["high"] == pytest.approx(high, abs=0.2 * half_width)
