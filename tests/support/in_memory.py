"""The pipeline's resources in memory, in the spirit of Kedro's MemoryDataset: the same steps run
against lists and dicts, so a whole run is tested without git, DVC, MLflow or a mail server."""

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from django.utils import timezone

from ml.contract import known_categories
from ml.gate.policy import DEFAULT_POLICY
from predictor.serving.registry import ModelVersionInfo
from retraining.data import DatasetVersion
from retraining.pipeline import flow
from retraining.pipeline.resources import Judged, Resources, Setup
from retraining.pipeline.state import Champion, RunState, Schema
from retraining.runs.setup import TrainingSetup

_TYPES = {"f": "double", "i": "long", "b": "boolean"}


class MemorySource:
    """Datasets by assignment: `source.frame = ...` is publishing a new version, at that moment."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.history: list[tuple[datetime, DatasetVersion, pd.DataFrame]] = []
        self.frame = frame

    @property
    def frame(self) -> pd.DataFrame:
        return self.history[-1][2]

    @frame.setter
    def frame(self, frame: pd.DataFrame) -> None:
        content = frame.to_csv(index=False).encode()
        md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
        version = DatasetVersion(source="memory", path="", rev="", md5=md5, size=len(content))
        self.history.append((timezone.now(), version, frame))

    def version(self) -> DatasetVersion:
        return self.history[-1][1]

    def pull(self, version: DatasetVersion) -> pd.DataFrame:
        return next(frame for _, known, frame in reversed(self.history) if known == version).copy()

    def published(self, version: DatasetVersion, until: datetime) -> list[DatasetVersion] | None:
        return list({known.md5: known for at, known, _ in self.history if at <= until}.values())


@dataclass
class MemoryModels:
    models: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    annotations: dict[str, dict[str, Any]] = field(default_factory=dict)
    loaded: list[str] = field(default_factory=list)
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)
    registered: dict[str, datetime] = field(default_factory=dict)

    def log_model(self, model: Any, **details: Any) -> ModelVersionInfo:
        version = str(len(self.models) + 1)
        self.models[version] = model
        features = details["signature_input"]
        self.columns[version] = [
            {"name": str(name), "type": _TYPES.get(dtype.kind, "string")} for name, dtype in features.dtypes.items()
        ]
        self.tags[version] = dict(details["tags"])
        self.profiles[version] = details.get("profile")
        self.artifacts[version] = dict(details.get("artifacts") or {})
        self.registered[version] = timezone.now()
        return ModelVersionInfo(name="memory", version=version, run_id=f"run-of-v{version}", tags=details["tags"])

    def schema(self, version: str) -> Schema:
        return Schema(columns=self.columns[version], categories=known_categories(self.models[version]))

    def profile(self, version: str) -> dict[str, Any] | None:
        return self.profiles[version]

    def load(self, version: str) -> Any:
        self.loaded.append(version)
        return self.models[version]

    def check_serves(self, version: str) -> None:
        assert version in self.models

    def tag(self, version: str, key: str, value: str) -> None:
        self.tags[version][key] = value

    def annotate(self, run_id: str, tags: dict[str, str], metrics: dict[str, float]) -> None:
        self.annotations[run_id] = {"tags": tags, "metrics": metrics}

    def artifact(self, version: str, name: str) -> bytes | None:
        return self.artifacts.get(version, {}).get(name)

    def registered_at(self, version: str) -> datetime:
        return self.registered[version]


@dataclass
class MemoryDeployments:
    served: list[Champion] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def champion(self) -> Champion | None:
        return self.served[-1] if self.served else None

    def previous(self, champion: Champion) -> Champion | None:
        earlier = [c for c in self.served if c.deployment_id < champion.deployment_id and c.version != champion.version]
        return earlier[-1] if earlier else None

    def deploy(self, version: str, **record: Any) -> int:
        deployment_id = len(self.served) + 1
        self.served.append(
            Champion(
                deployment_id=deployment_id,
                version=version,
                created_at=timezone.now(),
                run_id=record.get("run_id", ""),
                metrics=record.get("metrics") or {},
                data_version=record.get("data_version") or {},
            )
        )
        self.sources.append(record["source"])
        return deployment_id

    def recently_replaced(self, within: timedelta) -> set[str]:
        since = timezone.now() - within
        versions = [
            c.version
            for i, c in enumerate(self.served)
            if c.created_at >= since or (i + 1 < len(self.served) and self.served[i + 1].created_at >= since)
        ]
        return {old for old, new in itertools.pairwise(versions) if old != new}


class NoHistory:
    def already_decided(self, run_id: int, setup: Setup, version: DatasetVersion, champion: Champion) -> Judged | None:
        return None


@dataclass
class MemoryNotifier:
    notified: list[int] = field(default_factory=list)

    def notify(self, run_id: int) -> dict[str, Any]:
        self.notified.append(run_id)
        return {"memory": "sent"}


def memory_resources(frame: pd.DataFrame) -> Resources:
    return Resources(
        source=MemorySource(frame),
        models=MemoryModels(),
        deployments=MemoryDeployments(),
        history=NoHistory(),
        notifier=MemoryNotifier(),
    )


class StepLog:
    """Records (step, outcome) in a list where the real recorder writes the run row."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str]] = []

    def step(self, name: str, work: Callable[[RunState], RunState], state: RunState) -> RunState:
        ended_before = state.ended_early
        try:
            state = work(state)
        except Exception:
            self.steps.append((name, "failed"))
            raise
        self.steps.append((name, "stopped" if state.ended_early and not ended_before else "done"))
        return state


_run_ids = itertools.count(1000)


def run_in_memory(
    resources: Resources,
    params: dict[str, Any],
    log: "StepLog | None" = None,
    trigger: str = "cli",
    evidence: dict[str, Any] | None = None,
    **policy: Any,
) -> RunState:
    """One run as `pipeline.execute` sequences it (closing included), over these resources, minus the run row.
    `log`, if given, collects each step's name and outcome; `evidence` is a monitoring trigger's."""
    setup = replace(TrainingSetup.from_settings({**DEFAULT_POLICY, **policy}), estimator="random_forest", params=params)
    state = RunState(run_id=next(_run_ids), trigger=trigger, evidence=evidence or {}, user=None, setup=setup)
    log = log if log is not None else StepLog()
    state = flow.run(state, resources, log, after_close=False)
    return flow.run(state, resources, log, after_close=True)
