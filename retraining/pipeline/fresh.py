"""Which clean holdout rows a decision rests on: when the data moved under the champion, the rows
of data newer than the champion's, the "fresh holdout" both models are judged on.

After a shift the whole holdout is mostly rows from before it: a challenger that learnt the new
world is judged on the old one, and a guard metric on those rows keeps a champion that is wrong
today. The rows published after the data the champion was trained on say what the world is now:
the rows the newer data added, as a multiset of whole rows, so that a customer seen again after
the shift counts as a new observation (`added`). Which rows judge is fixed before any model is
scored (by the run's trigger, the setting and the data), never by the scores, and both models are
judged on the same rows: the gate's rate of deploys between equivalent models holds on them as on
the whole holdout, with fewer rows and so a wider interval. Rows a compared model trained on are
out first (compare.py); new rows are a subset of the clean ones, so the holdout invariant holds.

`JUDGE_ON_NEW_ROWS` (TrainingSetup.judge_on_new_rows): "shift", the default, for runs started by
drift or degradation or that published feedback; "always" for every run with newer rows; "never".
With fewer new rows than MIN_CLEAN_HOLDOUT_ROWS the whole holdout judges, and the run says so.
"""

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ml.keys import SplitError, value_hashes
from ml.kinds import KindError
from retraining.data import BadData, DataError, DatasetVersion, DataUnavailable
from retraining.pipeline.published import Published
from retraining.pipeline.state import RunState

# Runs started because the world moved: monitoring saw it in the inputs or in live quality.
MOVED = frozenset({"drift", "degradation"})


@dataclass(frozen=True)
class Judged:
    """The holdout rows the decision rests on (a subset of the clean rows) and what the run records of them."""

    rows: np.ndarray
    new: bool
    record: dict[str, Any]


def judged_rows(state: RunState, published: Published, clean: np.ndarray) -> Judged:
    """The clean holdout rows newer than the champion's data when the setting and the run ask for
    them and there are enough; else every clean row, with why."""
    record: dict[str, Any] = {"rows": "all", "clean": int(clean.sum())}
    why = _whole(state)
    if why:
        return Judged(clean, False, {**record, "why": why})
    name = f"champion v{state.champion.version}"
    older, cannot = champion_rows(state, published)
    if older is None:
        return Judged(clean, False, {**record, "why": cannot})
    new = clean & added(value_hashes(state.holdout, list(map(str, state.holdout.columns))), older)
    count, minimum = int(new.sum()), state.setup.min_clean_holdout_rows
    record["new"] = count
    if count < minimum:
        why = (
            f"only {count} holdout rows new since {name}'s data, fewer than MIN_CLEAN_HOLDOUT_ROWS={minimum}: "
            "judged on the whole holdout"
        )
        return Judged(clean, False, {**record, "why": why})
    why = f"judged on the {count} holdout rows new since {name}'s data ({_moved(state)}), of {record['clean']} clean"
    return Judged(new, True, {**record, "rows": "new", "why": why})


def champion_rows(state: RunState, published: Published) -> tuple[np.ndarray | None, str]:
    """The whole-row value hashes of the champion's data version, over this run's columns and read
    with its kinds (the run's own if a step read them already), or None and why they cannot be had.
    Training and the holdout share the run's columns, so one read serves both."""
    if state.champion_rows is not None:
        return state.champion_rows, ""
    name = f"champion v{state.champion.version}"
    try:
        columns = list(map(str, state.holdout.columns))
        return published.hashes_of(data_version(state.champion.data_version), columns), ""
    except DataUnavailable:
        raise  # the run waits for the registry rather than going on with other rows
    except (KeyError, TypeError):
        return None, f"{name}'s data version is not recorded"
    except (BadData, SplitError, KindError, DataError) as exc:
        return None, f"{name}'s data cannot be read as this one is ({exc})"


def added(rows: np.ndarray, older: np.ndarray) -> np.ndarray:
    """True for the rows (whole-row hashes) beyond the copies the older data held of each: the rows
    added since, as a multiset. A customer seen again after the shift is a new observation, though
    their row, and so their key and side of the split, is the same as before."""
    values, counts = np.unique(older, return_counts=True)
    at = np.minimum(np.searchsorted(values, rows), max(len(values) - 1, 0))
    before = np.where(values[at] == rows, counts[at], 0) if len(values) else np.zeros(len(rows), dtype=np.int64)
    # Each row's rank among the identical rows before it, in the holdout's order.
    order = np.argsort(rows, kind="stable")
    ranked = rows[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)]))
    occurrence = np.empty(len(rows), dtype=np.int64)
    occurrence[order] = rank
    return occurrence >= before


def _whole(state: RunState) -> str:
    """Why every clean row judges, or "" when the new rows may."""
    mode = state.setup.judge_on_new_rows
    if mode == "never":
        return "JUDGE_ON_NEW_ROWS=never"
    if mode == "shift" and not _moved(state):
        return "not started by drift, degradation or published feedback (JUDGE_ON_NEW_ROWS=shift)"
    if state.holdout_keys is None or state.split_key is None:
        return "the holdout rows have no keys"
    return ""


def _moved(state: RunState) -> str:
    return moved_by(state) or ("JUDGE_ON_NEW_ROWS=always" if state.setup.judge_on_new_rows == "always" else "")


def moved_by(state: RunState) -> str:
    """What says the data moved under the champion ("published feedback", "a drift run"), or "":
    the trigger and the data decide it, never a setting or a score. Training weighs the new rows on it too."""
    if state.feedback:
        return "published feedback"
    if state.trigger in MOVED:
        return f"a {state.trigger} run"
    return ""


def data_version(recorded: dict[str, Any]) -> DatasetVersion:
    """A model's recorded data version (its `data_version`, or a lineage record's `data`) as the source reads it."""
    return DatasetVersion(**{f.name: recorded[f.name] for f in fields(DatasetVersion)})


def whole_reason(scores: dict[str, dict[str, float]], metric: str, rows: int) -> str:
    """The whole clean holdout's figures in words, said beside a decision made on new rows."""
    figures = ", ".join(f"{name} {values[metric]:.4f}" for name, values in scores.items() if metric in values)
    return f"on the whole clean holdout ({rows} rows), {metric}: {figures}"
