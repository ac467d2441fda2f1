"""What a model keeps about the rows it was trained on, and what the compare step makes of it.

Each model is logged with its split key and the keys of its training rows (8 bytes a row) as
MLflow artifacts. The next run inherits the champion's split key, and before scoring it drops
every holdout row that a compared model trained on, so no model is scored on a row it saw.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ml.keys import SplitKey, row_hashes
from ml.split import NONE_TRAINED_ON, Exclusion, TrainingRows, exclude_trained_on

TRAINING_ROWS = "training_rows.bin"
# The holdout's row keys likewise, so a later run can say which rows entered and left the holdout.
HOLDOUT_ROWS = "holdout_rows.bin"
SPLIT_KEY = "split_key.json"
RECORD = "lineage.json"
_ARTIFACT_ONLY = frozenset({"columns", "declared"})
# Why a model's training rows can be unknown.
UNKNOWN = "training rows unknown (registered by hand, or logged before they were recorded)"


class Artifacts(Protocol):
    def artifact(self, version: str, name: str) -> bytes | None: ...


def record(
    *,
    target: str,
    features: list[str],
    excluded: list[str],
    key: SplitKey,
    holdout_fraction: float,
    app_version: str,
    estimator: str,
    params: dict[str, Any],
    seed: int,
    data: dict[str, Any],
) -> dict[str, Any]:
    """Everything a model is made from, so that it can be made again (`manage.py reproduce`)."""
    return {
        "target": target,
        "features": features,
        "excluded": excluded,
        "split": key.as_dict(),
        "holdout_fraction": holdout_fraction,
        "app_version": app_version,
        "estimator": estimator,
        "params": params,
        "seed": seed,
        "data": data,
    }


def tags(made_from: dict[str, Any]) -> dict[str, str]:
    """The record as MLflow tags, one per fact, so the MLflow UI alone shows how a model was made."""
    # Each column's kind can outgrow a tag's limit on wide data: it is in the record's artifact only.
    return {
        f"lineage.{k}": v if isinstance(v, str) else json.dumps(v)
        for k, v in made_from.items()
        if k not in _ARTIFACT_ONLY
    }


def artifacts(rows: TrainingRows, made_from: dict[str, Any], holdout: TrainingRows | None = None) -> dict[str, bytes]:
    """The files logged beside a model so that later runs know what it trained on and was scored on."""
    return {
        TRAINING_ROWS: rows.to_bytes(),
        SPLIT_KEY: json.dumps(rows.key.as_dict()).encode(),
        RECORD: json.dumps(made_from, sort_keys=True).encode(),
        **({HOLDOUT_ROWS: holdout.to_bytes()} if holdout is not None else {}),
    }


def recorded(models: Artifacts, version: str) -> dict[str, Any] | None:
    """What a version was made from, or None for a version logged before it was recorded."""
    data = models.artifact(version, RECORD)
    return json.loads(data) if data is not None else None


def recorded_key(models: Artifacts, version: str) -> SplitKey | None:
    """The split key a version was trained under, or None for a version logged before keys were kept."""
    data = models.artifact(version, SPLIT_KEY)
    return SplitKey.from_dict(json.loads(data)) if data is not None else None


def trained_on(models: Artifacts, version: str) -> TrainingRows | None:
    """A version's training rows, or None when they are unknown (logged before they were kept)."""
    return _rows(models, version, TRAINING_ROWS)


def held_out(models: Artifacts, version: str) -> TrainingRows | None:
    """The holdout rows a version was scored on when it was made, or None when they are unknown."""
    return _rows(models, version, HOLDOUT_ROWS)


def _rows(models: Artifacts, version: str, name: str) -> TrainingRows | None:
    key = recorded_key(models, version)
    data = models.artifact(version, name) if key is not None else None
    return TrainingRows.from_bytes(key, data) if data is not None else None


@dataclass(frozen=True)
class Unseen:
    """The holdout rows a model of unknown training rows can be proved never to have seen (True
    per row), and how they were found ("12 of the 80 holdout rows were first published after ...")."""

    rows: np.ndarray
    how: str

    @property
    def count(self) -> int:
        return int(self.rows.sum())

    def reason(self, name: str) -> str:
        return f"{name}'s {UNKNOWN}: {self.how}; it is compared on those rows only"


def exclusion(
    holdout: pd.DataFrame,
    compared: Mapping[str, TrainingRows | None],
    keys: Mapping[SplitKey, np.ndarray] | None = None,
    unseen: Mapping[str, Unseen] | None = None,
) -> Exclusion:
    """The holdout rows no compared model trained on. A model whose training rows are unknown
    (None) cannot be checked row by row: it is compared only on the rows `unseen` proves it never
    saw, and on none without an entry there; never on rows merely assumed clean.
    `keys`: the holdout rows' keys already computed, by split key (exclude_trained_on)."""
    known = {name: rows for name, rows in compared.items() if rows is not None}
    result = exclude_trained_on(holdout, known, keys)
    unknown = [name for name, rows in compared.items() if rows is None]
    if unknown:
        # That sentence speaks of every compared model: not true of one whose rows are unknown.
        none = NONE_TRAINED_ON.format(total=len(holdout))
        result.reasons[:] = [reason for reason in result.reasons if reason != none]
    for name in unknown:
        proved = (unseen or {}).get(name) or Unseen(
            np.zeros(len(holdout), dtype=bool), f"0 of the {len(holdout)} holdout rows can be proved new to it"
        )
        result.excluded[name] = len(holdout) - proved.count
        result.unknown.append(name)
        result.clean &= proved.rows
        result.reasons.append(proved.reason(name))
    return result


def exclusion_record(result: Exclusion) -> dict[str, Any]:
    """What the run row keeps of an exclusion: how many rows, how many dropped per model, and why."""
    return {
        "rows": len(result.clean),
        "clean": result.clean_rows,
        "excluded": dict(result.excluded),
        "unknown": list(result.unknown),
        "reasons": list(result.reasons),
    }


def rows_changed(new: TrainingRows | None, old: TrainingRows | None) -> dict[str, Any] | None:
    """Rows (training or holdout) added and removed from `old`'s to `new`'s, by row key; None when
    either is unknown or the two were split under different keys (their keys are not the same rows')."""
    if new is None or old is None or new.key != old.key:
        return None
    return {
        "added": int(np.setdiff1d(new.keys, old.keys, assume_unique=True).size),
        "removed": int(np.setdiff1d(old.keys, new.keys, assume_unique=True).size),
        "kept": int(np.intersect1d(new.keys, old.keys, assume_unique=True).size),
    }


def fingerprint(frame: pd.DataFrame) -> str:
    """The data's content whatever its row order: a digest of the sorted hashes of whole rows
    (label included) under sorted column names. The same rows reordered give the same digest."""
    columns = sorted(map(str, frame.columns))
    named = frame.set_axis(list(map(str, frame.columns)), axis=1)
    # Hashed a block of rows at a time: reordering the columns of the whole frame would copy it.
    hashes = np.sort(row_hashes(named, columns))
    digest = hashlib.sha256("\x1f".join(columns).encode())
    digest.update(hashes.astype("<u8").tobytes())
    return digest.hexdigest()[:32]
