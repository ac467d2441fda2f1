"""Registered versions for serving tests (good, faulty, broken) and waiting for workers to follow."""

import time

import pandas as pd

from ml.estimators import train
from ml.features import prepare_features
from predictor import services
from predictor.models import Deployment, ServingProcess
from predictor.serving import registry

# Generous: a worker polls every 0.5 s and loads a version in about a second on an idle machine.
SWITCH_BOUND = 20.0
# The first version a fresh server loads also pays for its caches.
FIRST_BOUND = 90.0


def log_penguins_model(frame: pd.DataFrame, params: dict, *, model=None) -> str:
    model = model if model is not None else train(frame, "species", "random_forest", params, 42)
    features = prepare_features(frame, "species")
    return registry.log_model(
        model,
        params=params,
        metrics={"accuracy": 0.9},
        tags={"data.md5": "abc123", "data.rev": "r1"},
        signature_input=features,
        input_example=features.head(5),
        run_name="test",
    ).version


def log_faulty_version(frame: pd.DataFrame, step) -> str:
    """A version that loads, with `step` run before the real classifier on every prediction."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = train(frame, "species", "random_forest", {"n_estimators": 5}, 42)
    wrapped = Pipeline([("guard", FunctionTransformer(step)), ("model", model)])
    return log_penguins_model(frame, {"faulty": step.__name__}, model=wrapped)


def register_broken_version(tmp_path) -> str:
    """A registered version whose artifacts cannot be loaded (a corrupted MLmodel file)."""
    from django.conf import settings
    from mlflow import MlflowClient

    folder = tmp_path / "broken-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("this: [is not: a model")
    client = MlflowClient(settings.MLFLOW_TRACKING_URI, settings.MLFLOW_REGISTRY_URI)
    return str(client.create_model_version(settings.MODEL_NAME, source=folder.as_uri()).version)


def deploy(version: str, source=Deployment.Source.PIPELINE) -> Deployment:
    return services.deploy(version, source=source, reason="test")


def wait_all_workers_on(server, version: str, bound: float = SWITCH_BOUND) -> float:
    """Seconds until every worker reports serving `version`."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        names = server.worker_names()
        served = dict(ServingProcess.objects.filter(name__in=names).values_list("name", "version"))
        if len(names) >= 2 and set(served) == names and set(served.values()) == {version}:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not every worker serves v{version} after {bound}s: {served}")


MODEL_SCORES = {"accuracy": 0.97, "precision": 0.96, "recall": 0.95, "f1": 0.955, "roc_auc": 0.99}
# What the pipeline adds to a training run after logging it: timings, the champion's scores, tests.
BOOKKEEPING = {
    "seconds_check": 0.02,
    "seconds_train": 1.4,
    "champion_accuracy": 0.91,
    "previous_champion_accuracy": 0.9,
    "mcnemar_p_value": 0.03,
    "rows_train": 206.0,
    "rows_holdout": 69.0,
}


def log_annotated_version(frame: pd.DataFrame) -> str:
    """A version logged as the pipeline logs one: its scores, then the run's bookkeeping."""
    model = train(frame, "species", "random_forest", {"n_estimators": 5}, 42)
    features = prepare_features(frame, "species")
    logged = registry.log_model(
        model,
        params={"n_estimators": 5},
        metrics={**MODEL_SCORES, "rows_train": 206, "rows_holdout": 69},
        tags={"data.md5": "abc123"},
        signature_input=features,
        input_example=features.head(5),
        run_name="test",
    )
    registry.annotate_run(logged.run_id, tags={"decision.rule": "min_improvement"}, metrics=BOOKKEEPING)
    return logged.version
