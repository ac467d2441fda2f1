"""Checking a frame of inputs (a CSV file, or the prediction log) against a model's training
profile: the one place that finds the profile for ml/drift/drift.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from django.conf import settings
from django.utils import timezone

from ml.drift import drift
from predictor import predlog, services
from predictor.models import DriftCheck, ProfileCopy
from predictor.serving import registry

# The column of a frame that holds the served predictions (as the prediction log gives them).
PREDICTION_COLUMN = "prediction"
# Columns of the logged frame that are not model inputs.
LOG_COLUMNS = ("model_version", "created_at")


class DriftCheckError(Exception):
    """There is nothing to compare with: no champion, or a champion without a profile."""


def check(frame: pd.DataFrame, version: str | None = None, run_id: str = "") -> tuple[str, drift.DriftReport]:
    """(the version compared with, the report); the champion unless `version` is given. With the
    version's `run_id`, its profile is read from the copy kept in the database (`profile_of`)."""
    version = version or champion_version()
    profile = profile_of(version, run_id) if run_id else registry.profile(version)
    if profile is None:
        raise DriftCheckError(
            f"v{version} has no training profile (it was logged before profiles were stored): retrain to get one"
        )
    predictions = frame[PREDICTION_COLUMN].to_numpy() if PREDICTION_COLUMN in frame else None
    return version, drift.measure(frame, profile, predictions=predictions, thresholds=configured_thresholds())


def profile_of(version: str, run_id: str) -> dict | None:
    """The profile of `version`, logged by run `run_id`: the database's copy (ProfileCopy), made
    from MLflow the first time. Importing MLflow and reading its store is most of a one-off
    check's time and memory; the copy is a row."""
    copied = ProfileCopy.objects.filter(run_id=run_id).first()
    if copied is not None:
        return copied.profile
    found = registry.profile(version)
    ProfileCopy.objects.get_or_create(run_id=run_id, defaults={"profile": found})
    return found


def champion_version() -> str:
    champion = services.active_deployment()
    if champion is None:
        raise DriftCheckError("no champion is served yet, so there is no training profile to compare with")
    return champion.version


def check_log(now: datetime | None = None) -> DriftCheck:
    """Compare the champion's recent logged inputs with its training profile, and record it.

    The window: predictions the champion served since it was deployed, at most DRIFT_WINDOW_HOURS
    back, the newest DRIFT_WINDOW_ROWS of them. Fewer than DRIFT_MIN_ROWS gives the verdict
    "not enough data", recorded too (the panel shows the check happened).
    """
    now = now or timezone.now()
    champion = services.active_deployment()
    if champion is None:
        raise DriftCheckError("no champion is served yet, so there is no training profile to compare with")
    since = max(now - timedelta(hours=settings.DRIFT_WINDOW_HOURS), champion.created_at)
    frame = predlog.logged_inputs(since, version=champion.version, limit=settings.DRIFT_WINDOW_ROWS)
    frame = frame[frame["created_at"] <= now].drop(columns=list(LOG_COLUMNS))
    version, report = check(frame, champion.version, champion.run_id)
    return DriftCheck.objects.create(
        checked_at=now,
        version=version,
        since=since,
        rows=report.rows,
        verdict=report.verdict,
        drifted=report.drifted,
        report=report.as_dict(),
    )


def configured_thresholds() -> drift.Thresholds:
    """The configured thresholds (DRIFT_PSI_THRESHOLD, DRIFT_ALPHA, DRIFT_MIN_ROWS)."""
    return drift.Thresholds(
        psi=settings.DRIFT_PSI_THRESHOLD, alpha=settings.DRIFT_ALPHA, min_rows=settings.DRIFT_MIN_ROWS
    )
