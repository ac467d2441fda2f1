"""A throwaway world for a bench that runs the product in its own process: a temporary folder
holding VAR_DIR (SQLite database, MLflow store, broker folders) and the data registry and its
remote, none of the caller's connection settings, Django set up and migrated."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Settings that would point the bench at a real service instead of its own files.
_OUTSIDE = ("DATABASE_URL", "REDIS_URL", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "SLACK_WEBHOOK_URL")


def isolated_django(prefix: str, **settings: str) -> Path:
    """Set the environment for a fresh world under a new temporary folder, with `settings` on top,
    then set Django up and migrate. Returns the folder (registry at ./registry, remote at ./remote)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        VAR_DIR=str(work / "var"),
        DJANGO_SETTINGS_MODULE="config.settings",
        DATA_REGISTRY=str(work / "registry"),
        DATA_REMOTE=str(work / "remote"),
        **settings,
    )
    for name in _OUTSIDE:
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return work
