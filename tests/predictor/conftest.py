"""Two registered versions of the penguins model, trained once per test session.

Training through the whole pipeline takes half a minute; the API tests only need a served
model, so both versions are trained here with the pipeline's own training step and logged with
registry.log_model, and each test serves them from memory without reloading.
"""

import uuid
from dataclasses import dataclass

import pandas as pd
import pytest
from django.test import override_settings

from predictor import registry, services
from predictor.models import Deployment
from predictor.serving import holder, served_model
from retraining.demo import demo_frame
from retraining.steps.train import prepare_features, train


@dataclass(frozen=True)
class Versions:
    name: str
    first: registry.LoadedVersion
    second: registry.LoadedVersion
    frame: pd.DataFrame


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


@pytest.fixture(scope="session")
def penguin_versions() -> Versions:
    frame = demo_frame(1, "penguins")
    name = f"test-serving-{uuid.uuid4().hex[:8]}"
    with override_settings(MODEL_NAME=name):
        first = log_penguins_model(frame, {"n_estimators": 30})
        second = log_penguins_model(frame, {"n_estimators": 5, "max_depth": 2})
        return Versions(name, registry.load_version(first), registry.load_version(second), frame)


@pytest.fixture
def follower_off(served_model: None) -> None:
    """The in-process holder emptied and its follower thread off (the root conftest's served_model)."""


@pytest.fixture
def served(db, settings, penguin_versions, follower_off) -> Deployment:
    """Version one deployed and served in this process (from memory: no reload per test)."""
    settings.MODEL_NAME = penguin_versions.name
    deployment = services.deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP)
    row = {"id": deployment.pk, "model_name": deployment.model_name, "run_id": deployment.run_id}
    holder().current = served_model(row, penguin_versions.first)
    return deployment


@pytest.fixture
def rows(penguin_versions) -> list[dict]:
    """Three valid rows as a client would send them (nulls where the data has gaps)."""
    features = prepare_features(penguin_versions.frame, "species").head(3)
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in features.to_dict("records")]


@pytest.fixture
def plain_static(settings) -> None:
    """Production serves collected, hashed static files; pages rendered in tests read them from the apps."""
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    settings.STORAGES = {**settings.STORAGES, "staticfiles": plain}


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


def log_annotated_version(frame) -> str:
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
