"""Hourly rollups of the prediction log: what monitoring reads instead of millions of rows.

Per model version and hour (of the prediction's `created_at`, UTC): how many rows were logged and how
many predictions they stand for (each row counted as 1 / the share the log kept then), and per (true
label, predicted class) of the labelled rows the count, the histogram of their probabilities (BINS
bins per class: ROC AUC from it is the exact one but for pairs tied in a bin) and, for a regression,
the sums of the errors' absolute values, squares and fourth powers that live RMSE and MAE need.
The labelled cells are kept per UTC day too (DayLabels), in the same transaction as their hours',
not compacted by a beat task: labels arrive days late, and a compacted day would be wrong until then.

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
from predictor.models import DayLabels, HourLabels, HourPredictions, HourSources, HourVolume, LogSampling, Prediction
from predictor.predlog import source_rollups
from predictor.predlog.cells import ROW, add_to, day_of, hour_of
from predictor.predlog.histograms import BINS, decode, fetch_binary, histogram, merge, merged


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
    add_to(HourVolume, ("version", "hour"), ("logged", "served"), params)


def add_classes(counts: dict[tuple[str, datetime, str], int]) -> None:
    """Upsert predicted-class counts, as `add_volume`."""
    adapt = connection.ops.adapt_datetimefield_value
    params = [(version, adapt(hour), predicted, n) for (version, hour, predicted), n in counts.items()]
    add_to(HourPredictions, ("version", "hour", "predicted"), ("count",), params)


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

    def merge(self, other: Delta) -> None:
        self.count += other.count
        self.absolute += other.absolute
        self.squared += other.squared
        self.fourth += other.fourth
        merge(self.bins, other.bins)

    @classmethod
    def of(cls, cell: Any) -> Delta:
        """A stored cell (HourLabels) as a delta that adds it."""
        return cls(cell.count, defaultdict(int, decode(cell.scores)), cell.absolute, cell.squared, cell.fourth)


Key = tuple[str, datetime, str, str]


def cell(version: str, created: datetime, label: str, predicted: str, value: float | None) -> Key:
    """A labelled row's cell; a regression's rows share one ("", "") cell per hour."""
    if value is not None:
        return (version, hour_of(created), "", "")
    return (version, hour_of(created), canonical(label), canonical(predicted))


def relabel(before: list[tuple], new: dict[Any, tuple[str, float | None]], days: bool = True) -> None:
    """Move labelled rows between cells: `before` the rows as they are (id, version, created_at,
    label, label_value, prediction, prediction_value, probabilities), `new` their labels to come.

    Inside the labelling transaction, with the prediction rows locked. With `days` False the day
    cells are left to `days_from_hours` (a rebuild).
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
    apply(deltas, days)


def apply(deltas: dict[Key, Delta], days: bool = True) -> None:
    """Add deltas to their hours' cells and (unless `days` is False) their days' cells."""
    deltas = {key: d for key, d in deltas.items() if d.count or d.squared or any(d.bins.values())}
    add_cells(HourLabels, deltas)
    if days:
        add_cells(DayLabels, by_day(deltas))


def by_day(deltas: dict[Key, Delta]) -> dict[Key, Delta]:
    days: dict[Key, Delta] = defaultdict(Delta)
    for (version, hour, truth, predicted), delta in deltas.items():
        days[(version, day_of(hour), truth, predicted)].merge(delta)
    return days


def add_cells(model: Any, deltas: dict[Key, Delta]) -> None:
    """Add deltas to the cells of `model` (HourLabels or DayLabels): rows created if missing, then
    locked in one order (hours before days, each sorted: two labelling transactions never wait on
    each other in a cycle) and rewritten; an emptied cell is deleted."""
    if not deltas:
        return
    model.objects.bulk_create(
        [model(version=v, hour=h, truth=t, predicted=p) for v, h, t, p in deltas], ignore_conflicts=True
    )
    found = model.objects.select_for_update().filter(
        version__in={k[0] for k in deltas}, hour__in={k[1] for k in deltas}
    )
    changed, emptied = [], []
    for row in found.order_by("version", "hour", "truth", "predicted"):
        delta = deltas.get((row.version, hour_of(row.hour), row.truth, row.predicted))
        if delta is None:
            continue
        row.count += delta.count
        row.scores = merged(row.scores, delta.bins)
        row.absolute += delta.absolute
        row.squared += delta.squared
        row.fourth += delta.fourth
        (emptied if row.count <= 0 else changed).append(row)
    model.objects.bulk_update(changed, ["count", "scores", "absolute", "squared", "fourth"])
    model.objects.filter(id__in=[row.id for row in emptied]).delete()


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
        source_rollups.rebuild(start)
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
        days_from_hours(HourLabels, DayLabels, start)
        return len(counts), rows


def _count_labelled(batch: list[tuple]) -> int:
    """Add labelled rows to their hours' cells (as a first label each); returns how many."""
    before = [(*row[:3], None, None, *row[5:]) for row in batch]
    relabel(before, {row[0]: (row[3], row[4]) for row in batch}, days=False)
    return len(batch)


def days_from_hours(hours: Any, days: Any, since: datetime | None = None) -> int:
    """Build the day cells again as the sums of the hour cells, from the day of `since` on (all of
    them without it); the models are given, so the migration that added the days passes its own.
    One version's day at a time: a day's cell holds every bin. Returns how many hour cells were read."""
    found = hours.objects.all() if since is None else hours.objects.filter(hour__gte=day_of(since))
    (days.objects.all() if since is None else days.objects.filter(hour__gte=day_of(since))).delete()
    deltas: dict[Key, Delta] = defaultdict(Delta)
    read = 0
    for cell in found.order_by("version", "hour").iterator(chunk_size=200):
        if deltas and next(iter(deltas))[:2] != (cell.version, day_of(cell.hour)):
            add_cells(days, deltas)
            deltas = defaultdict(Delta)
        deltas[(cell.version, day_of(cell.hour), cell.truth, cell.predicted)].merge(Delta.of(cell))
        read += 1
    add_cells(days, deltas)
    return read


def _share_at(hour: datetime) -> float:
    change = LogSampling.objects.filter(since__lte=hour + timedelta(hours=1)).order_by("-since", "-id").first()
    return settings.PREDICTION_LOG_SAMPLE * (change.share if change is not None else 1.0)


def prune(now: datetime | None = None) -> int:
    """Delete rollups older than MONITORING_ROLLUP_DAYS; returns how many rows."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.MONITORING_ROLLUP_DAYS)
    hourly = (HourVolume, HourLabels, HourPredictions, HourSources)
    pruned = sum(model.objects.filter(hour__lt=cutoff).delete()[0] for model in hourly)
    return pruned + DayLabels.objects.filter(hour__lt=day_of(cutoff)).delete()[0]  # whole days only


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
    row of the window read; nothing at or after `now`). Each end is its own closed range, so
    PostgreSQL reads two short index ranges, not the whole window's and a filter."""
    start, end = whole_hours(since, now)
    if start >= end:
        return rows.filter(created_at__gte=since, created_at__lt=now), start, end
    ends = Q(created_at__gte=since, created_at__lt=start) | Q(created_at__gte=end, created_at__lt=now)
    return rows.filter(ends), start, end


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
    encoded: dict[str, list[bytes]] = {}
    # The histograms are most of a cell's bytes: not read when not wanted.
    fields = ("truth", "predicted", "count", "scores") if columns else ("truth", "predicted", "count")
    for found in cells_between(version, start, end):
        for truth, predicted, n, *data in fetch_binary(found.values_list(*fields)):
            cells[(truth, predicted)] = cells.get((truth, predicted), 0) + n
            if data and data[0]:
                encoded.setdefault(truth, []).append(bytes(data[0]))
    return cells, {truth: histogram(b"".join(parts), columns) for truth, parts in encoded.items()}


def cells_between(version: str, start: datetime, end: datetime) -> list[QuerySet]:
    """The cells of the whole hours [start, end): whole UTC days from DayLabels, the hours before
    the first and after the last from HourLabels (each its own index range)."""
    first, last = day_of(start), day_of(end)
    if first < start:
        first += timedelta(days=1)
    if first >= last:
        return [HourLabels.objects.filter(version=version, hour__gte=start, hour__lt=end)]
    return [
        HourLabels.objects.filter(version=version, hour__gte=start, hour__lt=first),
        DayLabels.objects.filter(version=version, hour__gte=first, hour__lt=last),
        HourLabels.objects.filter(version=version, hour__gte=last, hour__lt=end),
    ]
