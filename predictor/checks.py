"""Refuse a local MLflow store on a Heroku dyno; warn of what other hosts would not share.

A dyno's filesystem is wiped at every restart (at least once a day): a SQLite store or artifacts
written there would lose every model, run and the champion alias with it. On a dyno these are
errors, so the release phase (`migrate` runs the checks) fails and no dyno starts with them.

Processes that share a database server may run on other hosts, where a generated key or a path
on this host's disk is not the same thing. These are warnings, for `check --deploy` and for the
worker and beat as they start (retraining/checks.py): one machine with a database server is a
sound deployment too, and it says so with VAR_DIR_SHARED when its paths live under VAR_DIR.
"""

from pathlib import Path
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


def database_is_a_server() -> bool:
    """Processes on several hosts can share a database server; a SQLite file keeps them on one."""
    return urlparse(settings.DATABASE_URL).scheme.lower() != "sqlite"


def under_var_dir(uri: str) -> bool:
    """A local path, or file/SQLite URI, under VAR_DIR."""
    scheme = urlparse(uri).scheme.lower()
    if scheme not in _LOCAL_SCHEMES:
        return False
    # sqlite:///relative.db and sqlite:////absolute.db: the path is what follows the third slash.
    path = uri.partition(":///")[2] if scheme == "sqlite" else urlparse(uri).path if scheme == "file" else uri
    return Path(path).resolve().is_relative_to(settings.VAR_DIR)


def in_shared_var_dir(uri: str) -> bool:
    """Under VAR_DIR, which every process mounts (VAR_DIR_SHARED): the same thing on every host."""
    return settings.VAR_DIR_SHARED and under_var_dir(uri)


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


_NEW_KEY = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
_SHARED_STORE_HINT = (
    "Set it to what every host reaches (an MLflow tracking server, s3://BUCKET/PATH for artifacts), or set "
    "VAR_DIR_SHARED=true if every process mounts this same VAR_DIR and the path is under it."
)


@checks.register("hosts", deploy=True)
def check_other_hosts_share_the_key_and_the_models(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not database_is_a_server():
        return []
    found = []
    if settings.SECRET_KEY_GENERATED and not settings.VAR_DIR_SHARED:
        found.append(
            checks.Warning(
                f"SECRET_KEY is not set: this host generated its own key into {settings.VAR_DIR}, and a process "
                "on another host sharing this database generates another, so sessions and CSRF tokens signed on "
                "one host are refused on the other.",
                hint=f"Set SECRET_KEY to one long random value on every host ({_NEW_KEY}).",
                id="predictor.W001",
            )
        )
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_ARTIFACT_ROOT"):
        value = getattr(settings, name)
        if is_local(value) and not in_shared_var_dir(value):
            found.append(
                checks.Warning(
                    f"{name}={value!r} is on this host's disk while DATABASE_URL is a database server: a process "
                    "on another host sharing it would not find the models and runs logged here.",
                    hint=_SHARED_STORE_HINT,
                    id="predictor.W002",
                )
            )
    return found
