"""Who gave the labels, per hour: for each model version, hour of the prediction (UTC) and label
source, how many labelled predictions have their newest label from that source (HourSources).

What `label_sources` (the degradation trigger's check) reads for whole hours instead of a subquery
per labelled row. Kept where labels are stored (labels.store), in the transaction that writes the
rows' labels and their LabelChange rows, as the labelled cells are (rollups.relabel): a replaced
label moves its prediction from its previous newest source to the new one, so each labelled
prediction is counted once. Newest is as LabelChange orders them (given_at, then id), so a label
stored after another but given before it (a held label) leaves the prediction where it is.
Pruned with the other rollups (rollups.prune); built again from the rows by rollups.rebuild.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncHour

from predictor.models import HourSources, LabelChange, Prediction
from predictor.predlog.cells import add_to, hour_of

SourceKey = tuple[str, datetime, str]


def newest_sources(rows: QuerySet, changes: Any = LabelChange) -> QuerySet:
    """`rows` (predictions) annotated with their newest label's `source`, those with none left out
    (labels written before labels were audited, or straight into the table)."""
    newest = changes.objects.filter(prediction_id=OuterRef("id")).order_by("-given_at", "-id").values("source")[:1]
    return rows.annotate(source=Subquery(newest)).filter(source__isnull=False)


def moved(rows: list[tuple], given: list[tuple[uuid.UUID, str, datetime]]) -> None:
    """Move predictions between sources for labels about to be stored: `rows` the predictions as they
    are (id, version, created_at, label, ...: cells.ROW), `given` the labels' (prediction id,
    source, given_at) in the order they are stored. Before their LabelChange rows are written."""
    if not given:
        return
    newest: dict[uuid.UUID, tuple[datetime, str]] = {}
    earlier = LabelChange.objects.filter(prediction_id__in={pid for pid, _, _ in given})
    for pid, source, at in earlier.order_by("given_at", "id").values_list("prediction_id", "source", "given_at"):
        newest[pid] = (at, source)
    after = dict(newest)
    for pid, source, at in given:
        # A label stored later wins a tie: its LabelChange id is the larger.
        if pid not in after or at >= after[pid][0]:
            after[pid] = (at, source)
    deltas: dict[SourceKey, int] = defaultdict(int)
    for pid, version, created, label, *_ in rows:
        if pid not in after:
            continue
        hour = hour_of(created)
        if label is not None and pid in newest:
            deltas[(version, hour, newest[pid][1])] -= 1
        deltas[(version, hour, after[pid][1])] += 1
    add(deltas)


def add(deltas: dict[SourceKey, int]) -> None:
    """Add counts to their hours' sources in one upsert (in key order: two labelling transactions
    never wait on each other in a cycle); a count brought to 0 is deleted."""
    changed = sorted((key, n) for key, n in deltas.items() if n)
    adapt = connection.ops.adapt_datetimefield_value
    add_to(HourSources, ("version", "hour", "source"), ("count",), [(v, adapt(h), s, n) for (v, h, s), n in changed])
    emptied = [key for key, n in changed if n < 0]
    if emptied:
        found = HourSources.objects.filter(version__in={k[0] for k in emptied}, hour__in={k[1] for k in emptied})
        found.filter(source__in={k[2] for k in emptied}, count__lte=0).delete()


def count_rows(predictions: Any, changes: Any, sources: Any, since: datetime | None = None) -> int:
    """Build the sources' counts again from the labelled rows (from `since`'s hour on, all of them
    without it; rollups of pruned hours stay); the models are given, so a migration passes its own.
    Returns how many hour sources were written."""
    rows = predictions.objects.filter(label__isnull=False)
    kept = sources.objects.all()
    if since is not None:
        rows, kept = rows.filter(created_at__gte=since), kept.filter(hour__gte=since)
    kept.delete()
    hourly = newest_sources(rows.annotate(at=TruncHour("created_at", tzinfo=UTC)), changes)
    counted = hourly.values_list("model_version", "at", "source").annotate(n=Count("id")).order_by()
    built = [sources(version=v, hour=hour_of(h), source=s, count=n) for v, h, s, n in counted]
    sources.objects.bulk_create(built, batch_size=1000)
    return len(built)


def rebuild(since: datetime) -> int:
    """`count_rows` with the app's models (rollups.rebuild, in its transaction)."""
    return count_rows(Prediction, LabelChange, HourSources, since)
