"""A model loads with the app's own allowlist of types: scikit-learn's, and those the settings
name. The list of trusted types a model file records is ignored: a version registered by hand
with a type of its own listed as trusted is refused, naming the type, and the champion stays."""

import re
from pathlib import Path

import numpy as np
import pytest
import skops.io
import yaml
from django.conf import settings as django_settings

from demo.batches import demo_frame
from ml.estimators import ESTIMATORS, train
from ml.features import prepare_features
from predictor.models import Deployment
from predictor.serving import allowlist, mlflow_store, registry
from predictor.serving.follower import follower
from predictor.serving.holder import holder
from tests.support.models import log_plain
from tests.support.team_types import TYPE, clipped_model


@pytest.fixture(scope="module")
def penguins():
    return demo_frame(1, "penguins")


def register_by_hand(model, features, **options) -> str:
    """What a person does without the app: mlflow.sklearn.log_model, the model's own types
    listed as trusted in its file, registered under the app's model name."""
    import mlflow

    mlflow_store.connected()
    with mlflow.start_run(experiment_id=mlflow_store.experiment_id(), run_name="by hand"):
        trusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=features.head(2),
            registered_model_name=django_settings.MODEL_NAME,
            skops_trusted_types=trusted,
            **options,
        )
    return str(info.registered_model_version)


def register_clipped(frame) -> str:
    return register_by_hand(clipped_model(frame, "species"), prepare_features(frame, "species"))


def recorded_trust(version: str, tmp_path: Path) -> list[str]:
    import mlflow

    folder = mlflow.artifacts.download_artifacts(f"models:/{django_settings.MODEL_NAME}/{version}", dst_path=tmp_path)
    return yaml.safe_load((Path(folder) / "MLmodel").read_text())["flavors"]["sklearn"]["skops_trusted_types"]


def test_a_model_whose_file_trusts_a_type_of_its_own_is_refused_naming_the_type(model_name, penguins, tmp_path):
    version = register_clipped(penguins)
    assert TYPE in recorded_trust(version, tmp_path)

    with pytest.raises(registry.RegistryError) as refused:
        registry.load_version(version)

    assert f"could not load {model_name} version {version}" in str(refused.value)
    assert f"not trusted by this app: {TYPE}" in str(refused.value)
    assert "MODEL_TRUSTED_TYPES" in str(refused.value)


@pytest.mark.parametrize("trusted", [TYPE, "tests.support.team_types", "tests"], ids=["type", "module", "package"])
def test_a_type_named_in_model_trusted_types_loads(model_name, penguins, settings, trusted):
    model = clipped_model(penguins, "species")
    features = prepare_features(penguins, "species")
    version = register_by_hand(model, features)
    settings.MODEL_TRUSTED_TYPES = ["some.other.package", trusted]

    loaded = registry.load_version(version).model

    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_a_name_that_only_begins_like_a_trusted_module_is_not_trusted(model_name, penguins, settings):
    version = register_clipped(penguins)
    settings.MODEL_TRUSTED_TYPES = ["tests.support.team"]

    with pytest.raises(registry.RegistryError, match=f"not trusted by this app: {TYPE}"):
        registry.load_version(version)


def test_the_types_of_the_training_pipelines_package_are_trusted(model_name, penguins, settings):
    model = clipped_model(penguins, "species")
    features = prepare_features(penguins, "species")
    version = register_by_hand(model, features)
    # Another module of the same package: the team's pipeline and its transformers live together.
    settings.TRAINING_PIPELINE = "tests.support.models:log_plain"

    loaded = registry.load_version(version).model

    assert np.array_equal(loaded.predict(features), model.predict(features))


def test_a_model_saved_with_pickle_is_refused(model_name, penguins):
    model = train(penguins, "species", "random_forest", {"n_estimators": 3}, 42)
    version = register_by_hand(model, prepare_features(penguins, "species"), serialization_format="pickle")

    with pytest.raises(registry.RegistryError, match="saved with pickle, which runs code of the file's choosing"):
        registry.load_version(version)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_model_the_pipeline_trains_loads_with_the_app_allowlist_alone(model_name, penguins, estimator):
    model = train(penguins, "species", estimator, {}, 42)
    features = prepare_features(penguins, "species")
    version = log_plain(model, features).version

    loaded = registry.load_version(version).model

    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))


def test_the_champion_keeps_serving_when_a_refused_version_is_made_champion_by_hand(
    client, served, penguin_versions, settings, rows
):
    settings.ROLLBACK_BAKE_WINDOW = 0
    settings.REGISTRY_SYNC_INTERVAL = 0
    refused = register_clipped(penguin_versions.frame)
    registry.set_champion(refused)

    follower().tick()
    follower().tick()

    assert Deployment.objects.order_by("-id").first().version == refused
    assert holder().current.version == "1"
    ready = client.get("/readyz").json()
    assert (ready["status"], ready["version"]) == ("failing", "1")
    assert ready["error"].startswith(f"version {refused} was not swapped in: could not load")
    assert TYPE in ready["error"]
    answer = client.post("/api/v1/predict", {"instances": rows}, content_type="application/json")
    assert answer.status_code == 200
    assert answer["X-Model-Version"] == "1"


def test_a_refused_champion_is_rolled_back_in_the_bake_window_naming_the_type(served, penguin_versions, settings):
    settings.REGISTRY_SYNC_INTERVAL = 0
    refused = register_clipped(penguin_versions.frame)
    registry.set_champion(refused)

    follower().tick()
    follower().tick()

    rollback = Deployment.objects.order_by("-id").first()
    assert (rollback.source, rollback.version) == (Deployment.Source.AUTO_ROLLBACK, "1")
    assert TYPE in rollback.reason
    assert registry.champion_version() == "1"
    assert holder().current.version == "1"


def test_a_model_file_named_outside_its_models_folder_is_refused(tmp_path, penguins):
    model = train(penguins, "species", "random_forest", {"n_estimators": 3}, 42)
    skops.io.dump(model, tmp_path / "outside.skops")
    folder = tmp_path / "model"
    folder.mkdir()

    outside = re.escape("'../outside.skops' is not a file of the model's folder")
    with pytest.raises(allowlist.UntrustedModel, match=outside):
        allowlist.load_model(folder, {"serialization_format": "skops", "pickled_model": "../outside.skops"})
