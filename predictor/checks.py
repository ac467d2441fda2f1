"""Refuse a local MLflow store on a Heroku dyno.

A dyno's filesystem is wiped at every restart (at least once a day): a SQLite store or artifacts
written there would lose every model, run and the champion alias with it. On a dyno these are
errors, so the release phase (`migrate` runs the checks) fails and no dyno starts with them.
"""

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core import checks

from ml.redact import redact

_LOCAL_SCHEMES = {"", "file", "sqlite"}
_HINT = (
    "Set MLFLOW_TRACKING_URI to an MLflow tracking server (https://mlflow.example.com) and MLFLOW_ARTIFACT_ROOT "
    "to s3://BUCKET/PATH with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see docs/deploy-heroku.md)."
)


def is_local(uri: str) -> bool:
    """A path or a file/SQLite URI: something that lives on this machine's disk."""
    return urlparse(uri).scheme.lower() in _LOCAL_SCHEMES


@checks.register("production")
def check_mlflow_store_survives_restarts(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.ON_HEROKU:
        return []
    errors = []
    for number, name in enumerate(("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_ARTIFACT_ROOT"), start=1):
        value = getattr(settings, name)
        if is_local(value):
            errors.append(
                checks.Error(
                    f"{name}={redact(value)!r} is on this dyno's disk, which Heroku wipes at every restart: "
                    "every model and run logged there would be lost.",
                    hint=_HINT,
                    id=f"predictor.E00{number}",
                )
            )
    return errors
