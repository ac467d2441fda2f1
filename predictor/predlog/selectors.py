"""Reading the prediction log: what drift, monitoring and the triggers call."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db.models import Count, F, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from ml.positive import canonical, served_positive
from ml.task import CLASSIFICATION, REGRESSION, Task
from predictor.models import Deployment, HourSources, HourVolume, LoggedVersion, Prediction
from predictor.predlog import histograms, quality, rollups
from predictor.predlog.histograms import binned_rows
from predictor.predlog.source_rollups import newest_sources

VOLUME_WINDOWS = {"last_hour": timedelta(hours=1), "last_day": timedelta(days=1), "last_7_days": timedelta(days=7)}


def logged_inputs(since: datetime, version: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The logged inputs since a time, one row per prediction, oldest first.

    Columns: the model's input columns as clients sent them (after the input check; a missing
    value is None), then `prediction`, `model_version` and `created_at`. With a limit, the
    newest `limit` predictions. An empty log gives an empty frame with the three last columns.
    """
    rows = Prediction.objects.filter(created_at__gte=since)
    if version is not None:
        rows = rows.filter(model_version=version)
    rows = rows.order_by("-created_at").values_list("inputs", "prediction", "model_version", "created_at")
    if limit is not None:
        rows = rows[:limit]
    records = list(rows)[::-1]
    frame = pd.DataFrame.from_records([inputs for inputs, *_ in records])
    frame["prediction"] = [r[1] for r in records]
    frame["model_version"] = [r[2] for r in records]
    frame["created_at"] = pd.to_datetime([r[3] for r in records], utc=True)
    return frame


def prediction_volume(now: datetime | None = None) -> dict[str, dict[str, int]]:
    """{window: {version: predictions logged}} for the last hour, day and 7 days.

    Counts what the log holds: with PREDICTION_LOG_SAMPLE below 1, the sampled share. Whole hours
    from the rollups, the partial hours at either end from the rows (as `labelled_counts`).
    """
    now = now or timezone.now()
    volume = {}
    for name, span in VOLUME_WINDOWS.items():
        since = now - span
        rows, start, end = rollups.edges(Prediction.objects.all(), since, now)
        counts = rollups.logged_between(start, end) if start < end else {}
        for version, n in rows.values_list("model_version").annotate(n=Count("id")).order_by():
            counts[version] = counts.get(version, 0) + n
        volume[name] = dict(sorted(counts.items()))
    return volume


def versions_logged(since: datetime, now: datetime | None = None) -> set[str]:
    """The versions with predictions logged in [since, now): the whole hours' from the rollups, the
    partial hours' from the rows (`prediction_volume` for one window, without the counts)."""
    rows, start, end = rollups.edges(Prediction.objects.all(), since, now or timezone.now())
    hours = HourVolume.objects.filter(hour__gte=start, hour__lt=end) if start < end else HourVolume.objects.none()
    found = set(hours.values_list("version", flat=True).distinct())
    return found | set(rows.values_list("model_version", flat=True).distinct())


def labelled_counts(version: str, since: datetime, now: datetime | None = None) -> dict[tuple[str, str], int]:
    """{(true label, predicted class): count} of a version's labelled predictions since a time
    (`labelled_cells` without the scores)."""
    return labelled_cells(version, since, now)[0]


def labelled_cells(
    version: str, since: datetime, now: datetime | None = None, columns: int = 0
) -> tuple[dict[tuple[str, str], int], dict[str, np.ndarray]]:
    """A version's labelled predictions since a time: ({(true label, predicted class): count},
    {true label: (columns, BINS) histogram of the probabilities}, no histograms when `columns` is 0).

    Whole hours come from the rollups (rollups.py: a few rows an hour, whatever the traffic), the
    partial hours at either end (a window starts at a deployment's time) from the rows through the
    partial index, counted and binned by the database as the rollups bin them, so the counts equal a
    count of the rows (cells as canonical classes) and the histograms those the rows would make.
    """
    rows = Prediction.objects.filter(model_version=version, label__isnull=False)
    rows, start, end = rollups.edges(rows, since, now or timezone.now())
    cells, scores = rollups.labels_between(version, start, end, columns) if start < end else ({}, {})
    if columns:
        for truth, dense in binned_rows(rows, columns).items():
            scores[truth] = scores.get(truth, 0) + dense
    counted = rows.values_list("label", "prediction").annotate(n=Count("id")).order_by()
    for label, predicted, n in counted:
        key = (canonical(label), canonical(predicted))
        cells[key] = cells.get(key, 0) + n
    return cells, scores


def label_sources(version: str, since: datetime, now: datetime | None = None) -> dict[str, int]:
    """{source: labelled predictions} of a version since a time, by who gave each prediction's
    newest label (LabelChange.source: "key:<id>", "user:<name>", "address:<ip>"). A label with no
    recorded giver (written before labels were audited, or straight into the table) counts under
    no source. Whole hours from the rollup (source_rollups.py), the partial hours from the rows."""
    rows = Prediction.objects.filter(model_version=version, label__isnull=False)
    rows, start, end = rollups.edges(rows, since, now or timezone.now())
    hours = HourSources.objects.filter(version=version, hour__gte=start, hour__lt=end)
    counts = dict(hours.values_list("source").annotate(n=Sum("count")).order_by()) if start < end else {}
    for source, n in newest_sources(rows).values_list("source").annotate(n=Count("id")).order_by():
        counts[source] = counts.get(source, 0) + n
    return counts


def logged_count(version: str, since: datetime, now: datetime | None = None) -> int:
    """How many predictions of a version the log has taken since a time: whole hours from the
    rollups (so pruned rows still count, as their labels do), the partial hours from the rows."""
    rows, start, end = rollups.edges(Prediction.objects.filter(model_version=version), since, now or timezone.now())
    hours = HourVolume.objects.filter(version=version, hour__gte=start, hour__lt=end)
    whole = hours.aggregate(n=Sum("logged"))["n"] if start < end else 0
    return (whole or 0) + rows.count()


def positive_class(version: str, data_version: dict | None = None) -> str | None:
    """The class a version's precision, recall, F1 and ROC AUC are for: the one its deployment
    recorded with its data (`data_version` when the caller has it), else 1 for 0/1 classes, else
    None (unknown). Accuracy needs no positive class: callers skip this for it."""
    if data_version is None:
        found = Deployment.objects.filter(version=version).order_by("-id").values_list("data_version", flat=True)
        data_version = found.first() or {}
    recorded = data_version.get("positive_class")
    if recorded:
        return served_positive(recorded, None)
    return served_positive(
        None, LoggedVersion.objects.filter(version=version).values_list("classes", flat=True).first()
    )


def version_task(version: str, data_version: dict | None = None) -> Task:
    """The task a served version was trained for, as its deployment recorded it (the pipeline's
    record, or the `data.task` tag of a version promoted by hand); classification when unrecorded,
    as every version was before regression existed."""
    if data_version is None:
        found = Deployment.objects.filter(version=version).order_by("-id").values_list("data_version", flat=True)
        data_version = found.first() or {}
    return REGRESSION if data_version.get("task") == REGRESSION.name else CLASSIFICATION


def regression_sums(version: str, since: datetime, now: datetime | None = None) -> dict[str, float]:
    """{"n", "squared", "absolute", "fourth"}: the count of a version's labelled predictions since a
    time and the sums of their errors' squares, absolute values and fourth powers. Whole days and
    hours from the rollups' ("", "") cells (rollups.py), the partial hours in one aggregate query
    over the rows' numeric columns."""
    rows = Prediction.objects.filter(model_version=version, label__isnull=False)
    rows = rows.filter(label_value__isnull=False, prediction_value__isnull=False)
    rows, start, end = rollups.edges(rows, since, now or timezone.now())
    error = F("label_value") - F("prediction_value")
    parts = [
        rows.annotate(error=error).aggregate(
            n=Count("id"),
            squared=Sum(F("error") * F("error")),
            absolute=Sum(Abs(F("error"))),
            fourth=Sum(F("error") * F("error") * F("error") * F("error")),
        )
    ]
    for cells in rollups.cells_between(version, start, end) if start < end else []:
        sums = ("squared", "absolute", "fourth")
        parts.append(cells.filter(truth="", predicted="").aggregate(n=Sum("count"), **{s: Sum(s) for s in sums}))
    return {name: sum(float(part[name] or 0) for part in parts) for name in ("n", "squared", "absolute", "fourth")}


def live_metric(version: str, since: datetime, metric: str) -> dict:
    """One metric of `live_metrics`, as cheaply as it can be had: {"labels": n, "metric":
    {"value", "low", "high"} or None}. Accuracy, precision, recall and F1 come from the confusion
    counts alone (the same figures); ROC AUC from the score histograms as well (`live_metrics`)."""
    if version_task(version) is REGRESSION:
        scored = live_metrics(version, since)
        return {"labels": scored["labels"], "metric": scored["metrics"].get(metric)}
    if metric in quality.CONFUSION_METRICS:
        cells = labelled_counts(version, since)
        positive = positive_class(version) if metric != "accuracy" else None
        return {"labels": sum(cells.values()), "metric": quality.score_counts(cells, metric, positive)}
    scored = live_metrics(version, since)
    return {"labels": scored["labels"], "metric": scored["metrics"].get(metric)}


def live_metrics(version: str, since: datetime, now: datetime | None = None) -> dict:
    """Quality of one version on its labelled predictions since a time.

    {"version", "since", "labels": n, "metrics": {name: {"value", "low", "high"}}}, the metric
    names of the task (ml/task.py), each with a 95% interval (Wilson for accuracy, a bootstrap of
    the confusion counts for precision, recall and F1, DeLong's for ROC AUC from the score
    histograms; for a regression, RMSE and MAE with normal intervals from sums of errors,
    `quality.score_sums`). A classifier's figures come from `labelled_cells`, so they cost the same
    at a thousand labels or millions. With no labels, `labels` is 0 and `metrics` empty.
    """
    if version_task(version) is REGRESSION:
        sums = regression_sums(version, since, now)
        return {"version": version, "since": since.isoformat(), **quality.score_sums(sums)}
    return windows_live_metrics(version, {"window": since}, now)["window"]


def windows_live_metrics(version: str, sinces: dict[str, datetime], now: datetime | None = None) -> dict[str, dict]:
    """{name: `live_metrics(version, since, now)`} of windows ending at one `now`, each labelled row
    and rollup read once: the shortest window first, each longer one the shorter plus the span
    before it (the Monitoring page's day and week share the day's hours and its edge rows)."""
    now = now or timezone.now()
    if version_task(version) is REGRESSION:
        return {name: live_metrics(version, since, now) for name, since in sinces.items()}
    classes = LoggedVersion.objects.filter(version=version).values_list("classes", flat=True).first()
    names = [canonical(str(c)) for c in classes] if classes else []
    positive = positive_class(version)
    cells: dict[tuple[str, str], int] = {}
    scores: dict[str, np.ndarray] = {}
    found, end = {}, now
    for name, since in sorted(sinces.items(), key=lambda item: item[1], reverse=True):
        if since < end:
            more_cells, more_scores = labelled_cells(version, since, end, len(names))
            for key, n in more_cells.items():
                cells[key] = cells.get(key, 0) + n
            for truth, dense in more_scores.items():
                scores[truth] = scores.get(truth, 0) + dense
            end = since
        found[name] = {"version": version, "since": since.isoformat(), **_scored(cells, scores, names, positive)}
    return {name: found[name] for name in sinces}


def _scored(cells: dict, scores: dict[str, np.ndarray], names: list[str], positive: str | None) -> dict:
    """{"labels", "metrics"} of a classifier from its confusion cells and score histograms."""
    count = sum(cells.values())
    metrics = {name: quality.score_counts(cells, name, positive) for name in quality.CONFUSION_METRICS}
    # ROC AUC only when every labelled row had its probabilities, as on the rows.
    by_truth: dict[str, int] = {}
    for (truth, _), n in cells.items():
        by_truth[truth] = by_truth.get(truth, 0) + n
    if names and count and all(truth in scores and scores[truth][0].sum() == n for truth, n in by_truth.items()):
        metrics["roc_auc"] = histograms.histogram_auc_interval(scores, names, positive)
    ordered = {name: metrics[name] for name in CLASSIFICATION.metrics if metrics.get(name) is not None}
    return {"labels": count, "metrics": ordered if count else {}}
