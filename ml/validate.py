"""Check a pulled dataset before anything is trained on it.

Returns every problem found, not just the first, so a data engineer fixes a bad batch in one go.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.contract import NUMERIC_TYPES, is_numeric
from ml.drift import drift
from ml.keys import SplitKey
from ml.positive import classes as label_classes
from ml.positive import normalise
from ml.split import holdout_mask, split_key
from ml.task import CLASSIFICATION, Task

# Classes named in a problem, at most: a label per row would otherwise list every row.
SHOWN_CLASSES = 5


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    new_categories: dict[str, list[str]] = field(default_factory=dict)
    # The new data against the champion's training profile (ml/drift/drift.py's report).
    drift: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "problems": self.problems,
            "warnings": self.warnings,
            "new_categories": self.new_categories,
            "drift": self.drift,
        }


def validate(
    frame: pd.DataFrame,
    target: str,
    *,
    min_rows: int,
    max_missing_share: float,
    max_classes: int,
    holdout_fraction: float,
    id_column: str | None,
    expected_columns: list[dict[str, Any]] | None = None,
    known_categories: dict[str, list[str]] | None = None,
    reference: dict[str, Any] | None = None,
    drift_thresholds: drift.Thresholds | None = None,
    reject_on_drift: bool = False,
    key: SplitKey | None = None,
    keys: np.ndarray | None = None,
    ignored: Iterable[str] = (),
    task: Task = CLASSIFICATION,
) -> Validation:
    """`expected_columns` is the champion's input schema ([{"name", "type"}]), if there is one;
    `reference` its training profile, to which the new data is compared once it is otherwise valid.
    `key` is the split key training will use (inherited from the champion), so the one-sided-class
    check sees exactly training's split; `keys` are the rows' keys under it (`row_keys(frame, key)`),
    when the caller has them already.

    `holdout_fraction` and `id_column` are the split's: a class is checked against the very split
    training will use. `max_classes` and the class checks apply to a classification `task` only.
    """
    result = Validation()
    if target not in frame.columns:
        result.problems.append(
            f"the target column {target!r} is missing (columns: {', '.join(map(str, frame.columns))})"
        )
    else:
        missing_labels = int(frame[target].isna().sum())
        if missing_labels:
            result.problems.append(
                f"the target column {target!r} has {missing_labels} missing labels: "
                "set DROP_UNLABELLED_ROWS=true to leave such rows out"
            )
        if task is not CLASSIFICATION:
            result.problems += _numeric_target(frame[target])
        else:
            result.problems += _classes(frame, target, max_classes, holdout_fraction, id_column, key, keys)
    if len(frame) < min_rows:
        result.problems.append(f"{len(frame)} rows, fewer than the minimum of {min_rows}")

    for name in frame.columns:
        if name == target or len(frame) == 0:
            continue
        share = float(frame[name].isna().mean())
        if share > max_missing_share:
            result.problems.append(
                f"column {name!r} is {share:.0%} missing, more than the allowed {max_missing_share:.0%}"
            )

    if expected_columns:
        for spec in expected_columns:
            name = spec["name"]
            if name not in frame.columns:
                result.problems.append(f"feature column {name!r} that the champion uses is missing")
                continue
            expected_numeric = spec["type"] in NUMERIC_TYPES
            if expected_numeric and not is_numeric(frame[name]):
                bad = _non_numeric_examples(frame[name])
                result.problems.append(
                    f"column {name!r} should be numeric ({spec['type']}) but holds text such as {bad}"
                )
            elif spec["type"] == "string" and is_numeric(frame[name]) and frame[name].notna().any():
                result.problems.append(f"column {name!r} should be text (string) but now holds only numbers")
        expected_names = {spec["name"] for spec in expected_columns}
        # Ids, exclusions and columns read as parts are not inputs: never new columns to warn about.
        left_out = {target, *ignored}
        extra = [c for c in frame.columns if c not in left_out and c not in expected_names]
        if extra:
            result.warnings.append(f"new columns the champion did not use: {', '.join(map(str, extra))}")

    for name, known in (known_categories or {}).items():
        if name in frame.columns and not is_numeric(frame[name]):
            seen = set(frame[name].dropna().astype(str).unique())
            new = sorted(seen - set(known))
            if new:
                result.new_categories[name] = new
                result.warnings.append(f"column {name!r} has new categories: {', '.join(new[:10])}")
    if reference is not None and result.ok:
        _check_drift(result, frame, reference, drift_thresholds, reject_on_drift)
    return result


def _classes(
    frame: pd.DataFrame,
    target: str,
    max_classes: int,
    holdout_fraction: float,
    id_column: str | None,
    key: SplitKey | None,
    keys: np.ndarray | None,
) -> list[str]:
    # 1, 1.0 and "1" are one class (ml.positive), as training and scoring read them.
    classes = len(label_classes(frame[target].unique()))
    problems = []
    if classes < 2:
        problems.append(f"the target column {target!r} has {classes} class(es); at least 2 are needed")
    if classes > max_classes:
        problems.append(
            f"the target column {target!r} has {classes} classes, more than MAX_CLASSES={max_classes}: "
            "is it the label, or an id or a measurement?"
        )
    else:
        problems += _one_sided_classes(frame, target, holdout_fraction, id_column or None, key, keys)
    return problems


def _numeric_target(target: pd.Series) -> list[str]:
    """A regression's target: numbers, finite, not all the same."""
    if not is_numeric(target):
        examples = _non_numeric_examples(target)
        return [f"the target column {target.name!r} should be numeric for a regression but holds {examples}"]
    values = target.dropna().to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        return [f"the target column {target.name!r} holds infinite values"]
    if len(np.unique(values)) < 2:
        return [f"the target column {target.name!r} holds a single value; a regression needs at least 2"]
    return []


def _one_sided_classes(
    frame: pd.DataFrame,
    target: str,
    fraction: float,
    id_column: str | None,
    key: SplitKey | None = None,
    keys: np.ndarray | None = None,
) -> list[str]:
    """Classes the split leaves all in training or all in the holdout.

    The split is decided by each row's values (ml/split.py), so this is exactly the split
    training will use: a class on one side only is never learnt, or never scored.
    """
    if id_column and id_column not in frame.columns:
        return []
    has_label = frame[target].notna().to_numpy()
    labels = pd.Series(normalise(frame[target]), index=frame.index)[has_label]
    if key is not None and keys is not None:
        # The rows' keys are given: no copy of the labelled rows is needed.
        mask = holdout_mask(frame, fraction, key, keys)[has_label]
    else:
        labelled = frame[has_label]
        mask = holdout_mask(labelled, fraction, key or split_key(labelled, target, id_column))
    held = pd.Series(mask, index=labels.index)
    sides = held.groupby(labels).agg(["sum", "size"])
    one_sided = sides[(sides["sum"] == 0) | (sides["sum"] == sides["size"])]
    if one_sided.empty:
        return []
    shown = [
        f"{label!r} ({row['size']} row(s), all in {'the holdout' if row['sum'] else 'training'})"
        for label, row in one_sided.head(SHOWN_CLASSES).iterrows()
    ]
    more = f" and {len(one_sided) - SHOWN_CLASSES} more" if len(one_sided) > SHOWN_CLASSES else ""
    return [
        f"{len(one_sided)} class(es) of {target!r} have too few rows to appear in both training and the "
        f"holdout: {', '.join(shown)}{more}"
    ]


def _check_drift(
    result: Validation,
    frame: pd.DataFrame,
    reference: dict[str, Any],
    thresholds: drift.Thresholds | None,
    reject: bool,
) -> None:
    report = drift.measure(frame, reference, thresholds=thresholds)
    result.drift = report.as_dict()
    if report.verdict != drift.DRIFT:
        return
    message = f"the new data drifted from the champion's training data: {report.summary()}"
    if reject:
        result.problems.append(f"{message}, and the policy rejects drifted data")
    else:
        result.warnings.append(message)


def _non_numeric_examples(column: pd.Series) -> str:
    values = column.dropna().astype(str)
    bad = values[pd.to_numeric(values, errors="coerce").isna()].unique()[:3]
    return ", ".join(repr(v) for v in bad) or "(none)"
