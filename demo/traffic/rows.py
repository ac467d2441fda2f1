"""The rows the traffic sends: demo rows as the served model takes them, before and after the shift."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings

from demo import datasets
from demo.traffic.base import ServedModel, TrafficError
from demo.traffic.options import DEFAULT_SEED
from demo.traffic.shifts import SHIFTS


@dataclass
class _Pool:
    records: list[dict[str, Any]]
    labels: list[str]
    weights: np.ndarray | None = None

    def draw(self, rng: np.random.Generator, count: int) -> tuple[list[dict[str, Any]], list[str]]:
        if self.weights is None:
            picked = rng.integers(0, len(self.records), count)
        else:
            picked = rng.choice(len(self.records), size=count, p=self.weights)
        return [self.records[i] for i in picked], [self.labels[i] for i in picked]


@dataclass
class Rows:
    """The demo rows to send, as the served model takes them, before and after the shift."""

    dataset: str
    columns: list[str]
    # Where un-shifted rows come from, in words ("the 200 rows of demo batch 1").
    source: str
    before: _Pool
    after: _Pool
    description: str
    # Per shifted feature: what is added to every row's value after the shift...
    offsets: dict[str, float] = field(default_factory=dict)
    # ...and its mean before and after the shift, as the traffic draws rows (the new mix of
    # categories moves a mean too, when the feature differs between them).
    moved: dict[str, tuple[float, float]] = field(default_factory=dict)

    def draw(self, rng: np.random.Generator, count: int, shifted: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """`count` rows (as JSON objects with exactly the served columns) and their true labels."""
        return (self.after if shifted else self.before).draw(rng, count)


def pick_dataset(columns: Sequence[str], preferred: str | None = None) -> str:
    """The demo dataset whose features hold every served column, DEMO_DATASET first."""
    names = list(dict.fromkeys([preferred or settings.DEMO_DATASET, *settings.DEMO_TARGETS]))
    offered = {}
    for name in names:
        features = [c for c in _demo_rows(name)[0].columns if c != settings.DEMO_TARGETS[name]]
        if columns and set(columns) <= set(features):
            return name
        offered[name] = features
    shown = "; ".join(f"{name}: {', '.join(features)}" for name, features in offered.items())
    raise TrafficError(
        f"the served model takes the columns {', '.join(columns) or '(none)'}, which no demo dataset has ({shown}): "
        "simulate_traffic sends demo rows, so it needs a model trained on a demo dataset"
    )


def build_rows(dataset: str, model: ServedModel, seed: int = DEFAULT_SEED) -> Rows:
    """The pools rows are drawn from: the demo batch the served model was trained on (the whole
    dataset when its data version is no demo batch), without the rows that miss a value the model
    requires, and its shifted copy.

    Drawing from the model's own batch matters: the first churn champion's training profile has
    145 rows, and rows of the whole dataset differ from them enough on one feature that about a
    quarter of un-shifted windows of 500 to 1,200 rows would be called drift; rows of its own
    batch, none in 100 windows of each size."""
    if dataset not in SHIFTS:
        raise TrafficError(f"no shift is defined for the dataset {dataset!r}: choose {' or '.join(SHIFTS)}")
    shift = SHIFTS[dataset]
    target = settings.DEMO_TARGETS[dataset]
    frame, source = _demo_rows(dataset, model.data_rows)
    missing = [c for c in model.columns if c not in frame.columns]
    if missing:
        raise TrafficError(f"the {dataset} demo dataset has no column {', '.join(missing)}, which the model takes")
    frame = frame.dropna(subset=model.required).reset_index(drop=True)
    labels = frame[target].astype(str)

    shifted = frame.copy()
    parts, offsets = [], {}
    for name, sds in shift.numeric.items():
        column = frame[name]
        offsets[name] = delta = sds * float(column.std())
        values = (column + delta).round(_decimals(column))
        shifted[name] = values.astype(column.dtype) if pd.api.types.is_integer_dtype(column) else values
        if name in model.columns:
            parts.append(f"{name} {sds:+g} sd ({_signed(delta)} on every row)")
    counts = frame[shift.mix_column].value_counts()
    unknown = sorted(set(shift.mix) - set(counts.index))
    if unknown:
        raise TrafficError(f"the {dataset} demo dataset has no {shift.mix_column} {', '.join(unknown)}")
    weights = frame[shift.mix_column].map(lambda v: shift.mix.get(v, 0.0) / counts.get(v, 1)).to_numpy(float)
    weights = weights / weights.sum()
    top = max(shift.mix, key=shift.mix.__getitem__)
    was = counts.get(top, 0) / counts.sum()
    parts.append(f"{shift.mix_column} mostly {top} ({shift.mix[top]:.0%}, was {was:.0%})")
    moved = {name: (_mean(frame[name], None), _mean(shifted[name], weights)) for name in offsets}
    relabelled = shift.relabel(shifted, labels, np.random.default_rng([seed, 1]))

    if model.classes is not None:
        strange = sorted((set(labels) | {str(v) for v in relabelled}) - set(model.classes))
        if strange:
            raise TrafficError(
                f"the {dataset} demo labels {', '.join(strange)} are not classes of the served model "
                f"({', '.join(model.classes)}): is it trained on the {dataset} demo dataset?"
            )
    return Rows(
        dataset=dataset,
        columns=list(model.columns),
        source=source,
        before=_Pool(_records(frame[model.columns]), labels.tolist()),
        after=_Pool(_records(shifted[model.columns]), [str(v) for v in relabelled], weights),
        description=f"{', '.join(parts)}; labels: {shift.labels}",
        offsets=offsets,
        moved=moved,
    )


def _demo_rows(dataset: str, rows: int | None = None) -> tuple[pd.DataFrame, str]:
    """(rows, where they come from): the demo batch of `rows` rows, else every batch."""
    sizes = datasets.batch_sizes(dataset)
    if rows in sizes:
        number = sizes.index(rows) + 1
        return datasets.batch(dataset, number), f"the {rows:,} rows of demo batch {number}, as the model was trained"
    every = datasets.batch(dataset, datasets.BATCHES)
    return every, f"all {len(every):,} rows of the demo dataset"


def _mean(column: pd.Series, weights: np.ndarray | None) -> float:
    """The mean of the values drawn with these weights (uniform when None), gaps left out."""
    values = column.to_numpy(float)
    known = ~np.isnan(values)
    return float(np.average(values[known], weights=None if weights is None else weights[known]))


def _decimals(column: pd.Series) -> int:
    """The fewest decimals that write every value of the column as it is (at most 6)."""
    values = column.dropna().to_numpy(float)
    for decimals in range(7):
        if np.allclose(values, np.round(values, decimals), rtol=0, atol=1e-9):
            return decimals
    return 6


def _signed(value: float) -> str:
    return f"{value:+.3g}" if abs(value) < 1000 else f"{value:+,.0f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain Python values (int, float, str), None where a value is missing: JSON as a client sends it."""
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")
