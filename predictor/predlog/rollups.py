"""Hourly rollups of the prediction log: what monitoring reads instead of millions of rows.

Per model version and hour (of the prediction's `created_at`, UTC): how many rows were logged and how
many predictions they stand for (each row counted as 1 / the share the log kept then), and per (true
label, predicted class) of the labelled rows the count, the histogram of their probabilities (BINS
bins per class: ROC AUC from it is the exact one but for pairs tied in a bin) and, for a regression,
the sums of the errors' absolute values, squares and fourth powers that live RMSE and MAE need.

Kept by the writers themselves, in the transaction that writes the rows or the labels, not by a beat
task: the rollups are then exact at every moment (a reader adds no rows a task has not reached yet,
and never counts a row twice), and they cost a few upserts per batch, not a rescan. A replaced label
moves its row from one cell to another. Pruning the log leaves them; they are kept
MONITORING_ROLLUP_DAYS (retention.py). `rebuild` builds them from the rows already logged.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from ml.positive import canonical
from predictor.models import HourLabels, HourPredictions, HourVolume, LogSampling, Prediction
from predictor.predlog.quality import Z95

BINS = 10_000


def hour_of(created: datetime | str) -> datetime:
    """The hour a row belongs to; `created` as a model holds it or as the SQLite writer formats it."""
    if isinstance(created, str):
        return datetime.fromisoformat(created[:13] + ":00:00").replace(tzinfo=UTC)
    return created.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def count_written(rows: list[tuple], share: float) -> None:
    """Add written rows (the writer's tuples: id, created_at, model_version, inputs, prediction, ...,
    prediction_value) to their hours, and a classifier's to its hour's class counts. Inside the writer's
    transaction, so a batch and its counts are written together or not at all.
    """
    # Counted by (version, time, class) in C first: a request's rows share a time, so its hour is found once.
    counts: dict[tuple[str, datetime], int] = defaultdict(int)
    classes: dict[tuple[str, datetime, str], int] = defaultdict(int)
    hours: dict[Any, datetime] = {}
    for width, run in groupby(rows, key=len):
        same = list(run)  # a regression's predictions (row[7]) are numbers, not classes
        classified = same if width < 8 else [row for row in same if row[7] is None]
        for (version, created), n in Counter(map(itemgetter(2, 1), same)).items():
            counts[(version, hours.setdefault(created, hour_of(created)))] += n
        for (version, created, predicted), n in Counter(map(itemgetter(2, 1, 4), classified)).items():
            classes[(version, hours[created], predicted)] += n
    add_volume(counts, share)
    add_classes(classes)


def add_volume(counts: dict[tuple[str, datetime], int], share: float | dict) -> None:
    """Upsert logged counts: one statement, atomic on both backends (two writers add, never overwrite)."""
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = []
    for (version, hour), n in counts.items():
        kept = share if isinstance(share, float | int) else share[hour]
        params.append((version, adapt(hour), n, n / kept if kept > 0 else float(n)))
    _add(HourVolume, ("version", "hour"), ("logged", "served"), params)


def add_classes(counts: dict[tuple[str, datetime, str], int]) -> None:
    """Upsert predicted-class counts, as `add_volume`."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [(version, adapt(hour), predicted, n) for (version, hour, predicted), n in counts.items()]
    _add(HourPredictions, ("version", "hour", "predicted"), ("count",), params)


def _add(model: Any, keys: tuple[str, ...], sums: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT rows of (keys..., sums...), adding the sums to a row already there for the keys."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = [connection.ops.quote_name(name) for name in keys + sums]
    values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(rows))
    added = ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in names[len(keys) :])
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES {values} "
        f"ON CONFLICT ({', '.join(names[: len(keys)])}) DO UPDATE SET {added}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for row in rows for value in row])


@dataclass
class Delta:
    count: int = 0
    bins: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    absolute: float = 0.0
    squared: float = 0.0
    fourth: float = 0.0

    def add(self, sign: int, probabilities: list | None, error: float | None) -> None:
        self.count += sign
        if error is not None:
            self.absolute += sign * abs(error)
            self.squared += sign * error * error
            self.fourth += sign * error**4
        for column, p in enumerate(probabilities or []):
            if p is not None and math.isfinite(p):
                self.bins[column * BINS + min(max(int(p * BINS), 0), BINS - 1)] += sign


Key = tuple[str, datetime, str, str]


def cell(version: str, created: datetime, label: str, predicted: str, value: float | None) -> Key:
    """A labelled row's cell; a regression's rows share one ("", "") cell per hour."""
    if value is not None:
        return (version, hour_of(created), "", "")
    return (version, hour_of(created), canonical(label), canonical(predicted))


# What `relabel` needs of a row.
ROW = ("id", "model_version", "created_at", "label", "label_value", "prediction", "prediction_value", "probabilities")


def relabel(before: list[tuple], new: dict[Any, tuple[str, float | None]]) -> None:
    """Move labelled rows between cells: `before` the rows as they are (id, version, created_at,
    label, label_value, prediction, prediction_value, probabilities), `new` their labels to come.

    Inside the labelling transaction, with the prediction rows locked.
    """
    deltas: dict[Key, Delta] = defaultdict(Delta)
    for pid, version, created, label, label_value, predicted, predicted_value, proba in before:
        if pid not in new:
            continue
        if label is not None:
            error = None if label_value is None or predicted_value is None else predicted_value - label_value
            key = cell(version, created, label, predicted, error)
            deltas[key].add(-1, None if error is not None else proba, error)
        label, value = new[pid]
        error = None if value is None or predicted_value is None else predicted_value - value
        deltas[cell(version, created, label, predicted, error)].add(1, None if error is not None else proba, error)
    apply(deltas)


def apply(deltas: dict[Key, Delta]) -> None:
    """Add deltas to their cells: rows created if missing, then locked in one order (two labelling
    transactions never wait on each other in a cycle) and rewritten; an emptied cell is deleted."""
    deltas = {key: d for key, d in deltas.items() if d.count or d.squared or any(d.bins.values())}
    if not deltas:
        return
    HourLabels.objects.bulk_create(
        [HourLabels(version=v, hour=h, truth=t, predicted=p) for v, h, t, p in deltas], ignore_conflicts=True
    )
    found = HourLabels.objects.select_for_update().filter(
        version__in={k[0] for k in deltas}, hour__in={k[1] for k in deltas}
    )
    changed, emptied = [], []
    for row in found.order_by("version", "hour", "truth", "predicted"):
        delta = deltas.get((row.version, hour_of(row.hour), row.truth, row.predicted))
        if delta is None:
            continue
        row.count += delta.count
        row.scores = encode(merge(decode(row.scores), delta.bins))
        row.absolute += delta.absolute
        row.squared += delta.squared
        row.fourth += delta.fourth
        (emptied if row.count <= 0 else changed).append(row)
    HourLabels.objects.bulk_update(changed, ["count", "scores", "absolute", "squared", "fourth"])
    HourLabels.objects.filter(id__in=[row.id for row in emptied]).delete()


def encode(bins: dict[int, int]) -> bytes:
    pairs = sorted((index, n) for index, n in bins.items() if n)
    return np.array(pairs, dtype=np.int64).tobytes() if pairs else b""


def decode(data: bytes | memoryview) -> dict[int, int]:
    pairs = np.frombuffer(bytes(data), dtype=np.int64).reshape(-1, 2)
    return dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist(), strict=True))


def merge(bins: dict[int, int], more: dict[int, int]) -> dict[int, int]:
    for index, n in more.items():
        bins[index] = bins.get(index, 0) + n
    return bins


def histogram(data: bytes | memoryview, columns: int) -> np.ndarray:
    """A cell's scores as a (columns, BINS) array of counts."""
    dense = np.zeros(columns * BINS, dtype=np.int64)
    pairs = np.frombuffer(bytes(data), dtype=np.int64).reshape(-1, 2)
    np.add.at(dense, pairs[:, 0], pairs[:, 1])
    return dense.reshape(columns, BINS)


REBUILD_CHUNK = 20_000


def rebuild() -> tuple[int, int]:
    """Build the rollups again from the rows logged, in one transaction (readers see the old ones
    until it commits): (hours of volume, labelled rows). Hours whose rows were pruned keep their rollups.

    The share each row was kept at is the log's sampling then (LogSampling) times PREDICTION_LOG_SAMPLE now.
    """
    with transaction.atomic():
        oldest = Prediction.objects.order_by("created_at").values_list("created_at", flat=True).first()
        if oldest is None:
            return 0, 0
        start = hour_of(oldest)
        HourVolume.objects.filter(hour__gte=start).delete()
        HourLabels.objects.filter(hour__gte=start).delete()
        HourPredictions.objects.filter(hour__gte=start).delete()
        hourly = Prediction.objects.annotate(at=TruncHour("created_at", tzinfo=UTC)).values_list("model_version", "at")
        counts = {(v, hour_of(h)): n for v, h, n in hourly.annotate(n=Count("id")).order_by()}
        add_volume(counts, {hour: _share_at(hour) for _, hour in counts})
        classes = hourly.filter(prediction_value__isnull=True).values_list("model_version", "at", "prediction")
        add_classes({(v, hour_of(h), p): n for v, h, p, n in classes.annotate(n=Count("id")).order_by()})
        labelled = Prediction.objects.filter(label__isnull=False, created_at__gte=start).order_by()
        batch: list[tuple] = []
        rows = 0
        for row in labelled.values_list(*ROW).iterator(chunk_size=REBUILD_CHUNK):
            batch.append(row)
            if len(batch) >= REBUILD_CHUNK:
                rows += _count_labelled(batch)
                batch = []
        rows += _count_labelled(batch)
        return len(counts), rows


def _count_labelled(batch: list[tuple]) -> int:
    """Add labelled rows to their cells (as a first label each); returns how many."""
    relabel([(*row[:3], None, None, *row[5:]) for row in batch], {row[0]: (row[3], row[4]) for row in batch})
    return len(batch)


def _share_at(hour: datetime) -> float:
    change = LogSampling.objects.filter(since__lte=hour + timedelta(hours=1)).order_by("-since", "-id").first()
    return settings.PREDICTION_LOG_SAMPLE * (change.share if change is not None else 1.0)


def prune(now: datetime | None = None) -> int:
    """Delete rollups older than MONITORING_ROLLUP_DAYS; returns how many rows."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MONITORING_ROLLUP_DAYS)
    return sum(model.objects.filter(hour__lt=cutoff).delete()[0] for model in (HourVolume, HourLabels, HourPredictions))


def whole_hours(since: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The whole hours of [since, now): from the first hour boundary at or after `since` to the
    hour `now` is in (start >= end: no whole hour)."""
    start = hour_of(since)
    if start < since:
        start += timedelta(hours=1)
    return start, hour_of(now)


def edges(rows: QuerySet, since: datetime, now: datetime) -> tuple[QuerySet, datetime, datetime]:
    """A window [since, now) split: `rows` (not yet filtered by time) narrowed to the partial hours at
    either end, and the whole hours' [start, end) for the rollups (start >= end: no whole hour, every
    row of the window read). Each end is its own closed range, so PostgreSQL reads two short index
    ranges, not the whole window's and a filter."""
    start, end = whole_hours(since, now)
    if start >= end:
        return rows.filter(created_at__gte=since), start, end
    return rows.filter(Q(created_at__gte=since, created_at__lt=start) | Q(created_at__gte=end)), start, end


def logged_between(start: datetime, end: datetime) -> dict[str, int]:
    """{version: rows logged} in the whole hours of [start, end)."""
    found = HourVolume.objects.filter(hour__gte=start, hour__lt=end).values_list("version").annotate(n=Sum("logged"))
    return dict(found.order_by())


def classes_between(version: str, start: datetime, end: datetime) -> dict[str, int]:
    """{predicted class: predictions} of a version in the whole hours of [start, end)."""
    found = HourPredictions.objects.filter(version=version, hour__gte=start, hour__lt=end)
    return dict(found.values_list("predicted").annotate(n=Sum("count")).order_by())


def labels_between(version: str, start: datetime, end: datetime, columns: int) -> tuple[dict, dict[str, np.ndarray]]:
    """The labelled cells of whole hours in [start, end): ({(truth, predicted): count}, {truth: (columns,
    BINS) histogram of its rows' probabilities})."""
    cells: dict[tuple[str, str], int] = {}
    scores: dict[str, np.ndarray] = {}
    found = HourLabels.objects.filter(version=version, hour__gte=start, hour__lt=end)
    if not columns:  # the histograms are most of a cell's bytes: not read when not wanted
        for truth, predicted, n in found.values_list("truth", "predicted", "count").iterator():
            cells[(truth, predicted)] = cells.get((truth, predicted), 0) + n
        return cells, scores
    for truth, predicted, n, data in found.values_list("truth", "predicted", "count", "scores").iterator():
        cells[(truth, predicted)] = cells.get((truth, predicted), 0) + n
        if data:
            scores[truth] = scores.get(truth, 0) + histogram(data, columns)
    return cells, scores


def histogram_auc(scores: dict[str, np.ndarray], classes: list[str], positive: str | None = None) -> float | None:
    """ROC AUC (ml.metrics.weighted_auc's choice of column and averaging) from per-truth histograms: rows in one
    bin count as tied. None where it does not apply (fewer than two classes labelled, an unknown one)."""
    scored = histogram_auc_interval(scores, classes, positive)
    return scored["value"] if scored is not None else None


def histogram_auc_interval(
    scores: dict[str, np.ndarray], classes: list[str], positive: str | None = None
) -> dict[str, float] | None:
    """{"value", "low", "high"}: `histogram_auc` with a 95% interval from DeLong's variance, which a
    histogram gives exactly (every row of a bin has the same placement among the other class). Beyond
    two classes the standard error is the mean of the columns' (the largest a mean of correlated
    estimates can have: rows are not joined across columns in a histogram)."""
    if len(scores) < 2 or not set(scores) <= set(classes):
        return None
    if positive is not None:
        pairs = [(classes.index(positive), positive)] if positive in classes else []
    elif len(classes) == 2:
        pairs = [(1, classes[1])]
    else:
        pairs = list(enumerate(classes))
    values, errors = [], []
    for column, positive_class in pairs:
        pos = sum((h[column] for t, h in scores.items() if t == positive_class), np.zeros(BINS))
        neg = sum((h[column] for t, h in scores.items() if t != positive_class), np.zeros(BINS))
        if not pos.sum() or not neg.sum():
            return None
        value, variance = binned_auc(pos, neg)
        values.append(value)
        errors.append(math.sqrt(variance))
    if not values:
        return None
    value, half = float(np.mean(values)), Z95 * float(np.mean(errors))
    return {"value": value, "low": max(0.0, value - half), "high": min(1.0, value + half)}


def binned_auc(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """ROC AUC and DeLong's variance of it from the positives' and negatives' counts per score bin."""
    n1, n0 = float(pos.sum()), float(neg.sum())
    # Each positive's share of negatives scored below it, each negative's share of positives above it.
    v10 = (np.cumsum(neg) - neg + 0.5 * neg) / n0
    v01 = (n1 - np.cumsum(pos) + 0.5 * pos) / n1
    value = float((pos * v10).sum() / n1)
    s10 = float((pos * (v10 - value) ** 2).sum() / (n1 - 1)) if n1 > 1 else 0.0
    s01 = float((neg * (v01 - value) ** 2).sum() / (n0 - 1)) if n0 > 1 else 0.0
    return value, s10 / n1 + s01 / n0
