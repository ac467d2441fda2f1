"""Changing what is served: the only way a Deployment row is written.

The alias is moved first, then the row is written: if MLflow refuses, nothing changes; serving
processes follow the row, so they only switch once both are done. Both happen while the newest
row is locked, so a process that checks the alias at that moment waits instead of mistaking a
deployment in progress for a hand-made alias move.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from ml.redact import redact, redact_all
from ml.task import ALL_METRICS
from predictor.models import Deployment
from predictor.serving import registry
from predictor.signals import deployment_rolled_back


def active_deployment() -> Deployment | None:
    return Deployment.objects.order_by("-id").first()


def _lock_newest() -> Deployment | None:
    """Lock the newest row, then read the newest again: another writer may have added one
    while this transaction waited for the lock (PostgreSQL re-reads only the locked row)."""
    list(Deployment.objects.select_for_update().order_by("-id")[:1])
    return Deployment.objects.order_by("-id").first()


def deploy(
    version: str,
    *,
    source: str,
    reason: str = "",
    user: AbstractBaseUser | None = None,
    run_id: str = "",
    metrics: dict[str, Any] | None = None,
    data_version: dict[str, Any] | None = None,
    move_alias: bool = True,
) -> Deployment:
    """Make `version` the champion: move the MLflow alias and record the deployment."""
    with transaction.atomic():
        previous = _lock_newest()
        if move_alias:
            registry.set_champion(version)
        return _create(
            version,
            previous=previous,
            source=source,
            reason=reason,
            user=user,
            run_id=run_id,
            metrics=metrics,
            data_version=data_version,
        )


def _create(
    version: str,
    *,
    previous: Deployment | None,
    source: str,
    reason: str,
    user: AbstractBaseUser | None = None,
    run_id: str = "",
    metrics: dict[str, Any] | None = None,
    data_version: dict[str, Any] | None = None,
) -> Deployment:
    return Deployment.objects.create(
        model_name=settings.MODEL_NAME,
        version=str(version),
        run_id=run_id,
        source=source,
        # Shown by the anonymous model endpoint: whatever it quotes (a data source, a serving
        # error) has its credentials masked.
        reason=redact(reason),
        created_by=user if user is not None and user.is_authenticated else None,
        metrics=metrics or {},
        data_version=redact_all(data_version or {}),
        previous=previous,
    )


def rollback_to(deployment: Deployment, *, user: AbstractBaseUser | None, reason: str = "") -> Deployment:
    """Serve an earlier deployment's version again, recorded as a new deployment."""
    return deploy(
        deployment.version,
        source=Deployment.Source.ROLLBACK,
        reason=reason or f"rolled back to version {deployment.version} (deployment #{deployment.pk})",
        user=user,
        run_id=deployment.run_id,
        metrics=deployment.metrics,
        data_version=deployment.data_version,
    )


def auto_rollback(failing: Deployment, reason: str) -> Deployment | None:
    """Restore what `failing` replaced, once: None when another process already acted.

    Every serving process may see the failure at the same moment; only the one that finds
    `failing` still newest under the lock writes the rollback.
    """
    with transaction.atomic():
        newest = _lock_newest()
        if newest is None or newest.pk != failing.pk or failing.previous_id is None:
            return None
        target = Deployment.objects.get(pk=failing.previous_id)
        registry.set_champion(target.version)
        rolled_back = _create(
            target.version,
            previous=newest,
            source=Deployment.Source.AUTO_ROLLBACK,
            reason=f"version {failing.version} failed in serving: {reason}; restored version {target.version}",
            run_id=target.run_id,
            metrics=target.metrics,
            data_version=target.data_version,
        )
    deployment_rolled_back.send(sender=Deployment, deployment=rolled_back, failed=failing, reason=reason)
    return rolled_back


def record_registry_move(version: str) -> Deployment | None:
    """Record the alias moved by hand to `version`, once: None when it is already recorded."""
    with transaction.atomic():
        newest = _lock_newest()
        if registry.champion_version() != version or (newest is not None and newest.version == version):
            return None
        if _names_the_rolled_back_version(newest, version):
            # The alias still names the version just rolled back: the rollback's alias move was
            # lost, not a person's choice. Serving it again would fail the same way.
            registry.set_champion(newest.version)
            return None
        info = registry.model_version(version)
        data_version = {key.removeprefix("data."): value for key, value in info.tags.items() if key.startswith("data.")}
        # Only the model's own holdout scores: the MLflow run also carries the pipeline's
        # bookkeeping (step timings, the champion's scores, test statistics).
        metrics = {k: v for k, v in info.metrics.items() if k in ALL_METRICS}
        return _create(
            version,
            previous=newest,
            source=Deployment.Source.REGISTRY,
            reason=f"the {settings.CHAMPION_ALIAS} alias was moved to version {version} in MLflow",
            run_id=info.run_id,
            metrics=metrics,
            data_version=data_version,
        )


def _names_the_rolled_back_version(newest: Deployment | None, version: str) -> bool:
    if newest is None or newest.source != Deployment.Source.AUTO_ROLLBACK or newest.previous_id is None:
        return False
    return Deployment.objects.filter(pk=newest.previous_id, version=version).exists()
