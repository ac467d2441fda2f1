"""The pipeline's resources: everything a step reaches outside its own arguments.

A step is handed a `Resources` and talks to the data source, the model registry, the deployments,
the run history and the notifier only through it. `real_resources()` wires them to DVC, MLflow, the
database and Slack/email; tests hand the same steps in-memory ones (tests/support/in_memory.py).
"""

import itertools
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import pandas as pd
from django.conf import settings
from django.utils import timezone

from ml.contract import known_categories
from ml.redact import redact
from predictor import services
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import warm_up
from retraining import data
from retraining.data import DatasetVersion
from retraining.models import RetrainingRun, TriggerSettings
from retraining.notify import channels
from retraining.pipeline.feedback import publish_feedback
from retraining.pipeline.state import Champion, Schema
from retraining.runs import store

logger = logging.getLogger(__name__)

# (the setup's fingerprint, the policy): what makes two runs on the same data the same run.
Setup = tuple[str, dict[str, Any]]
# (run id, status) of an earlier run that judged the same data.
Judged = tuple[int, str]


class Source(Protocol):
    def version(self) -> DatasetVersion: ...

    def pull(self, version: DatasetVersion) -> pd.DataFrame: ...

    def published(self, version: DatasetVersion, until: datetime) -> list[DatasetVersion] | None:
        """The versions published at or before `until` in `version`'s history; None when the
        source keeps no history of publication."""
        ...


class Models(Protocol):
    """The model registry (MLflow)."""

    def log_model(self, model: Any, **details: Any) -> registry.ModelVersionInfo: ...

    def schema(self, version: str) -> Schema: ...

    def profile(self, version: str) -> dict[str, Any] | None: ...

    def load(self, version: str) -> Any: ...

    def check_serves(self, version: str) -> None: ...

    def tag(self, version: str, key: str, value: str) -> None: ...

    def annotate(self, run_id: str, tags: dict[str, str], metrics: dict[str, float]) -> None: ...

    def artifact(self, version: str, name: str) -> bytes | None: ...

    def registered_at(self, version: str) -> datetime: ...


class Deployments(Protocol):
    def champion(self) -> Champion | None: ...

    def previous(self, champion: Champion) -> Champion | None: ...

    def deploy(self, version: str, **record: Any) -> int: ...

    def recently_replaced(self, within: timedelta) -> set[str]: ...


class History(Protocol):
    def already_decided(
        self, run_id: int, setup: Setup, version: DatasetVersion, champion: Champion
    ) -> Judged | None: ...


class Notifier(Protocol):
    def notify(self, run_id: int) -> dict[str, Any]: ...


class Feedback(Protocol):
    def publish(self) -> dict[str, Any] | None:
        """Publishes labelled predictions as the next data version when the settings allow it and
        enough are new: what was published (rows, sources, period); else None."""
        ...


@dataclass(frozen=True)
class Resources:
    source: Source
    models: Models
    deployments: Deployments
    history: History
    notifier: Notifier
    # None: runs never publish feedback (a registry of someone else's, tests of other steps).
    feedback: Feedback | None = None


class MlflowModels:
    def log_model(self, model: Any, **details: Any) -> registry.ModelVersionInfo:
        return registry.log_model(model, **details)

    def schema(self, version: str) -> Schema:
        columns, categories = registry.input_schema(version)
        if categories is None:  # logged without them: read them from the model itself
            categories = known_categories(registry.load_version(version).model)
        return Schema(columns=columns, categories=categories)

    def profile(self, version: str) -> dict[str, Any] | None:
        return registry.profile(version)

    def load(self, version: str) -> Any:
        return registry.load_version(version).model

    def check_serves(self, version: str) -> None:
        """Load and warm the version as a serving process will: what fails here is never deployed."""
        loaded = registry.load_version(version)
        warm_up(loaded.model, loaded.input_example)

    def tag(self, version: str, key: str, value: str) -> None:
        registry.tag_version(version, key, value)

    def annotate(self, run_id: str, tags: dict[str, str], metrics: dict[str, float]) -> None:
        registry.annotate_run(run_id, tags=tags, metrics=metrics)

    def artifact(self, version: str, name: str) -> bytes | None:
        return registry.read_artifact(version, name)

    def registered_at(self, version: str) -> datetime:
        return registry.registered_at(version)


def _champion(row: Deployment) -> Champion:
    return Champion(
        deployment_id=row.pk,
        version=row.version,
        run_id=row.run_id,
        metrics=row.metrics,
        data_version=row.data_version,
        created_at=row.created_at,
    )


class DatabaseDeployments:
    def champion(self) -> Champion | None:
        row = services.active_deployment()
        return _champion(row) if row is not None else None

    def previous(self, champion: Champion) -> Champion | None:
        """The champion served before this one (a redeployment of the same version does not count)."""
        row = Deployment.objects.get(pk=champion.deployment_id).previous
        while row is not None and row.version == champion.version:
            row = row.previous
        return _champion(row) if row is not None else None

    def deploy(self, version: str, **record: Any) -> int:
        return services.deploy(version, **record).pk

    def recently_replaced(self, within: timedelta) -> set[str]:
        """Versions that stopped being served (replaced, or rolled away from) within `within`."""
        since = timezone.now() - within
        served = list(Deployment.objects.filter(created_at__gte=since).order_by("created_at", "pk"))
        before = Deployment.objects.filter(created_at__lt=since).order_by("-created_at", "-pk").first()
        versions = [row.version for row in ([before] if before else []) + served]
        return {old for old, new in itertools.pairwise(versions) if old != new}


class DatabaseHistory:
    def already_decided(self, run_id: int, setup: Setup, version: DatasetVersion, champion: Champion) -> Judged | None:
        earlier = store.already_decided(run_id, setup, version, champion.version, champion.created_at)
        return (earlier.pk, earlier.status) if earlier is not None else None


class RunNotifier:
    def notify(self, run_id: int) -> dict[str, Any]:
        return channels.notify(RetrainingRun.objects.get(pk=run_id))


class PublishedFeedback:
    """Keyed feedback published by a run, when the trigger settings switched it on."""

    def publish(self) -> dict[str, Any] | None:
        triggers = TriggerSettings.current()
        # Checked here as well as in the form: the setting may outlive a change of FEEDBACK_REQUIRES_KEY.
        if not triggers.publish_feedback or not settings.FEEDBACK_REQUIRES_KEY:
            return None
        publication = publish_feedback(minimum=triggers.feedback_min_labels)
        if publication is None:
            return None
        return {"file": publication.file, **publication.provenance.summary()}


def real_resources(source: Source | None = None) -> Resources:
    return Resources(
        source=source or data.source_from_settings(),
        models=MlflowModels(),
        deployments=DatabaseDeployments(),
        history=DatabaseHistory(),
        notifier=RunNotifier(),
        feedback=PublishedFeedback(),
    )


def trace_in_mlflow(run: RetrainingRun, models: Models) -> None:
    """The decision and the timings, next to the model they concern, so MLflow alone explains it."""
    if not run.mlflow_run_id:
        return
    metrics = {f"champion_{k}": v for k, v in run.champion_metrics.items()}
    metrics |= {f"previous_champion_{k}": v for k, v in run.previous_champion_metrics.items()}
    metrics |= {f"seconds_{s['name']}": s.get("duration", 0.0) for s in run.steps}
    if run.p_value is not None:
        metrics["p_value"] = run.p_value
    tags = {
        "retraining.status": run.status,
        "retraining.rule": run.decision_rule,
        "retraining.reasons": "; ".join(run.reasons),
        "retraining.champion_version": run.champion_version or "-",
        "retraining.policy": json.dumps(run.policy, sort_keys=True),
    }
    try:
        models.annotate(run.mlflow_run_id, tags, metrics)
    except registry.RegistryError as exc:
        logger.warning("run #%s: %s", run.pk, exc)


def unreachable(exc: BaseException) -> str:
    """What did not answer, for the run's row: the data remote, or MLflow and where it was sought."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, data.DataUnavailable):
            return f"the data registry or its DVC remote unreachable ({seen})"
        if isinstance(seen, registry.RegistryError) or type(seen).__module__.startswith("mlflow"):
            return f"MLflow unreachable at {redact(settings.MLFLOW_TRACKING_URI)}"
        seen = seen.__cause__ or seen.__context__
    return f"a service unreachable ({type(exc).__name__})"


def transient(exc: BaseException) -> bool:
    """A fault that may go away by itself: a service that did not answer, not bad data or code."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, data.DataUnavailable | ConnectionError | TimeoutError):
            return True
        text = str(seen)
        if any(sign in text for sign in _UNREACHABLE):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# How MLflow's REST client and the requests/urllib3 stack say a server did not answer.
_UNREACHABLE = ("Max retries exceeded", "Connection refused", "TEMPORARILY_UNAVAILABLE", "timed out")
