"""What a label must be for the version that made a prediction, and storing labels with who gave them.

Shared by feedback taken at once (feedback.py) and labels held until their row is written
(held.py), so both check and record a label the same way: the prediction row gets the newest
label, and a LabelChange row keeps who gave it, when, and the label it replaced.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from ml.positive import canonical, normalise
from predictor.models import Deployment, LabelChange, LoggedVersion, Prediction
from predictor.predlog import rollups, source_rollups

# How a label given with an API key names its source; publishing feedback picks labels by it.
KEY_SOURCE = "key:"


@dataclass(frozen=True)
class Labeller:
    """Who sends labels: an API key, a signed-in user, or a client address when keys are off."""

    source: str
    key_id: int | None = None

    @classmethod
    def of_key(cls, key_id: int) -> Labeller:
        return cls(f"{KEY_SOURCE}{key_id}", key_id)


@dataclass(frozen=True)
class Change:
    prediction_id: uuid.UUID
    old: str | None
    label: str
    value: float | None
    by: Labeller
    at: datetime


def owner_refusal(pid: uuid.UUID, owner: int | None, by: Labeller) -> str | None:
    """Why `by` may not label a prediction made with the key `owner` (None when it may)."""
    if by.key_id is None or owner is None or owner == by.key_id:
        return None
    return f"prediction {pid} was made with another API key: a key labels only its own predictions"


class Versions:
    """The classes and task of the versions that made some predictions."""

    def __init__(self, versions: set[str]) -> None:
        self.classes = dict(LoggedVersion.objects.filter(version__in=versions).values_list("version", "classes"))
        self.regressions = _regressions(versions)

    def judge(self, version: str, label: str) -> tuple[str, float | None] | str:
        """(the label as stored, its number for a regression), or why it is not a label of `version`."""
        if version in self.regressions:
            value = _number(label)
            if value is None:
                return f"{label!r} is not a finite number: model version {version} is a regression"
            return canonical(value), value
        known = self.classes.get(version)
        # 1, 1.0, "1" and true are one class (ml.positive): stored in its canonical form.
        label = canonical(label)
        if known is not None and label not in set(normalise(known)):
            shown = ", ".join(str(c) for c in known)
            return f"{label!r} is not a class of model version {version} (its classes: {shown})"
        return label, None


def locked(ids: list[uuid.UUID]) -> dict[uuid.UUID, tuple[str, str | None, int | None]]:
    """The version, the current label and the key of these logged predictions, locked until the
    caller's transaction ends (two labellers of one prediction take turns)."""
    rows = Prediction.objects.select_for_update().filter(id__in=ids)
    return {pid: (version, label, key) for pid, version, label, key in rows.values_list(*_LOCKED)}


_LOCKED = ("id", "model_version", "label", "api_key_id")


def store(changes: list[Change]) -> None:
    """Write the newest label of each prediction and one LabelChange row per label given.

    Inside the caller's transaction, with the prediction rows locked.
    """
    newest: dict[uuid.UUID, Change] = {}
    for change in changes:
        newest[change.prediction_id] = change
    by_label: dict[tuple[str, float | None, datetime], list[uuid.UUID]] = defaultdict(list)
    for pid, change in newest.items():
        by_label[(change.label, change.value, change.at)].append(pid)
    # The rows as they are, so their hours' rollups move from the old label's cell to the new one
    # and from the old label's source to the new one's.
    before = list(Prediction.objects.filter(id__in=list(newest)).values_list(*rollups.ROW))
    rollups.relabel(before, {pid: (c.label, c.value) for pid, c in newest.items()})
    source_rollups.moved(before, [(c.prediction_id, c.by.source, c.at) for c in changes])
    for (label, value, at), ids in by_label.items():
        Prediction.objects.filter(id__in=ids).update(label=label, label_value=value, labelled_at=at)
    LabelChange.objects.bulk_create(
        LabelChange(
            prediction_id=c.prediction_id,
            old_label=c.old,
            label=c.label,
            source=c.by.source,
            api_key_id=c.by.key_id,
            given_at=c.at,
        )
        for c in changes
    )


def _regressions(versions: set[str]) -> set[str]:
    """The versions among these whose deployment records a regression (the pipeline's, or a tag)."""
    if not versions:
        return set()
    deployed = Deployment.objects.filter(model_name=settings.MODEL_NAME, version__in=versions)
    return {
        version for version, data in deployed.values_list("version", "data_version") if data.get("task") == "regression"
    }


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
