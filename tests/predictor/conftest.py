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

from demo.batches import demo_frame
from ml.features import prepare_features
from predictor import services
from predictor.api import apikeys
from predictor.models import Deployment
from predictor.serving import registry
from predictor.serving.holder import holder, served_model
from tests.support.serving import log_penguins_model


@dataclass(frozen=True)
class Versions:
    name: str
    first: registry.LoadedVersion
    second: registry.LoadedVersion
    frame: pd.DataFrame


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
    """The in-process holder emptied, and no follower thread (the root conftest's served_model)."""


@pytest.fixture
def served(db, settings, penguin_versions, follower_off) -> Deployment:
    """Version one deployed and served in this process (from memory: no reload per test)."""
    settings.MODEL_NAME = penguin_versions.name
    deployment = services.deploy(penguin_versions.first.version, source=Deployment.Source.BOOTSTRAP)
    row = {"id": deployment.pk, "model_name": deployment.model_name, "run_id": deployment.run_id}
    holder().serve(served_model(row, penguin_versions.first))
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


@pytest.fixture
def keys_required(settings):
    """API keys required on the prediction API, with nothing this process remembers of keys."""
    settings.API_KEYS_REQUIRED = True
    apikeys.forget()
    yield
    apikeys.forget()
