"""Labelled traffic as the next dataset version: the logged inputs of predictions that received
feedback, the newest label as the target, published as a new partition file of the registry's
data folder, with its provenance committed beside it.

Only labels given with an API key are published (FEEDBACK_REQUIRES_KEY): without keys anyone could
label any prediction, and a poisoned label would reach the model itself. What was published is
read back from the registry's sidecars (every published prediction id), so the registry, not this
database, says which rows are data already, and a row is never published twice.

Each row keeps its key for the split: with an id column (DATA_ID_COLUMN) the row's id is the id the
client logged, else its prediction_id; without one the split keys rows by feature values, which a
published row keeps as they were logged. A row's side of the split depends on its key alone, and
the comparison drops any holdout row a compared model trained on (ml.split.exclude_trained_on).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from predictor import predlog
from predictor.models import LabelChange, Prediction
from retraining import data
from retraining.data.folder import FolderSource, names_a_folder, split_glob
from retraining.data.registry import read_sidecars

# Where the sidecars live in the registry's git tree, beside (never inside) the data folder.
SIDECAR_FOLDER = "feedback"
# Published ids asked at once when counting: within every database's limit on a query's parameters.
_CHUNK = 500


class FeedbackRefused(data.DataError):
    """Feedback cannot be published under these settings."""


@dataclass(frozen=True)
class Provenance:
    """What a feedback partition was made from: said in its commit, its sidecar and the run."""

    rows: int
    first_id: str
    last_id: str
    model_versions: dict[str, int]
    sources: dict[str, int]
    predicted_from: str
    predicted_to: str
    labelled_from: str
    labelled_to: str
    prediction_ids: list[str] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Everything but the ids: what a run records and shows."""
        return {k: v for k, v in self.__dict__.items() if k != "prediction_ids"}

    def message(self, name: str) -> str:
        versions = ", ".join(f"v{v} ({n})" for v, n in self.model_versions.items())
        sources = ", ".join(f"{s} ({n})" for s, n in self.sources.items())
        return (
            f"Publish {self.rows} labelled predictions as {name}\n\n"
            f"Predictions {self.first_id} .. {self.last_id} ({self.rows}), made {self.predicted_from} .. "
            f"{self.predicted_to}, labelled {self.labelled_from} .. {self.labelled_to}.\n"
            f"Model versions: {versions}.\nLabel sources: {sources}.\n"
            "Only labelled traffic: not a random sample of the inputs."
        )


@dataclass(frozen=True)
class Publication:
    version: data.DatasetVersion
    file: str
    provenance: Provenance


def check_allowed() -> tuple[str, str]:
    """(the data folder, the new file's suffix), or why feedback cannot be published here."""
    if not settings.FEEDBACK_REQUIRES_KEY:
        raise FeedbackRefused(
            "feedback is published only when it requires API keys (FEEDBACK_REQUIRES_KEY=true): "
            "without keys anyone could label any prediction, and a wrong label would reach the model"
        )
    path = settings.DATA_PATH
    if not names_a_folder(path):
        raise FeedbackRefused(
            f"DATA_PATH={path} names one file: feedback is published as a new partition file, "
            "which needs DATA_PATH to name a DVC-tracked folder (data, or data/*.csv)"
        )
    folder, pattern = split_glob(path)
    if folder == SIDECAR_FOLDER:
        raise FeedbackRefused(f"the data folder {folder!r} is where feedback sidecars are kept: name another folder")
    suffix = PurePosixPath(pattern).suffix.lower() if pattern else ""
    return folder, suffix if suffix in (".csv", ".parquet") else ".csv"


def published_ids() -> set[str]:
    """The prediction ids every earlier feedback partition holds, read from the registry."""
    ids: set[str] = set()
    for name, text in read_sidecars(settings.DATA_REGISTRY, SIDECAR_FOLDER).items():
        try:
            ids.update(json.loads(text)["prediction_ids"])
        except (ValueError, KeyError, TypeError):
            raise data.DataError(f"{name} in the data registry is not a feedback sidecar (no prediction_ids)") from None
    return ids


def _keyed() -> QuerySet[Prediction]:
    """Labelled predictions whose label was given with a key.

    The label's giver, not the prediction's caller: with FEEDBACK_REQUIRES_KEY alone predictions are
    made without a key, and a label from before the setting was on may be anyone's. Told by the
    newest label's recorded source, which outlives a deleted key."""
    newest = LabelChange.objects.filter(prediction_id=OuterRef("pk")).order_by("-given_at", "-id")
    return (
        Prediction.objects.filter(label__isnull=False)
        .annotate(given_by=Subquery(newest.values("source")[:1]))
        .filter(given_by__startswith=predlog.KEY_SOURCE)
    )


def unpublished(done: set[str]) -> list[Prediction]:
    """Labelled predictions whose label was given with a key, not published yet, oldest first."""
    rows = _keyed().order_by("created_at", "id")
    return [row for row in rows.iterator() if str(row.id) not in done]


def waiting(done: set[str]) -> int:
    """How many predictions `unpublished` would load, counted by the database: the keyed labelled
    ones, less those among the published ids (asked in chunks a query's parameters can hold)."""
    keyed = _keyed()
    ids = sorted(done)
    published = sum(keyed.filter(id__in=ids[at : at + _CHUNK]).count() for at in range(0, len(ids), _CHUNK))
    return keyed.count() - published


def publish_feedback(now: datetime | None = None, minimum: int = 1) -> Publication | None:
    """Publishes the labelled predictions not published yet; None when fewer than `minimum`."""
    folder, suffix = check_allowed()
    rows = unpublished(published_ids())
    if not rows or len(rows) < minimum:
        return None
    columns = _current_columns()
    frame = _frame(rows, columns)
    provenance = _provenance(rows)
    stamp = (now or timezone.now()).strftime("%Y%m%dT%H%M%S")
    name = f"feedback-{stamp}{suffix}"
    sidecar = f"{SIDECAR_FOLDER}/feedback-{stamp}.json"
    body = json.dumps({**provenance.summary(), "prediction_ids": provenance.prediction_ids}, indent=1)
    with tempfile.TemporaryDirectory(prefix="feedback-") as tmp:
        target = Path(tmp) / name
        if suffix == ".parquet":
            frame.to_parquet(target, index=False)
        else:
            frame.to_csv(target, index=False)
        version = data.publish(
            settings.DATA_REGISTRY, folder, target, provenance.message(f"{folder}/{name}"), {sidecar: body}
        )
    return Publication(version, f"{folder}/{name}", provenance)


def _current_columns() -> list[str]:
    """The columns of the data published so far, read from one of its files: a partition must hold
    the same ones."""
    source = data.source_from_settings()
    if not isinstance(source, FolderSource):
        raise FeedbackRefused(
            f"the data source is {source!r}: feedback is published into a DVC-tracked folder of a git "
            "registry (DATA_REGISTRY, DATA_PATH)"
        )
    return source.columns(source.version())


def _frame(rows: list[Prediction], columns: list[str]) -> pd.DataFrame:
    target, id_column = settings.TARGET_COLUMN, settings.DATA_ID_COLUMN
    records = []
    for row in rows:
        record = dict(row.inputs)
        record[target] = row.label_value if row.label_value is not None else row.label
        if id_column and record.get(id_column) in (None, ""):
            record[id_column] = str(row.id)
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    # Columns the logged inputs lack (excluded ones) are gaps; logged columns the data lacks are dropped.
    frame = frame.reindex(columns=columns)
    labels = pd.to_numeric(frame[target], errors="coerce")
    if labels.notna().all():
        # "1" given as a label is the class 1 the data holds: written as a number, read as one.
        frame[target] = labels.astype("int64") if (labels % 1 == 0).all() else labels
    return frame


def _provenance(rows: list[Prediction]) -> Provenance:
    ids = [str(row.id) for row in rows]
    newest: dict[str, str] = {}
    changes = LabelChange.objects.filter(prediction_id__in=[row.id for row in rows]).order_by("given_at", "id")
    for pid, source in changes.values_list("prediction_id", "source").iterator():
        newest[str(pid)] = source
    made = [row.created_at for row in rows]
    labelled = [row.labelled_at or row.created_at for row in rows]
    return Provenance(
        rows=len(rows),
        first_id=ids[0],
        last_id=ids[-1],
        model_versions=dict(sorted(Counter(row.model_version for row in rows).items())),
        sources=dict(Counter(newest.get(pid, "unknown") for pid in ids).most_common()),
        predicted_from=min(made).isoformat(),
        predicted_to=max(made).isoformat(),
        labelled_from=min(labelled).isoformat(),
        labelled_to=max(labelled).isoformat(),
        prediction_ids=ids,
    )
