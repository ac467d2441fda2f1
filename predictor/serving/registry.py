"""The gateway to MLflow: what the app asks of the tracking store and model registry (with
mlflow_store.py, which connects to them, the only code that talks to MLflow).

Everything else deals in plain values (version numbers, run ids, dicts of metrics), so the
serving path and the pipeline never depend on MLflow's object model.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from ml.contract import known_categories
from ml.redact import redact, redact_all
from predictor.serving import allowlist, mlflow_store
from predictor.serving.packaging import pip_requirements, signature_rows, skops_trusted_types

logger = logging.getLogger(__name__)

# The training-data profile (ml/drift/profile.py), an artifact of the model's training run.
PROFILE_ARTIFACT = "drift/profile.json"


class RegistryError(Exception):
    """MLflow could not be reached or does not hold what was asked for."""

    def __init__(self, message: str) -> None:
        # MLflow's errors quote the tracking URI, token and all.
        super().__init__(redact(message))


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def log_model(
    model: Any,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    signature_input: Any,
    input_example: Any,
    run_name: str,
    profile: dict[str, Any] | None = None,
    artifacts: dict[str, bytes] | None = None,
    ignored: list[str] | None = None,
    dates: dict[str, bool] | None = None,
) -> ModelVersionInfo:
    """Log a fitted scikit-learn model with everything needed to trace it, and register it.

    `profile` is its training data's profile, logged before the model is registered so that a
    registered version never lacks the profile it was given. `artifacts` are extra files kept
    beside the model by name (read back with `read_artifact`): the caller decides what they hold,
    so this gateway stays ignorant of the pipeline. `ignored` are the columns of the data that
    are not inputs (ids, exclusions): a client sending a whole record may send them. `dates` are
    the datetime columns the model reads as their parts (with an hour part or not): a client sends the date.
    """
    from mlflow.models import infer_signature

    for name in artifacts or {}:
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise RegistryError(f"an artifact name must be a plain file name, got {name!r}")
    mlflow = mlflow_store.connected()
    signature = infer_signature(signature_rows(signature_input), model.predict(input_example))
    trusted = skops_trusted_types(model)
    try:
        with mlflow.start_run(experiment_id=mlflow_store.experiment_id(), run_name=run_name) as run:
            mlflow.log_params({k: redact(_param_value(v)) for k, v in params.items()})
            mlflow.log_metrics(metrics)
            mlflow.set_tags(redact_all(tags))
            if profile is not None:
                mlflow.log_dict(profile, PROFILE_ARTIFACT)
            for name, content in (artifacts or {}).items():
                _log_bytes(mlflow, name, content)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=input_example,
                registered_model_name=settings.MODEL_NAME,
                skops_trusted_types=trusted,
                pip_requirements=pip_requirements(),
                # Read back by input_schema without loading the model.
                metadata={
                    "known_categories": known_categories(model),
                    "ignored_columns": list(ignored or []),
                    "datetime_columns": dict(dates or {}),
                },
            )
    except Exception as exc:
        raise RegistryError(f"could not log the model to MLflow: {exc}") from exc
    version = str(info.registered_model_version)
    return ModelVersionInfo(
        name=settings.MODEL_NAME,
        version=version,
        run_id=run.info.run_id,
        tags=redact_all(dict(tags)),
        metrics=dict(metrics),
        params={k: redact(_param_value(v)) for k, v in params.items()},
    )


# Where extra artifacts live inside a training run.
_EXTRA = "extra"


def _log_bytes(mlflow: Any, name: str, content: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(_redacted_bytes(content))
        mlflow.log_artifact(str(path), artifact_path=_EXTRA)


def _redacted_bytes(content: bytes) -> bytes:
    """A text artifact (lineage, reports) redacted like every other output; binary left as it is."""
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return content
    return redact(text).encode()


def read_artifact(version: str, name: str) -> bytes | None:
    """An extra artifact logged with a version (`log_model(artifacts=...)`), or None when that
    version was logged without it (an older model, or one registered by hand)."""
    info = model_version(version)
    if not info.run_id:
        return None
    mlflow = mlflow_store.connected()
    try:
        listed = {Path(f.path).name for f in mlflow_store.client().list_artifacts(info.run_id, _EXTRA)}
        if name not in listed:
            return None
        path = mlflow.artifacts.download_artifacts(run_id=info.run_id, artifact_path=f"{_EXTRA}/{name}")
        return Path(path).read_bytes()
    except Exception as exc:
        raise RegistryError(f"could not read {name} of {settings.MODEL_NAME} version {version}: {exc}") from exc


def _param_value(value: Any) -> str:
    return str(value)[:6000]


@dataclass(frozen=True)
class LoadedVersion:
    """A registered version loaded from its artifacts, with what is needed to check input."""

    version: str
    model: Any
    columns: list[dict[str, Any]]
    input_example: Any
    # Data columns that are not inputs, accepted and ignored in a request (logged in the metadata).
    ignored: tuple[str, ...] = ()
    # Datetime columns sent as dates and read as their parts (name: has an hour part).
    dates: dict[str, bool] = field(default_factory=dict)


def import_loaders() -> None:
    """Import what load_version needs (seconds of imports): done once in gunicorn's master, so
    forked workers load a new version in the time the model itself takes."""
    import skops.io  # noqa: F401
    from mlflow.models import Model  # noqa: F401

    mlflow_store.connected()


def load_version(version: str) -> LoadedVersion:
    """Download one registered version once and load the model, its signature and example.

    Every model the app loads (serving, the pipeline's comparison, reproduce) is loaded here, with
    the app's own allowlist of types (predictor/serving/allowlist.py), never with the list of
    trusted types the model file records, nor with code shipped beside it.
    """
    from mlflow.models import Model

    mlflow = mlflow_store.connected()
    uri = f"models:/{settings.MODEL_NAME}/{version}"
    try:
        path = mlflow.artifacts.download_artifacts(artifact_uri=uri)
        meta = Model.load(path)
        if "sklearn" not in meta.flavors:
            raise allowlist.UntrustedModel("it is not a scikit-learn model (no sklearn flavor in its MLmodel file)")
        model = allowlist.load_model(path, meta.flavors["sklearn"])
        example = meta.load_input_example(path)
    except Exception as exc:
        raise RegistryError(f"could not load {settings.MODEL_NAME} version {version}: {exc}") from exc
    ignored = (meta.metadata or {}).get("ignored_columns") or []
    dates = (meta.metadata or {}).get("datetime_columns") or {}
    return LoadedVersion(
        version=str(version),
        model=model,
        columns=_columns(meta),
        input_example=example,
        ignored=tuple(str(name) for name in ignored),
        dates={str(name): bool(timed) for name, timed in dates.items()},
    )


def input_schema(version: str) -> tuple[list[dict[str, Any]], dict[str, list[str]] | None]:
    """A version's input columns and known categories, read from its MLmodel file alone.

    No model is loaded, so a check against the champion's schema costs one small download.
    The categories are None for a version logged without them (one registered by hand).
    """
    from mlflow.models import Model

    mlflow = mlflow_store.connected()
    try:
        path = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{settings.MODEL_NAME}/{version}/MLmodel")
        meta = Model.load(path)
    except Exception as exc:
        raise RegistryError(f"could not read the schema of {settings.MODEL_NAME} version {version}: {exc}") from exc
    categories = (meta.metadata or {}).get("known_categories")
    return _columns(meta), categories if isinstance(categories, dict) else None


def _columns(meta: Any) -> list[dict[str, Any]]:
    if meta.signature is None or meta.signature.inputs is None:
        return []
    return [
        {"name": spec.name, "type": str(spec.type.name), "required": bool(getattr(spec, "required", True))}
        for spec in meta.signature.inputs.inputs
    ]


def profile(version: str) -> dict[str, Any] | None:
    """A version's training-data profile, or None for a version logged without one (older
    versions, one registered by hand). Read from MLflow once per process: a version's artifacts
    never change. Each caller gets its own copy."""
    found = _profile(settings.MLFLOW_TRACKING_URI, settings.MODEL_NAME, str(version))
    return copy.deepcopy(found)


@functools.lru_cache(maxsize=64)
def _profile(tracking_uri: str, name: str, version: str) -> dict[str, Any] | None:
    mlflow, client = mlflow_store.connected(), mlflow_store.client()
    try:
        run_id = client.get_model_version(name, version).run_id
        folder = PROFILE_ARTIFACT.rsplit("/", 1)[0]
        if not run_id or PROFILE_ARTIFACT not in {a.path for a in client.list_artifacts(run_id, folder)}:
            return None
        return mlflow.artifacts.load_dict(f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    except Exception as exc:
        raise RegistryError(f"could not read the profile of {name} version {version}: {exc}") from exc


def model_version(version: str) -> ModelVersionInfo:
    client = mlflow_store.client()
    try:
        mv = client.get_model_version(settings.MODEL_NAME, str(version))
        run = client.get_run(mv.run_id) if mv.run_id else None
    except Exception as exc:
        raise RegistryError(f"could not read {settings.MODEL_NAME} version {version}: {exc}") from exc
    return ModelVersionInfo(
        name=settings.MODEL_NAME,
        version=str(mv.version),
        run_id=mv.run_id or "",
        tags={**(run.data.tags if run else {}), **(mv.tags or {})},
        metrics=dict(run.data.metrics) if run else {},
        params=dict(run.data.params) if run else {},
    )


def registered_at(version: str) -> datetime:
    """When a version was registered, as the model registry recorded it (whoever registered it)."""
    client = mlflow_store.client()
    try:
        mv = client.get_model_version(settings.MODEL_NAME, str(version))
    except Exception as exc:
        raise RegistryError(f"could not read {settings.MODEL_NAME} version {version}: {exc}") from exc
    return datetime.fromtimestamp(int(mv.creation_timestamp) / 1000, tz=UTC)


def champion_version() -> str | None:
    """The version the `champion` alias points at, or None when there is none yet."""
    client = mlflow_store.client()
    try:
        mv = client.get_model_version_by_alias(settings.MODEL_NAME, settings.CHAMPION_ALIAS)
    except Exception as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc) or "not found" in str(exc).lower():
            return None
        raise RegistryError(f"could not read the {settings.CHAMPION_ALIAS} alias: {exc}") from exc
    return str(mv.version)


def set_champion(version: str) -> None:
    client = mlflow_store.client()
    try:
        client.set_registered_model_alias(settings.MODEL_NAME, settings.CHAMPION_ALIAS, str(version))
    except Exception as exc:
        raise RegistryError(f"could not move the {settings.CHAMPION_ALIAS} alias to {version}: {exc}") from exc


def tag_version(version: str, key: str, value: str) -> None:
    client = mlflow_store.client()
    try:
        client.set_model_version_tag(settings.MODEL_NAME, str(version), key, redact(value)[:5000])
    except Exception as exc:
        raise RegistryError(f"could not tag version {version}: {exc}") from exc


def run_url(run_id: str) -> str:
    base = settings.MLFLOW_UI_URL.rstrip("/")
    return f"{base}/#/experiments/{mlflow_store.experiment_id()}/runs/{run_id}" if base and run_id else ""


def version_url(version: str) -> str:
    base = settings.MLFLOW_UI_URL.rstrip("/")
    return f"{base}/#/models/{settings.MODEL_NAME}/versions/{version}" if base else ""


def annotate_run(run_id: str, *, tags: dict[str, str], metrics: dict[str, float]) -> None:
    """Add what was learnt after logging (the comparison, the decision, timings) to a training run."""
    from mlflow.entities import Metric, RunTag

    client = mlflow_store.client()
    now = int(time.time() * 1000)
    try:
        client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
            tags=[RunTag(k, redact(str(v))[:5000]) for k, v in tags.items()],
        )
    except Exception as exc:
        raise RegistryError(f"could not annotate MLflow run {run_id}: {exc}") from exc
