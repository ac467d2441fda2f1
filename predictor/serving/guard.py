"""What every serving process checks besides the newest deployment (predictor/serving/follower.py): the
registry alias, and whether a freshly deployed version is failing in serving.

Both may be noticed by many processes at once; services.record_registry_move and
services.auto_rollback make the database decide, so exactly one Deployment row is written.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from predictor import services
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import ModelHolder

logger = logging.getLogger(__name__)


# The alias/deployment disagreement seen at the previous check of this process.
_disagreement: dict[str, tuple[str, int | None]] = {}


def record_alias_move() -> Deployment | None:
    """A person moved the `champion` alias in MLflow: record it so every process follows.

    A disagreement is acted on when two checks in a row see the same one: a deployment moves
    the alias an instant before its row is committed, and a read of the registry may be a
    moment stale; neither is a move by hand.
    """
    try:
        version = registry.champion_version()
    except registry.RegistryError as exc:
        logger.warning("serving: could not read the champion alias: %s", exc)
        return None
    newest = services.active_deployment()
    if version is None or (newest is not None and newest.version == version):
        _disagreement.pop("alias", None)
        return None
    seen = (version, newest.pk if newest else None)
    if _disagreement.get("alias") != seen:
        _disagreement["alias"] = seen
        return None
    _disagreement.pop("alias", None)
    return services.record_registry_move(version)


def rollback_if_failing(models: ModelHolder) -> Deployment | None:
    """Restore the previous deployment when the one inside its bake window fails in serving."""
    newest = services.active_deployment()
    if newest is None or newest.previous_id is None:
        return None
    if newest.created_at < timezone.now() - timedelta(seconds=settings.ROLLBACK_BAKE_WINDOW):
        return None
    reason = failure_reason(models, newest)
    if not reason:
        return None
    return services.auto_rollback(newest, reason)


def failure_reason(models: ModelHolder, newest: Deployment) -> str:
    if models.failed_deployment_id == newest.pk:
        return f"serving process {models.process_name} could not load it: {models.error}"
    served = models.current
    if served is None or served.deployment_id != newest.pk:
        return ""
    counters = served.counters
    if counters.predictions < settings.ROLLBACK_MIN_REQUESTS:
        return ""
    share = counters.failures / counters.predictions
    if share < settings.ROLLBACK_FAILURE_SHARE:
        return ""
    return (
        f"{counters.failures} of {counters.predictions} prediction requests failed in serving process "
        f"{models.process_name} ({share:.0%}, threshold {settings.ROLLBACK_FAILURE_SHARE:.0%})"
    )
