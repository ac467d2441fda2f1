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


_SOURCE_SETTINGS = ("DATA_TABLE", "DATA_QUERY", "DATA_WATERMARK_COLUMN")


@checks.register()
def check_sql_source_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A database source needs its URL, one of a table or a query, a watermark column and a
    Parquet path in the registry; each setting that is missing, doubled or left over is named."""
    url = str(settings.DATA_SOURCE_URL)
    if not url:
        stray = [name for name in _SOURCE_SETTINGS if getattr(settings, name)]
        if not stray:
            return []
        return [_error(f"{', '.join(stray)} set without DATA_SOURCE_URL: they name rows of a database nobody gave")]
    found = []
    if not is_database_url(url):
        found.append(_error(f"DATA_SOURCE_URL={redact(url)!r} is not a database URL (postgresql://, sqlite:///, ...)"))
    if bool(settings.DATA_TABLE) == bool(settings.DATA_QUERY):
        said = "both DATA_TABLE and DATA_QUERY are set" if settings.DATA_TABLE else "neither DATA_TABLE nor DATA_QUERY"
        found.append(_error(f"DATA_SOURCE_URL is set with {said}: set exactly one, the rows to train on"))
    if not settings.DATA_WATERMARK_COLUMN:
        found.append(
            _error(
                "DATA_SOURCE_URL is set without DATA_WATERMARK_COLUMN: name a column that grows with new rows "
                "(an updated_at or an increasing id), so a check costs one small query"
            )
        )
    if not str(settings.DATA_PATH).lower().endswith((".parquet", ".pq")):
        found.append(
            _error(f"DATA_PATH={settings.DATA_PATH!r}: a database is snapshotted as Parquet (data/NAME.parquet)")
        )
    return found


def _error(message: str) -> checks.CheckMessage:
    return checks.Error(message, id="retraining.E007")
