"""The holdout rows a model of unknown training rows can be proved never to have seen.

A model registered by hand in MLflow, or logged before models kept their training-row keys, may
have trained on any row published before it was registered. The rows it cannot have seen are those
first published after: absent from every version of the data published at or before its
registration. The data registry's history says when each version was published (its commit), and a
row is known across versions by its key under the run's split key. A source without that history
(a plain file) proves no row new.
"""

from datetime import datetime

import numpy as np
import pandas as pd

from ml.keys import SplitError, row_keys, value_hashes
from ml.kinds import KindError, apply
from ml.lineage import Unseen
from ml.split import among
from retraining.data import BadData, DataError, DatasetVersion, DataUnavailable
from retraining.pipeline.resources import Resources
from retraining.pipeline.state import RunState


class Published:
    """The rows published up to a moment, for one run: each earlier version is read and keyed once,
    whichever compared models ask."""

    def __init__(self, state: RunState, resources: Resources) -> None:
        self.state, self.resources = state, resources
        self._keys: dict[tuple[str, str | None], np.ndarray] = {}

    def unseen(self, version: str) -> Unseen:
        """The holdout rows first published after `version` was registered, and a sentence saying so."""
        holdout = self.state.holdout_keys
        total = 0 if holdout is None else len(holdout)
        registered = self.resources.models.registered_at(version)
        when = f"{registered:%Y-%m-%d %H:%M:%S %Z}"
        try:
            earlier = self._published_until(registered)
        except (BadData, SplitError, KindError) as exc:
            why = f"an earlier version of the data cannot be read as this one is ({exc})"
            return _none(total, why)
        except DataUnavailable:
            raise  # the run waits for the registry rather than deciding on less
        except DataError as exc:
            return _none(total, f"the data's publication history cannot be read ({exc})")
        if earlier is None or holdout is None:
            return _none(total, "the data source keeps no history of when its rows were published")
        rows = ~among(holdout, earlier)
        return Unseen(
            rows, f"{int(rows.sum())} of the {total} holdout rows were first published after it was registered ({when})"
        )

    def _published_until(self, moment: datetime) -> np.ndarray | None:
        """The sorted keys of every row of every version published at or before `moment`."""
        state = self.state
        versions = self.resources.source.published(state.dataset, moment)
        if versions is None or state.split_key is None:
            return None
        keys = [self._version_keys(version) for version in versions]
        return np.unique(np.concatenate(keys)) if keys else np.empty(0, dtype=np.uint64)

    def hashes_of(self, version: DatasetVersion, columns: list[str]) -> np.ndarray:
        """The whole-row hashes (over those of `columns` it has, numbers as their values: ml.keys.value_hashes)
        of every row of one version of the data, read with this run's columns' kinds."""
        return value_hashes(self.pull_as_read(version), columns)

    def pull_as_read(self, version: DatasetVersion) -> pd.DataFrame:
        """One version of the data, read with this run's columns' kinds, so that its rows are whole
        rows as this run's are (a code read as text here is text there)."""
        frame = self.resources.source.pull(version)
        return apply(frame, self.state.kinds) if self.state.kinds is not None else frame

    def _version_keys(self, version: DatasetVersion) -> np.ndarray:
        known = self._keys.get((version.md5, version.schema))
        if known is None:
            # Read with this run's columns' kinds, so that a row's key is the one it has here.
            frame = self.pull_as_read(version)
            known = self._keys[(version.md5, version.schema)] = row_keys(frame, self.state.split_key)
        return known


def _none(total: int, why: str) -> Unseen:
    return Unseen(np.zeros(total, dtype=bool), f"0 of the {total} holdout rows can be proved new to it: {why}")


def too_few_unseen(unseen: Unseen, name: str, minimum: int) -> str:
    """Why no decision is made: too few rows a model of unknown training rows can be proved never to have seen."""
    return (
        f"{name}'s training rows unknown: {unseen.how}, fewer than MIN_CLEAN_HOLDOUT_ROWS={minimum}: "
        "champion kept, no decision on rows it may have trained on"
    )
