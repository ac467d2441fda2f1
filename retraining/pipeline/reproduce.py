"""Make a registered model again from what it recorded, and say whether it is the same model.

The record (ml/lineage.py) names the data (rev and md5), the split key and fraction, the
target, the excluded columns, the estimator, its parameters and seed, and, for a model trained
after a shift with its new rows weighted, the data version they were new against (recent.py).
The data is read again through the data source, which checks the md5; the model is retrained on
the same rows in the same canonical order, weighted alike, and both models' outputs are compared
on the training and holdout rows.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from ml import lineage
from ml.estimators import train
from ml.features import prepare_features
from ml.keys import SplitKey, value_hashes
from ml.kinds import Kinds, apply
from ml.plugin import build, columns_by_kind
from ml.split import canonical_split
from ml.task import CLASSIFICATION, named
from retraining import plugin
from retraining.data import DatasetVersion
from retraining.pipeline.fresh import data_version
from retraining.pipeline.recent import RECORD as RECENT
from retraining.pipeline.recent import mark, weigh
from retraining.pipeline.resources import Models, Source


class ReproduceError(Exception):
    """The version cannot be retrained from its record (no record, data gone, columns missing)."""


@dataclass(frozen=True)
class Reproduction:
    version: str
    rows: int
    differing: int
    same_training_rows: bool
    recorded_app_version: str
    # The team's code version the version was trained with (TRAINING_PIPELINE), and now; "" without one.
    recorded_code_version: str = ""
    code_version: str = ""

    @property
    def identical(self) -> bool:
        return self.differing == 0 and self.same_training_rows

    def describe(self) -> str:
        code = (
            "" if self.recorded_app_version == settings.APP_VERSION else
            f" (trained by {self.recorded_app_version}, retrained by {settings.APP_VERSION})"
        )  # fmt: skip
        if self.recorded_code_version != self.code_version:
            code += f" (team code {self.recorded_code_version} then, {self.code_version} now)"
        if self.identical:
            return f"v{self.version} reproduced: identical outputs on all {self.rows} training and holdout rows{code}"
        rows = "" if self.same_training_rows else "it was not trained on the same rows; "
        return f"v{self.version} not reproduced: {rows}outputs differ on {self.differing} of {self.rows} rows{code}"


def reproduce(version: str, models: Models, source: Source) -> Reproduction:
    made = lineage.recorded(models, version)
    if made is None:
        raise ReproduceError(f"version {version} was logged before models recorded what they were made from")
    data = {name: made["data"][name] for name in ("source", "path", "rev", "md5", "size")}
    frame = source.pull(DatasetVersion(**data))
    if "columns" in made:
        # Read as the model read it: codes as text, dates as their parts.
        frame = apply(frame, Kinds.from_dict(made["columns"]))
    if made.get("unlabelled_left_out"):
        frame = frame.loc[frame[made["target"]].notna()].reset_index(drop=True)
    target, excluded = made["target"], made["excluded"]
    missing = [c for c in (target, *made["features"]) if c not in frame.columns]
    if missing:
        raise ReproduceError(f"the data of version {version} lacks the recorded columns {', '.join(missing)}")
    key = SplitKey.from_dict(made["split"])
    parts = canonical_split(frame, made["holdout_fraction"], key)
    del frame
    training, holdout = parts.training, parts.holdout
    # The task the model was recorded with (a model recorded before tasks existed is a classifier).
    task = named((made.get("task") or {}).get("name") or CLASSIFICATION.name)
    team, name = _team_pipeline(made, training, target, excluded)
    weights = _weights(made, training, source)
    model = train(
        training,
        target,
        made["estimator"],
        made["params"],
        made["seed"],
        excluded,
        pipeline=team,
        name=name,
        task=task,
        weights=weights,
    )
    rows = pd.concat([training, holdout], ignore_index=True)
    features = prepare_features(rows, target, excluded)
    registered = models.load(version)
    differing = int(np.sum(_rows_differ(_outputs(model, features), _outputs(registered, features))))
    logged = lineage.trained_on(models, version)
    same_rows = logged is None or np.array_equal(logged.keys, parts.trained_on.keys)
    recorded_code = (made.get("pipeline") or {}).get("version", "")
    code = plugin.version(made["pipeline"]["path"]) if recorded_code else ""
    app_version = str(made.get("app_version", ""))
    return Reproduction(version, len(rows), differing, same_rows, app_version, recorded_code, code)


def _team_pipeline(made: dict[str, Any], training: pd.DataFrame, target: str, excluded: list[str]) -> tuple[Any, str]:
    """The team's pipeline the version recorded, built again from the same path, params and seed."""
    path = (made.get("pipeline") or {}).get("path")
    if not path:
        return None, ""
    kinds = Kinds.from_dict(made["columns"]) if "columns" in made else None
    features = prepare_features(training, target, excluded)
    # The metric does not matter here: the version was trained, so its estimator passed that check.
    built = build(plugin.load(path), path, made["params"], columns_by_kind(features, kinds), made["seed"])
    return built, f"TRAINING_PIPELINE {path}"


def _weights(made: dict[str, Any], training: pd.DataFrame, source: Source) -> np.ndarray | None:
    """The weights the version was trained with: its rows new since the champion's data of the time
    (recent.py), marked again against that version read as the model read its own."""
    recent = made.get(RECENT) or {}
    if not recent.get("weighted"):
        return None
    older = source.pull(data_version(recent["since"]))
    if "columns" in made:
        older = apply(older, Kinds.from_dict(made["columns"]))
    weights, _ = weigh(mark(training, value_hashes(older, list(map(str, training.columns)))), recent["share"])
    return weights


def _outputs(model: Any, features: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return np.asarray(model.predict_proba(features))
    return np.asarray(model.predict(features)).astype(str).reshape(-1, 1)


def _rows_differ(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    if ours.shape != theirs.shape:
        return np.ones(len(ours), dtype=bool)
    return np.any(ours != theirs, axis=1)
