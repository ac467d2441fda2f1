"""The data settings checked when a process starts (system checks): a source named in the wrong
setting is said at once, not at the next run's check step."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from ml.redact import redact
from retraining.data.vcs import DATABASE_URL_IN_REGISTRY, is_database_url


@checks.register()
def check_data_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A database URL given as the data registry: git would fail on it at every run as if the
    registry were down."""
    registry = str(settings.DATA_REGISTRY)
    if is_database_url(registry):
        return [checks.Error(DATABASE_URL_IN_REGISTRY.format(url=redact(registry)), id="retraining.E006")]
    return []
