"""Inference without scikit-learn's per-call overhead, for the pipelines the product trains.

On one row, a fitted pipeline's `predict_proba` spends almost all of its time outside the
arithmetic: the ColumnTransformer re-validates a DataFrame and slices it per transformer, each
step checks its input again, and a forest dispatches every tree through joblib: the trees' own
arithmetic is a small part of the call (docs/benchmarks.md, "Where the time went").

At load, `compile_model` reads the fitted pipeline into plain arrays (imputer statistics, scaler
means and scales, one-hot category positions, the trees) and `Compiled.predict_proba` runs only
the arithmetic, in the order and precision scikit-learn uses, on the per-column arrays the input
check already built. What it does not recognise is not guessed at: the model is then served
through its own `predict_proba`, and the reason is logged and shown in /api/v1/model. What it
compiles is checked at load against the model's own `predict_proba` on the input example and on
probe rows (missing values, unknown categories); any difference and the model's own path is used.
A regressor (a forest, a tree, gradient boosting, a linear model) is compiled the same way, its
`predict` in place of `predict_proba`: the numbers it answers, checked equal the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier, ExtraTreeRegressor

from ml.contract import is_numeric
from predictor.api.inputs import frame_of

# Columns as the input check hands them over: float64 arrays for numbers, object arrays
# (str or None) for everything else, all of one length.
Columns = dict[str, np.ndarray]
Block = list[np.ndarray]


class NotCompiled(Exception):
    """The model has a shape this module does not reproduce exactly; serve it as it is."""


@dataclass(frozen=True)
class Compiled:
    """A fitted pipeline as arrays: preprocessing blocks, then the estimator's arithmetic."""

    blocks: list[tuple[list[str], list[Callable[[Block], Block]]]]
    estimator: Callable[[np.ndarray], np.ndarray]

    def transform(self, columns: Columns) -> np.ndarray:
        """The matrix the pipeline's ColumnTransformer would give the estimator (dense, float64)."""
        parts: list[np.ndarray] = []
        for names, steps in self.blocks:
            block: Block = [columns[name] for name in names]
            for step in steps:
                block = step(block)
            parts.extend(block)
        return np.column_stack(parts).astype(np.float64, copy=False)

    def predict_proba(self, columns: Columns) -> np.ndarray:
        return self.estimator(self.transform(columns))

    def predict(self, columns: Columns) -> np.ndarray:
        """A regressor's numbers (for a classifier, `predict_proba`'s probabilities)."""
        return self.estimator(self.transform(columns))


def compile_model(model: Any) -> Compiled:
    """Read a fitted Pipeline(ColumnTransformer, classifier) into a Compiled, or NotCompiled."""
    if not isinstance(model, Pipeline) or len(model.steps) != 2:
        raise NotCompiled("not a two-step Pipeline (preprocessing, classifier)")
    preprocess, classifier = model.steps[0][1], model.steps[1][1]
    if not isinstance(preprocess, ColumnTransformer):
        raise NotCompiled(f"the first step is {type(preprocess).__name__}, not a ColumnTransformer")
    return Compiled(blocks=_blocks(preprocess), estimator=_estimator(classifier))


def columns_of(frame: pd.DataFrame) -> Columns:
    """A DataFrame as the input check would hand it over (used at load, on the probe rows)."""
    out: Columns = {}
    for name in frame.columns:
        column = frame[name]
        if is_numeric(column):
            out[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            values = column.to_numpy(dtype=object)
            out[name] = np.where(pd.isna(values), None, values)
    return out


# Preprocessing -----------------------------------------------------------------------------


def _blocks(preprocess: ColumnTransformer) -> list[tuple[list[str], list[Callable[[Block], Block]]]]:
    # A sparse output (many categories) is built dense here: the same values, and trees compare
    # them alike either way; for an estimator whose arithmetic differs on a sparse matrix, the
    # exact check at load refuses the compiled form.
    blocks = []
    for name, transformer, columns in preprocess.transformers_:
        if transformer == "drop" or (isinstance(columns, list) and not columns):
            continue
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise NotCompiled(f"transformer {name!r} selects columns other than by name")
        if transformer == "passthrough":
            blocks.append((columns, [_as_float]))
            continue
        steps = transformer.steps if isinstance(transformer, Pipeline) else [(name, transformer)]
        blocks.append((columns, [_step(step_name, step) for step_name, step in steps]))
    return blocks


def _step(name: str, step: Any) -> Callable[[Block], Block]:
    if isinstance(step, SimpleImputer):
        return _imputer(name, step)
    if isinstance(step, StandardScaler):
        return _scaler(step)
    if isinstance(step, OneHotEncoder):
        return _one_hot(name, step)
    raise NotCompiled(f"step {name!r} is a {type(step).__name__}")


def _as_float(block: Block) -> Block:
    return [np.asarray(column, dtype=np.float64) for column in block]


def _imputer(name: str, imputer: SimpleImputer) -> Callable[[Block], Block]:
    if imputer.add_indicator or not _is_nan(imputer.missing_values):
        raise NotCompiled(f"imputer {name!r} adds indicators or masks a value other than NaN")
    fills = list(imputer.statistics_)
    if any(_is_nan(fill) for fill in fills):
        raise NotCompiled(f"imputer {name!r} has a column with no statistic (all missing in training)")

    def impute(block: Block) -> Block:
        out = []
        for column, fill in zip(block, fills, strict=True):
            if column.dtype == object:
                # scikit-learn's mask for NaN on object arrays is `x != x`: a float NaN is
                # imputed, None is not (it stays a category of its own, as in training).
                missing = column != column
                out.append(np.where(missing, fill, column) if missing.any() else column)
            else:
                out.append(np.where(np.isnan(column), fill, column))
        return out

    return impute


def _scaler(scaler: StandardScaler) -> Callable[[Block], Block]:
    means = scaler.mean_ if scaler.with_mean else None
    scales = scaler.scale_ if scaler.with_std else None

    def scale(block: Block) -> Block:
        out = []
        for j, column in enumerate(block):
            values = np.asarray(column, dtype=np.float64)
            if means is not None:
                values = values - means[j]
            if scales is not None:
                values = values / scales[j]
            out.append(values)
        return out

    return scale


def _one_hot(name: str, encoder: OneHotEncoder) -> Callable[[Block], Block]:
    if encoder.drop is not None:
        raise NotCompiled(f"encoder {name!r} drops categories")
    if encoder.handle_unknown not in ("ignore", "infrequent_if_exist"):
        raise NotCompiled(f"encoder {name!r} raises on unknown categories")
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(encoder.categories_)
    grouped = encoder._infrequent_enabled
    positions = []
    for categories, rare in zip(encoder.categories_, infrequent, strict=True):
        plain = all(value is None or isinstance(value, str | bool) for value in categories)
        if categories.dtype != object or not plain:
            raise NotCompiled(f"encoder {name!r} has categories other than text, booleans and None")
        # Grouped as scikit-learn does: the frequent categories in order, then one column for the
        # infrequent ones, where an unknown value goes too (handle_unknown="infrequent_if_exist").
        rare_set = set(rare.tolist()) if grouped and rare is not None else set()
        frequent = [value for value in categories if value not in rare_set]
        position = {value: i for i, value in enumerate(frequent)}
        other = len(frequent) if rare_set else None
        position |= dict.fromkeys(rare_set, other)
        unknown = other if encoder.handle_unknown == "infrequent_if_exist" else None
        positions.append((position, len(frequent) + (1 if rare_set else 0), unknown))

    def encode(block: Block) -> Block:
        out = []
        for column, (position, width, unknown) in zip(block, positions, strict=True):
            onehot = np.zeros((len(column), width))
            for row, value in enumerate(column.tolist()):
                known = value is None or isinstance(value, str | bool)
                i = position.get(value, unknown) if known else unknown
                if i is not None:
                    onehot[row, i] = 1.0
            out.extend(onehot.T)
        return out

    return encode


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


# Estimators --------------------------------------------------------------------------------


def _estimator(classifier: Any) -> Callable[[np.ndarray], np.ndarray]:
    if getattr(classifier, "n_outputs_", 1) != 1:
        raise NotCompiled("the classifier has several outputs")
    if is_regressor(classifier):
        return _regressor(classifier)
    if isinstance(classifier, RandomForestClassifier | ExtraTreesClassifier):
        return _trees(list(classifier.estimators_))
    if isinstance(classifier, DecisionTreeClassifier | ExtraTreeClassifier):
        return _trees([classifier])
    if hasattr(classifier, "predict_proba"):
        # Given the matrix the ColumnTransformer would give it, the estimator's own method
        # computes exactly what the pipeline would; only the preprocessing overhead is saved.
        return classifier.predict_proba
    raise NotCompiled(f"{type(classifier).__name__} has no predict_proba")


def _trees(trees: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
    """The trees' leaf fractions summed in the order scikit-learn sums them, then averaged, on
    the float32 copy of the input that scikit-learn's trees compare against (for one tree, the
    sum and the division by one change nothing)."""
    n_classes = int(trees[0].n_classes_)
    arrays = [tree.tree_ for tree in trees]
    # Each tree's leaf values as `Tree.predict` reads them, taken out once: `predict` wraps them
    # in a new array on every call, a cost that, over a forest, a one-row request notices.
    values = [tree.value.reshape(tree.node_count, -1)[:, :n_classes].copy() for tree in arrays]

    def predict_proba(matrix: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(matrix, dtype=np.float32)
        total = np.zeros((x.shape[0], n_classes), dtype=np.float64)
        for tree, value in zip(arrays, values, strict=True):
            total += value.take(tree.apply(x), axis=0, mode="clip")
        total /= len(arrays)
        return total

    return predict_proba


def _regressor(regressor: Any) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(regressor, RandomForestRegressor | ExtraTreesRegressor):
        return _tree_means(list(regressor.estimators_))
    if isinstance(regressor, DecisionTreeRegressor | ExtraTreeRegressor):
        return _tree_means([regressor])
    # Given the ColumnTransformer's matrix, the estimator's own predict is exactly the pipeline's
    # (gradient boosting, a linear model): only the preprocessing overhead is saved.
    return regressor.predict


def _tree_means(trees: list[Any]) -> Callable[[np.ndarray], np.ndarray]:
    """The trees' leaf values summed in the order a forest sums them (one job), then averaged,
    on the float32 copy of the input the trees compare against."""
    arrays = [tree.tree_ for tree in trees]
    values = [tree.value.reshape(tree.node_count, -1)[:, 0].copy() for tree in arrays]  # as in _trees

    def predict(matrix: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(matrix, dtype=np.float32)
        total = np.zeros(x.shape[0], dtype=np.float64)
        for tree, value in zip(arrays, values, strict=True):
            total += value.take(tree.apply(x), mode="clip")
        total /= len(arrays)
        return total

    return predict


# Checked at load -----------------------------------------------------------------------------


def probe_rows(example: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """The input example plus rows that reach every branch of the preprocessing: a missing
    value in each column, and an unknown category in each categorical column."""
    base = example.head(1)
    rows = [example]
    for name in example.columns:
        missing = base.copy()
        missing[name] = np.nan if pd.api.types.is_numeric_dtype(missing[name]) else None
        rows.append(missing)
        if name in categories:
            unknown = base.copy()
            unknown[name] = "\x00never seen in training"
            rows.append(unknown)
    return pd.concat(rows, ignore_index=True)


def verify(compiled: Compiled, model: Any, rows: pd.DataFrame) -> None:
    """NotCompiled unless the compiled path gives exactly the model's own probabilities (a
    regressor's own predictions)."""
    columns = columns_of(rows)
    method = "predict_proba" if hasattr(model, "predict_proba") else "predict"
    expected = np.asarray(getattr(model, method)(frame_of(columns)))
    got = compiled.predict_proba(columns)
    if got.shape != expected.shape or not np.array_equal(got, expected):
        worst = float(np.max(np.abs(got - expected))) if got.shape == expected.shape else float("nan")
        raise NotCompiled(f"differs from the model's own {method} (largest difference {worst:.3g})")
