"""Day cells of the labelled rollups: the sums of their hours, kept with them, read for a window's
whole days, and built again from the hours (the migration's backfill, rebuild_rollups); a window's
edge rows binned by the database as the rollups bin them; a regression's error sums and the logged
counts from the rollups too."""

import time
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from predictor.models import DayLabels, Deployment, HourLabels, Prediction
from predictor.predlog import histograms, labelled_counts, live_metrics, record_labels, rollups
from predictor.predlog.histograms import binned_rows
from predictor.predlog.quality import score
from predictor.predlog.selectors import logged_count, regression_sums, versions_logged, windows_live_metrics
from tests.predictor.predlog.test_rollups import (  # noqa: F401
    CLASSES,
    PENGUINS,
    counted_rows,
    penguins,
    write,
    write_labelled,
)


def day_sums() -> dict[tuple, tuple]:
    """Each (version, day, truth, predicted) of the hour cells summed: what its DayLabels cell holds."""
    sums: dict[tuple, list] = {}
    for c in HourLabels.objects.all():
        key = (c.version, rollups.day_of(c.hour), c.truth, c.predicted)
        found = sums.setdefault(key, [0, {}, 0.0])
        found[0] += c.count
        histograms.merge(found[1], histograms.decode(c.scores))
        found[2] += c.squared
    return {key: (n, histograms.encode(bins), pytest.approx(sq)) for key, (n, bins, sq) in sums.items()}


def day_cells() -> dict[tuple, tuple]:
    cells = DayLabels.objects.all()
    return {(c.version, c.hour, c.truth, c.predicted): (c.count, bytes(c.scores), c.squared) for c in cells}


@pytest.mark.usefixtures("penguins")
def test_the_day_cells_are_the_sums_of_their_hours_through_feedback_and_replaced_labels():
    now = time.time()
    ids = [pid for days in (0.0, 0.6, 1.3, 2.9) for pid in write(30, now - days * 86400)]
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids) if i % 5])
    record_labels([{"prediction_id": pid, "label": "Gentoo"} for pid in ids[::7]])  # late, into past days

    assert day_cells() == day_sums()
    assert sum(n for n, _, _ in day_cells().values()) == Prediction.objects.filter(label__isnull=False).count()


@pytest.mark.usefixtures("penguins")
def test_a_window_of_days_reads_whole_days_from_day_cells_and_matches_the_rows():
    write_labelled(np.random.default_rng(8), 300, [days * 86400 for days in (4.7, 3.2, 2.5, 1.1, 0.4, 0.0)])
    at = timezone.now()
    since = at - timedelta(days=4, hours=5.5)
    parts = rollups.cells_between("4", *rollups.whole_hours(since, at))
    assert [q.model for q in parts] == [HourLabels, DayLabels, HourLabels]
    assert parts[1].exists()  # the window's whole days are read from their day cells
    HourLabels.objects.filter(hour__gte=rollups.day_of(since) + timedelta(days=1), hour__lt=rollups.day_of(at)).delete()

    rows = list(
        Prediction.objects.filter(model_version="4", created_at__gte=since, label__isnull=False).values_list(
            "label", "prediction", "probabilities"
        )
    )
    live = live_metrics("4", since, at)
    exact = score([r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows]), CLASSES)

    assert labelled_counts("4", since, at) == counted_rows(since)
    assert live["labels"] == exact["labels"] == len(rows)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert live["metrics"][name] == exact["metrics"][name]
    assert live["metrics"]["roc_auc"]["value"] == pytest.approx(exact["metrics"]["roc_auc"]["value"], abs=0.001)


@pytest.mark.usefixtures("penguins")
def test_the_day_cells_built_from_the_hours_equal_the_ones_kept_with_them():
    """The migration's backfill and rebuild_rollups give the day cells the writers keep."""
    now = time.time()
    ids = [pid for days in (0.0, 1.5, 3.2) for pid in write(40, now - days * 86400)]
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids)])
    kept = day_cells()

    DayLabels.objects.all().delete()
    assert rollups.days_from_hours(HourLabels, DayLabels) == HourLabels.objects.count()
    assert day_cells() == kept

    call_command("rebuild_rollups", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert day_cells() == kept


def test_merging_bins_into_encoded_scores_is_encoding_the_merged_bins():
    rng = np.random.default_rng(2)
    stored = {int(i): int(n) for i, n in zip(rng.integers(0, 30_000, 500), rng.integers(1, 9, 500), strict=True)}
    more = {int(i): int(n) for i, n in zip(rng.integers(0, 30_000, 80), rng.integers(-3, 4, 80), strict=True)}
    more.update({index: -n for index, n in list(stored.items())[:20]})  # bins emptied

    assert histograms.merged(histograms.encode(stored), more) == histograms.encode(histograms.merge(dict(stored), more))
    assert histograms.merged(b"", {}) == b""


@pytest.mark.usefixtures("penguins")
def test_the_database_bins_edge_rows_as_the_rollups_bin_them():
    proba = np.array([[0.0, 0.00005, 0.99995], [1.0, 0.0, 0.0], [0.33333, 0.33333, 0.33334], [0.5, 0.25, 0.25]])
    ids = write(4, time.time(), proba) + write(30, time.time())
    record_labels([{"prediction_id": pid, "label": CLASSES[i % 3]} for i, pid in enumerate(ids)])
    Prediction.objects.filter(id=ids[5]).update(probabilities=None)
    Prediction.objects.filter(id=ids[6]).update(probabilities=[0.5, 0.5])  # not the version's columns
    Prediction.objects.filter(id=ids[7]).update(probabilities=[0.2, None, 0.8])
    rows = Prediction.objects.filter(label__isnull=False)

    expected: dict[str, rollups.Delta] = {}
    for label, proba_row in rows.values_list("label", "probabilities"):
        if proba_row is not None and len(proba_row) == 3:
            expected.setdefault(label, rollups.Delta()).add(1, proba_row, None)
    binned = binned_rows(rows, 3)

    assert set(binned) == set(expected)
    for label, delta in expected.items():
        assert np.array_equal(binned[label], histograms.histogram(histograms.encode(delta.bins), 3))


def test_regression_sums_and_logged_counts_read_the_rollups_and_outlive_the_rows(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    settings.MODEL_NAME = "houses"
    Deployment.objects.create(model_name="houses", version="3", source="pipeline", data_version={"task": "regression"})
    houses = SimpleNamespace(version="3", name="houses", classes=None, task="regression")
    now = time.time()
    ids = [pid for age in (2.5 * 86400, 1.2 * 86400, 5000, 60) for pid in write(10, now - age, served=houses)]
    record_labels([{"prediction_id": pid, "label": (i % 10) + i / 7} for i, pid in enumerate(ids) if i % 3])
    at = timezone.now()
    since = at - timedelta(days=2, hours=1.5)
    rows = Prediction.objects.filter(model_version="3", created_at__gte=since, label__isnull=False)
    errors = np.array([p - v for p, v in rows.values_list("prediction_value", "label_value")])
    exact = {"n": len(errors), "squared": (errors**2).sum(), "absolute": np.abs(errors).sum()}
    exact["fourth"] = (errors**4).sum()
    logged = Prediction.objects.filter(model_version="3", created_at__gte=since).count()

    assert regression_sums("3", since, at) == pytest.approx(exact)
    assert logged_count("3", since, at) == logged == 30
    Prediction.objects.filter(created_at__lt=at - timedelta(hours=3)).delete()  # the old rows pruned
    assert regression_sums("3", since, at) == pytest.approx(exact)
    assert logged_count("3", since, at) == logged


def test_the_versions_logged_in_a_window_are_those_of_its_rollups_and_its_edge_rows(db, settings):
    settings.PREDICTION_LOG_SAMPLE = 1.0
    now = time.time()
    for version, age in (("1", 7 * 86400 + 1800), ("2", 7 * 86400 - 600), ("3", 3 * 86400), ("4", 60)):
        write(3, now - age, served=SimpleNamespace(**{**vars(PENGUINS), "version": version}))
    at = timezone.now()
    Prediction.objects.filter(model_version="3").delete()  # pruned: its hour's rollup remains

    assert versions_logged(at - timedelta(days=7), at) == {"2", "3", "4"}


@pytest.mark.usefixtures("penguins")
def test_windows_scored_together_equal_each_window_scored_alone():
    write_labelled(np.random.default_rng(4), 200, [days * 86400 for days in (6.5, 3.2, 0.9, 0.3, 0.0)])
    at = timezone.now()
    spans = {"last_day": timedelta(days=1), "last_7_days": timedelta(days=7), "hour": timedelta(hours=1)}
    sinces = {name: at - span for name, span in spans.items()}

    together = windows_live_metrics("4", sinces, at)

    assert together == {name: live_metrics("4", since, at) for name, since in sinces.items()}
    assert together["last_7_days"]["labels"] == 1000
    assert together["last_7_days"]["metrics"]["roc_auc"]["value"] > 0.5
