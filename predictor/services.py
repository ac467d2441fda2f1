"""Changing what is served: the only way a Deployment row is written.

The alias is moved first, then the row is written: if MLflow refuses, nothing changes; serving
processes follow the row, so they only switch once both are done.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from predictor import registry
from predictor.models import Deployment


def active_deployment() -> Deployment | None:
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
    if move_alias:
        registry.set_champion(version)
    with transaction.atomic():
        previous = Deployment.objects.select_for_update().order_by("-id").first()
        return Deployment.objects.create(
            model_name=settings.MODEL_NAME,
            version=str(version),
            run_id=run_id,
            source=source,
            reason=reason,
            created_by=user if user is not None and user.is_authenticated else None,
            metrics=metrics or {},
            data_version=data_version or {},
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
