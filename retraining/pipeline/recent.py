"""The training rows new since the champion's data, and the weight they carry when a run trains
after a shift (RECENT_ROWS_SHARE, TrainingSetup.recent_rows_share).

A run the data moved under (a drift or degradation run, or one that published feedback: the same
test as the fresh holdout's, fresh.moved_by) marks the training rows the data added since the
champion's version, as a multiset of whole rows (fresh.added: a customer seen again after the shift
is a new observation), and weights them to carry that share of the fit (ml/weights.py). Which rows
are new is fixed by the trigger and the data, never by a score; the split and the holdout are
untouched and the weights never reach a metric. Any other run trains unweighted, as before.

What a run did is its model's lineage record (`recent`): the share asked, the rows marked, the share
of the weight they carried, the champion's data version they were marked against and whether the
weights reached the fit (a team's pipeline whose final estimator takes no `sample_weight` falls back
to an unweighted fit, and the record says so). `manage.py reproduce` reads it to weight alike.
"""

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ml.keys import value_hashes
from ml.weights import recent_weights, weight_argument, weight_share
from retraining.pipeline.fresh import added, champion_rows, data_version, moved_by
from retraining.pipeline.published import Published
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import RunState

RECORD = "recent"


@dataclass(frozen=True)
class Recent:
    """The training rows' weights (None: an unweighted fit) and what the run records of them ({}: nothing to say)."""

    weights: np.ndarray | None
    record: dict[str, Any]
    # The champion's data as fresh.champion_rows read it (None: not read), kept for the compare step.
    champion_rows: np.ndarray | None = None


def mark(training: pd.DataFrame, older: np.ndarray) -> np.ndarray:
    """True for the training rows the older data (its whole-row value hashes over the training
    columns) did not hold, as a multiset of whole rows."""
    return added(value_hashes(training, list(map(str, training.columns))), older)


def weigh(recent: np.ndarray, share: float) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The weights for rows `recent` marks at `share`, and the figures the record keeps of them."""
    weights = recent_weights(recent, share)
    return weights, {
        "share": share,
        "rows": int(np.count_nonzero(recent)),
        "of": len(recent),
        "weight_share": round(weight_share(recent, weights), 4),
        "weighted": weights is not None,
    }


def recent_rows(state: RunState, resources: Resources) -> Recent:
    """The weights of this run's training rows: the new rows' share when the data moved under the champion."""
    share, champion = state.setup.recent_rows_share, state.champion
    moved = moved_by(state)
    if share <= 0 or champion is None or not moved:
        return Recent(None, {})  # trained as before: nothing moved, or weighting is off
    older, cannot = champion_rows(state, Published(state, resources))
    if older is None:
        return Recent(None, {"share": share, "weighted": False, "why": cannot})
    weights, figures = weigh(mark(state.training, older), share)
    since = data_version(champion.data_version).as_dict()
    record = {**figures, "champion": champion.version, "since": since, "moved": moved}
    return Recent(weights, {**record, "why": _why(record, f"champion v{champion.version}")}, older)


def fell_back(recent: Recent, model: Any, made_by: str) -> Recent:
    """The record once fitted: weights the model's final estimator could not take are said, never claimed."""
    if recent.weights is None or weight_argument(model) is not None:
        return recent
    why = (
        f"{made_by or 'the estimator'}'s final estimator takes no sample_weight: trained unweighted, "
        f"the {recent.record['rows']} rows new since champion v{recent.record['champion']}'s data at their own share"
    )
    return replace(
        recent,
        weights=None,
        record={**recent.record, "weighted": False, "weight_share": _own(recent.record), "why": why},
    )


def _own(record: dict[str, Any]) -> float:
    return round(record["rows"] / record["of"], 4) if record["of"] else 0.0


def _why(record: dict[str, Any], name: str) -> str:
    rows, of, share = record["rows"], record["of"], record["share"]
    if not record["weighted"]:
        if rows == 0 or rows == of:
            return f"{rows} of {of} training rows new since {name}'s data ({record['moved']}): trained unweighted"
        return (
            f"the {rows} of {of} training rows new since {name}'s data ({record['moved']}) already carry "
            f"{record['weight_share']:.0%} of the rows, at least RECENT_ROWS_SHARE={share}: trained unweighted"
        )
    return (
        f"the {rows} of {of} training rows new since {name}'s data ({record['moved']}) weighted to carry "
        f"{record['weight_share']:.0%} of the fit (RECENT_ROWS_SHARE={share})"
    )
