"""The MLflow stores this process talks to: MLflow imported on first use, kept quiet and offline,
and pointed at the configured tracking and model registry stores once per process; the
experiment every training run is logged to.

What is asked of the stores is in registry.py; this module only connects to them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from django.conf import settings

# MLflow reads these at import; they keep it quiet and offline.
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

_configured_for: tuple[str, str] | None = None
_configure_lock = threading.Lock()


def connected() -> Any:
    """Import MLflow lazily and point it at the configured stores once per process."""
    global _configured_for
    import mlflow

    wanted = (settings.MLFLOW_TRACKING_URI, settings.MLFLOW_REGISTRY_URI)
    if _configured_for != wanted:
        with _configure_lock:
            mlflow.set_tracking_uri(wanted[0])
            mlflow.set_registry_uri(wanted[1])
            _configured_for = wanted
    return mlflow


def client() -> Any:
    from mlflow import MlflowClient

    connected()
    return MlflowClient(settings.MLFLOW_TRACKING_URI, settings.MLFLOW_REGISTRY_URI)


def experiment_id() -> str:
    """The experiment every training run is logged to, created on first use."""
    mlflow_client = client()
    experiment = mlflow_client.get_experiment_by_name(settings.MLFLOW_EXPERIMENT_NAME)
    if experiment is not None:
        return experiment.experiment_id
    location = settings.MLFLOW_ARTIFACT_ROOT
    if "://" not in location:
        Path(location).mkdir(parents=True, exist_ok=True)
        location = Path(location).resolve().as_uri()
    return mlflow_client.create_experiment(settings.MLFLOW_EXPERIMENT_NAME, artifact_location=location)
