"""Checking a frame of inputs (a CSV file now, the prediction log later) against the served
champion's training profile: the one place that finds the profile for predictor/drift.py."""

from __future__ import annotations

import pandas as pd

from predictor import drift, registry, services

# The column of a frame that holds the served predictions (as the prediction log gives them).
PREDICTION_COLUMN = "prediction"


class DriftCheckError(Exception):
    """There is nothing to compare with: no champion, or a champion without a profile."""


def check(frame: pd.DataFrame, version: str | None = None) -> tuple[str, drift.DriftReport]:
    """(the version compared with, the report); the champion unless `version` is given."""
    if version is None:
        champion = services.active_deployment()
        if champion is None:
            raise DriftCheckError("no champion is served yet, so there is no training profile to compare with")
        version = champion.version
    profile = registry.profile(version)
    if profile is None:
        raise DriftCheckError(
            f"v{version} has no training profile (it was logged before profiles were stored): retrain to get one"
        )
    predictions = frame[PREDICTION_COLUMN].to_numpy() if PREDICTION_COLUMN in frame else None
    return version, drift.compare(frame, profile, predictions=predictions, thresholds=drift.thresholds())
