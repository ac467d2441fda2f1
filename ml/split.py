"""Which rows are held out, and which rows a model was trained on.

A row's side of the split is decided by a hash of its *keyed columns*: the id column when there is
one, else feature values, never the label. Each model records its keyed columns and salt (a
`SplitKey`) and the next model inherits them, so a column added later, a corrected label, reordered
or duplicated rows do not move any row. A row is held out when its key falls below the holdout
fraction, so raising HOLDOUT_FRACTION only adds rows to the holdout.

Stability makes a contaminated holdout rare; `exclude_trained_on` makes it impossible: each model
keeps the keys of the rows it trained on, and any holdout row a compared model trained on is dropped
from the comparison, whatever happened to the columns in between.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.keys import DEFAULT_SALT, SplitError, SplitKey, keys_from_bytes, keys_to_bytes, row_hashes, row_keys

_UNIT = 2.0**-53
# What an exclusion says when no compared model of known training rows saw a holdout row.
NONE_TRAINED_ON = "no compared model was trained on any of the {total} holdout rows"


def non_features(target: str, id_column: str | None = None, exclude: Iterable[str] = ()) -> list[str]:
    """Columns that are never model inputs: the label, the row id and the configured exclusions."""
    names = [target, *([id_column] if id_column else []), *exclude]
    return list(dict.fromkeys(names))


def split_key(
    frame: pd.DataFrame,
    target: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    inherited: SplitKey | None = None,
    salt: str = DEFAULT_SALT,
) -> SplitKey:
    """The key for this data: the id column if there is one; else the inherited key's columns that
    are still present and still features; else (the first model) every feature column.

    Inheriting the champion's columns is what keeps rows in place when a column is added; the
    champion's salt too. `salt` is the first model's.
    """
    salt = inherited.salt if inherited else salt
    if id_column:
        if id_column not in frame.columns:
            raise SplitError(f"the id column {id_column!r} (DATA_ID_COLUMN) is not in the data")
        return SplitKey((id_column,), salt)
    excluded = set(non_features(target, id_column, exclude))
    if inherited is not None:
        kept = tuple(c for c in inherited.columns if c in frame.columns and c not in excluded)
        if kept:
            return SplitKey(kept, salt)
    features = tuple(c for c in frame.columns if c not in excluded)
    if not features:
        raise SplitError(f"no feature column to key the split on (columns: {', '.join(map(str, frame.columns))})")
    return SplitKey(features, salt)


def holdout_mask(frame: pd.DataFrame, fraction: float, key: SplitKey, keys: np.ndarray | None = None) -> np.ndarray:
    """True for the rows that belong to the holdout: those whose key, read as a number in [0, 1),
    is below the fraction. A larger fraction therefore only adds rows. `keys` are the rows' keys
    (`row_keys(frame, key)`) when the caller has them already."""
    if not 0 < fraction < 1:
        raise SplitError(f"the holdout fraction must be strictly between 0 and 1, got {fraction}")
    keys = row_keys(frame, key) if keys is None else keys
    return (keys >> np.uint64(11)).astype(np.float64) * _UNIT < fraction


def split(frame: pd.DataFrame, fraction: float, key: SplitKey) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows)."""
    mask = holdout_mask(frame, fraction, key)
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


def canonical(frame: pd.DataFrame, key: SplitKey) -> pd.DataFrame:
    """The rows in an order that does not depend on the data's: by row key, then by whole-row hash
    (rows with the same keyed values). The same rows in any order then train the same model."""
    order = np.lexsort((row_hashes(frame), row_keys(frame, key)))
    return frame.iloc[order].reset_index(drop=True)


@dataclass(frozen=True)
class TrainingRows:
    """The rows a model was trained on, as sorted unique keys under its split key (8 bytes a row)."""

    key: SplitKey
    keys: np.ndarray

    def to_bytes(self) -> bytes:
        return keys_to_bytes(self.keys)

    @classmethod
    def from_bytes(cls, key: SplitKey, data: bytes) -> "TrainingRows":
        return cls(key, keys_from_bytes(data))


def training_rows(training: pd.DataFrame, key: SplitKey) -> TrainingRows:
    return TrainingRows(key, np.unique(row_keys(training, key)))


@dataclass(frozen=True)
class Split:
    """Training and holdout rows, each in canonical order, with what the split learnt of them."""

    training: pd.DataFrame
    holdout: pd.DataFrame
    trained_on: TrainingRows
    # The holdout rows' keys under the split's key, row for row.
    holdout_keys: np.ndarray


def canonical_split(frame: pd.DataFrame, fraction: float, key: SplitKey, keys: np.ndarray | None = None) -> Split:
    """`split`, then `canonical` on each side, with the same rows in the same order; but each row's
    key is computed once (or given: `keys`, as `row_keys(frame, key)` gives them) and each side is
    copied from the frame once."""
    keys = row_keys(frame, key) if keys is None else keys
    mask = holdout_mask(frame, fraction, key, keys)
    whole = row_hashes(frame)

    def side(rows: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        positions = np.flatnonzero(rows)
        ordered = positions[_key_order(keys[positions], whole[positions])]
        return frame.take(ordered).reset_index(drop=True), keys[ordered]

    training, training_keys = side(~mask)
    holdout, holdout_keys = side(mask)
    return Split(training, holdout, TrainingRows(key, _distinct_sorted(training_keys)), holdout_keys)


def _key_order(keys: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """`np.lexsort((whole, keys))`: by key, then by whole-row hash, ties in both kept in place; but
    only the rows that share a key with another row go through the two-key sort, which costs three
    times a one-key sort."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    tie = ordered[1:] == ordered[:-1]
    if tie.any():
        shared = np.zeros(len(order), dtype=bool)
        shared[1:] |= tie
        shared[:-1] |= tie
        slots = np.flatnonzero(shared)
        rows = order[slots]
        order[slots] = rows[np.lexsort((whole[rows], keys[rows]))]
    return order


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """`np.unique` of keys already in ascending order, in one pass instead of a hash and a sort."""
    if not len(keys):
        return keys.copy()
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))]


@dataclass
class Exclusion:
    """Which holdout rows every compared model has never seen, and why the others were dropped."""

    clean: np.ndarray
    excluded: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    # The compared models whose training rows are unknown: their rows were excluded unless proved unseen.
    unknown: list[str] = field(default_factory=list)

    @property
    def clean_rows(self) -> int:
        return int(self.clean.sum())

    def too_few(self, minimum: int) -> str | None:
        """Why no decision can be made on these rows, or None when there are enough of them."""
        if self.clean_rows >= minimum:
            return None
        return (
            f"only {self.clean_rows} of the {len(self.clean)} holdout rows were never trained on by a compared model, "
            f"fewer than the {minimum} needed to compare models: no decision on contaminated rows"
        )


def exclude_trained_on(
    holdout: pd.DataFrame, models: Mapping[str, TrainingRows], keys: Mapping[SplitKey, np.ndarray] | None = None
) -> Exclusion:
    """Drop every holdout row that any of `models` (named, e.g. "champion v3") was trained on.

    Each model is checked under its own split key, so rows are matched exactly even when the key
    changed between models. A model whose keyed columns are not all in the holdout cannot be
    checked: none of its rows can be ruled out, so every row is dropped for it. `keys` are the
    holdout rows' keys under a split key, where the caller has them (the split computed them);
    the others are computed once per split key.
    """
    known = dict(keys or {})
    total = len(holdout)
    clean = np.ones(total, dtype=bool)
    exclusion = Exclusion(clean)
    for name, rows in models.items():
        missing = [c for c in rows.key.columns if c not in holdout.columns]
        if missing:
            seen = np.ones(total, dtype=bool)
            exclusion.reasons.append(
                f"{name}: its keyed columns {', '.join(missing)} are not in this data, so its training rows cannot "
                f"be told apart: all {total} holdout rows excluded"
            )
        else:
            if rows.key not in known:
                known[rows.key] = row_keys(holdout, rows.key)
            seen = among(known[rows.key], rows.keys)
            if seen.any():
                exclusion.reasons.append(f"{name} was trained on {seen.sum()} of the {total} holdout rows: excluded")
        exclusion.excluded[name] = int(seen.sum())
        clean &= ~seen
    if not exclusion.reasons:
        exclusion.reasons.append(NONE_TRAINED_ON.format(total=total))
    return exclusion


def among(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """`np.isin(values, keys)`; a binary search in `keys` when they are sorted, as a model's
    training rows are, instead of sorting both together."""
    if len(keys) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    if not (keys[1:] >= keys[:-1]).all():
        return np.isin(values, keys)
    found = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return keys[found] == values
