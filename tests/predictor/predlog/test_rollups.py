"""Hourly rollups of the prediction log: written with the rows and the labels, equal to the row-level
figures, kept when the rows are pruned, and rebuilt from the rows by a command."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import call_command
from django.db.models import Count
from django.utils import timezone

from ml.metrics import roc_auc
from predictor.models import DayLabels, Deployment, HourLabels, HourVolume, LoggedVersion, Prediction
from predictor.predlog import (
    histograms,
    labelled_counts,
    live_metrics,
    prediction_volume,
    prune,
    record_labels,
    rollups,
    writing,
)
from predictor.predlog.ids import new_ids
from predictor.predlog.quality import score, score_counts
from predictor.predlog.selectors import VOLUME_WINDOWS, labelled_cells
from retraining.panel.selectors import class_mix, hourly_volume

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
PENGUINS = SimpleNamespace(version="4", name="penguins", classes=np.array(CLASSES), task="classification")


def write(count: int, at: float, proba: np.ndarray | None = None, share: float = 1.0, served=PENGUINS) -> list[str]:
    """Rows as the prediction-log writer builds and inserts them for one request answered at `at`."""
    ids = new_ids(count)
    columns = {"bill": np.arange(count, dtype=float)}
    if served.task == "classification":
        rng = np.random.default_rng(count)
        proba = proba if proba is not None else rng.dirichlet(np.ones(len(CLASSES)), count)
        predictions = [CLASSES[i] for i in proba.argmax(axis=1)]
    else:
        predictions, proba = [float(i) for i in range(count)], None
    rows, _ = writing.Writer()._rows([(ids, at, served, columns, predictions, proba, None)])
    writing.insert(rows, share)
    return ids


def write_labelled(rng: np.random.Generator, count: int, ages: list[float]) -> None:
    """`count` labelled predictions written `age` seconds ago for each age, their probabilities
    informative of their labels."""
    now = time.time()
    labelled = []
    for age in ages:
        truth = rng.integers(0, 3, count)
        logits = rng.normal(0, 1, (count, 3)) + 1.0 * np.eye(3)[truth]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        ids = write(count, now - age, proba)
        labelled += [{"prediction_id": pid, "label": CLASSES[t]} for pid, t in zip(ids, truth, strict=True)]
    record_labels(labelled)


def rollup_cells(version: str = "4") -> dict[tuple[str, str], int]:
    cells, _ = rollups.labels_between(version, datetime(2000, 1, 1, tzinfo=UTC), timezone.now() + timedelta(hours=1), 0)
    return cells


@pytest.fixture
def penguins(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    LoggedVersion.objects.create(version="4", model_name="penguins", classes=CLASSES)


def test_the_writer_counts_each_hour_logged_and_served(penguins):
    now = time.time()
    write(30, now, share=0.25)
    write(12, now - 3 * 3600, share=0.25)
    write(8, now)

    volumes = {v.hour: (v.logged, v.served) for v in HourVolume.objects.filter(version="4")}
    this_hour = rollups.hour_of(datetime.fromtimestamp(now, tz=UTC))
    assert volumes == {this_hour: (38, 128.0), this_hour - timedelta(hours=3): (12, 48.0)}
    assert sum(logged for logged, _ in volumes.values()) == Prediction.objects.count()


def test_feedback_and_a_replaced_label_move_counts_between_cells(penguins):
    ids = write(60, time.time())
    since = timezone.now() - timedelta(days=1)
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids[:40])])
    assert rollup_cells() == labelled_counts("4", since)
    assert sum(rollup_cells().values()) == 40

    record_labels([{"prediction_id": pid, "label": "Gentoo"} for pid in ids[:10]])
    record_labels([{"prediction_id": ids[0], "label": "Adelie"}])

    assert rollup_cells() == labelled_counts("4", since)
    assert sum(rollup_cells().values()) == 40


def test_roc_auc_from_the_histograms_is_within_a_thousandth_of_the_exact_one(penguins):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, 3000)
    logits = rng.normal(0, 1, (3000, 3)) + 1.2 * np.eye(3)[truth]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ids = write(3000, time.time(), proba)
    record_labels([{"prediction_id": pid, "label": CLASSES[t]} for pid, t in zip(ids, truth, strict=True)])

    _, scores = rollups.labels_between("4", timezone.now() - timedelta(days=1), timezone.now() + timedelta(hours=1), 3)
    exact_truth = np.array([CLASSES[t] for t in truth], dtype=object)
    for positive in (None, "Gentoo"):
        exact = roc_auc(exact_truth, CLASSES, proba, positive)
        assert histograms.histogram_auc(scores, CLASSES, positive) == pytest.approx(exact, abs=0.001)


def test_a_regressions_error_sums_follow_its_labels(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    settings.MODEL_NAME = "houses"
    Deployment.objects.create(model_name="houses", version="3", source="pipeline", data_version={"task": "regression"})
    houses = SimpleNamespace(version="3", name="houses", classes=None, task="regression")
    ids = write(20, time.time(), served=houses)
    record_labels([{"prediction_id": pid, "label": i + 2.0} for i, pid in enumerate(ids)])
    record_labels([{"prediction_id": ids[0], "label": 5.0}])

    (cell,) = HourLabels.objects.filter(version="3")
    errors = np.array([-5.0] + [-2.0] * 19)
    assert (cell.truth, cell.predicted, cell.count) == ("", "", 20)
    assert cell.absolute == pytest.approx(np.abs(errors).sum())
    assert cell.squared == pytest.approx((errors**2).sum())
    assert cell.fourth == pytest.approx((errors**4).sum())


def test_pruning_the_log_keeps_the_rollups_for_their_own_retention(penguins, settings):
    settings.PREDICTION_LOG_DAYS = 30
    settings.MONITORING_ROLLUP_DAYS = 400
    old = write(5, time.time() - 40 * 86400)
    record_labels([{"prediction_id": pid, "label": "Adelie"} for pid in old])
    write(7, time.time())

    assert prune() == 5
    assert Prediction.objects.count() == 7
    assert sorted(HourVolume.objects.values_list("logged", flat=True)) == [5, 7]
    assert sum(rollup_cells().values()) == 5

    settings.MONITORING_ROLLUP_DAYS = 35
    prune()
    assert list(HourVolume.objects.values_list("logged", flat=True)) == [7]
    assert rollup_cells() == {}


def test_the_rebuild_command_builds_the_same_rollups_from_the_rows(penguins):
    ids = write(50, time.time())
    write(20, time.time() - 7200)
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids[:30])])
    written = snapshot()
    HourVolume.objects.all().delete()
    HourLabels.objects.all().delete()
    DayLabels.objects.all().delete()

    call_command("rebuild_rollups", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert snapshot() == written


def snapshot() -> tuple[set, set]:
    volumes = set(HourVolume.objects.values_list("version", "hour", "logged", "served"))
    cells = {(c.version, c.hour, c.truth, c.predicted, c.count, bytes(c.scores)) for c in HourLabels.objects.all()}
    days = {(c.version, c.hour, c.truth, c.predicted, c.count, bytes(c.scores)) for c in DayLabels.objects.all()}
    return volumes, cells, days


def counted_rows(since: datetime) -> Counter:
    rows = Prediction.objects.filter(model_version="4", created_at__gte=since, label__isnull=False)
    return Counter(rows.values_list("label", "prediction"))


def test_a_window_starting_mid_hour_counts_whole_hours_from_rollups_and_its_edges_from_rows(penguins):
    now = time.time()
    ids = [pid for hours in (5.6, 4.2, 3.0, 1.5, 0.0) for pid in write(40, now - hours * 3600)]
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids) if i % 4])
    since = timezone.now() - timedelta(hours=4.5)

    cells = labelled_counts("4", since)

    assert cells == counted_rows(since)
    for metric in ("accuracy", "f1"):
        assert score_counts(cells, metric) == score_counts(counted_rows(since), metric)


def test_quality_history_outlives_the_rows(penguins, settings):
    settings.PREDICTION_LOG_DAYS = 30
    ids = write(30, time.time() - 40 * 86400)
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids)])
    since = timezone.now() - timedelta(days=41)
    before, scored = labelled_counts("4", since), live_metrics("4", since)

    prune()

    assert Prediction.objects.count() == 0
    assert labelled_counts("4", since) == before
    assert sum(before.values()) == 30
    assert live_metrics("4", since) == scored
    assert scored["labels"] == 30
    assert set(scored["metrics"]) == {"accuracy", "precision", "recall", "f1", "roc_auc"}


def test_volumes_from_rollups_and_edge_rows_equal_a_count_of_the_rows(penguins):
    now = time.time()
    for n, hours in ((3, 0.2), (5, 0.9), (7, 5.0), (11, 23.5), (13, 30.0), (17, 100.0), (19, 200.0)):
        write(n, now - hours * 3600)
    at = timezone.now()

    volume = prediction_volume(at)

    for name, span in VOLUME_WINDOWS.items():
        assert volume[name] == {"4": Prediction.objects.filter(created_at__gte=at - span).count()}


def test_live_quality_from_rollups_matches_the_row_level_figures(penguins):
    """A window starting mid-hour over several hours of labels: the counts' metrics are the rows'
    exactly, ROC AUC within a thousandth and its interval about as wide as the rows' bootstrap."""
    write_labelled(np.random.default_rng(5), 400, [hours * 3600 for hours in (6.7, 5.2, 3.9, 2.1, 0.0)])
    since = timezone.now() - timedelta(hours=5.5)
    rows = list(
        Prediction.objects.filter(model_version="4", created_at__gte=since, label__isnull=False).values_list(
            "label", "prediction", "probabilities"
        )
    )
    assert HourLabels.objects.filter(hour__gte=since).exists()  # whole hours in the window have rollups

    live = live_metrics("4", since)
    exact = score([r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows]), CLASSES)

    assert live["labels"] == exact["labels"] == len(rows)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert live["metrics"][name] == exact["metrics"][name]
    auc, row_auc = live["metrics"]["roc_auc"], exact["metrics"]["roc_auc"]
    assert auc["value"] == pytest.approx(row_auc["value"], abs=0.001)
    # Macro over three columns: the mean of the columns' errors bounds the spread from above.
    assert 1.0 <= (auc["high"] - auc["low"]) / (row_auc["high"] - row_auc["low"]) < 1.6
    # One positive class: DeLong's interval is the rows' bootstrap's.
    _, scores = labelled_cells("4", since, columns=3)
    auc = histograms.histogram_auc_interval(scores, CLASSES, "Gentoo")
    proba = np.array([r[2] for r in rows])
    row_auc = score([r[0] for r in rows], [r[1] for r in rows], proba, CLASSES, "Gentoo")["metrics"]["roc_auc"]
    assert auc["value"] == pytest.approx(row_auc["value"], abs=0.001)
    assert auc["high"] - auc["low"] == pytest.approx(row_auc["high"] - row_auc["low"], rel=0.15)


def test_the_hourly_volume_chart_reads_the_rollups_and_the_current_hour_from_rows(penguins, settings):
    now = time.time()
    for n, hours in ((3, 0.0), (5, 1.0), (7, 5.0), (11, 23.0), (13, 30.0)):
        write(n, now - hours * 3600)
    at = timezone.now()
    charted = hourly_volume(at)
    assert sum(charted["versions"]["4"]) == Prediction.objects.filter(created_at__gte=charted["hours"][0]).count()
    assert charted["versions"]["4"][-1] == 3

    Prediction.objects.filter(created_at__lt=at - timedelta(minutes=30)).delete()  # the rows pruned

    assert hourly_volume(at) == charted


def test_the_class_mix_reads_the_rollups_and_keeps_its_hours_when_rows_are_pruned(penguins):
    now = time.time()
    for n, hours in ((30, 0.0), (50, 1.5), (70, 5.0), (90, 23.5), (60, 12.0), (40, 30.0)):
        write(n, now - hours * 3600)
    at = timezone.now()
    since = at - timedelta(days=1)
    rows = Prediction.objects.filter(created_at__gte=since).values_list("prediction")
    counted = dict(rows.annotate(n=Count("id")).order_by())

    mix = class_mix("4", since, at)

    assert mix == counted
    assert sum(mix.values()) == 300
    assert list(mix.values()) == sorted(mix.values(), reverse=True)
    # The rows of the whole hours pruned (the window's first, partial hour is read from its rows).
    Prediction.objects.filter(created_at__lt=at - timedelta(hours=1), created_at__gt=at - timedelta(hours=13)).delete()
    assert class_mix("4", since, at) == mix
