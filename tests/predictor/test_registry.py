"""The gateway to MLflow: plain values out, one error type, and a schema read without a model."""

import pytest

from predictor import registry
from predictor.contract import known_categories
from retraining.demo import demo_frame
from retraining.steps.train import prepare_features, train


def test_a_versions_schema_and_categories_are_read_without_loading_its_model(settings, penguin_versions, monkeypatch):
    settings.MODEL_NAME = penguin_versions.name
    loaded = penguin_versions.first
    monkeypatch.setattr("mlflow.sklearn.load_model", lambda path: pytest.fail("the model was loaded"))

    columns, categories = registry.input_schema(loaded.version)

    assert columns == loaded.columns
    assert categories == known_categories(loaded.model)
    assert categories["island"] == ["Biscoe", "Dream", "Torgersen"]


def test_a_version_that_does_not_exist_is_a_registry_error_naming_it(settings, penguin_versions):
    settings.MODEL_NAME = penguin_versions.name

    with pytest.raises(registry.RegistryError, match=f"{penguin_versions.name} version 99"):
        registry.input_schema("99")
    with pytest.raises(registry.RegistryError, match=f"could not load {penguin_versions.name} version 99"):
        registry.load_version("99")


def test_a_model_without_a_champion_alias_has_no_champion_version(model_name):
    assert registry.champion_version() is None


def test_a_logged_version_carries_its_trace_back_to_the_data(settings, penguin_versions):
    settings.MODEL_NAME = penguin_versions.name

    info = registry.model_version(penguin_versions.first.version)

    assert (info.name, info.version) == (penguin_versions.name, "1")
    assert info.tags["data.md5"] == "abc123"
    assert info.params == {"n_estimators": "30"}


def test_an_extra_artifact_is_read_back_by_name_and_a_missing_one_is_none(model_name):
    frame = demo_frame(1, "penguins")
    model = train(frame, "species", "random_forest", {"n_estimators": 3}, 42)
    features = prepare_features(frame, "species")
    logged = registry.log_model(
        model,
        params={},
        metrics={},
        tags={},
        signature_input=features,
        input_example=features.head(2),
        run_name="test",
        artifacts={"keys.bin": b"\x00\x01\xff" * 4},
    )

    assert registry.read_artifact(logged.version, "keys.bin") == b"\x00\x01\xff" * 4
    assert registry.read_artifact(logged.version, "other.bin") is None


def test_an_artifact_name_that_is_not_a_plain_file_name_is_refused(model_name):
    frame = demo_frame(1, "penguins")
    model = train(frame, "species", "random_forest", {"n_estimators": 3}, 42)
    features = prepare_features(frame, "species")
    with pytest.raises(registry.RegistryError, match=r"an artifact name must be a plain file name, got '\.\./x'"):
        registry.log_model(
            model,
            params={},
            metrics={},
            tags={},
            signature_input=features,
            input_example=features.head(2),
            run_name="test",
            artifacts={"../x": b""},
        )
