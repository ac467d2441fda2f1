"""The gateway to MLflow: plain values out, one error type, and a schema read without a model."""

import pytest

from demo.batches import demo_frame
from ml.contract import known_categories
from ml.drift.profile import build_profile
from ml.estimators import train
from ml.features import prepare_features
from predictor.serving import registry
from tests.support.models import log_plain


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
    logged = log_plain(model, features, "test", artifacts={"keys.bin": b"\x00\x01\xff" * 4})

    assert registry.read_artifact(logged.version, "keys.bin") == b"\x00\x01\xff" * 4
    assert registry.read_artifact(logged.version, "other.bin") is None


def test_an_artifact_name_that_is_not_a_plain_file_name_is_refused(model_name):
    frame = demo_frame(1, "penguins")
    model = train(frame, "species", "random_forest", {"n_estimators": 3}, 42)
    features = prepare_features(frame, "species")
    with pytest.raises(registry.RegistryError, match=r"an artifact name must be a plain file name, got '\.\./x'"):
        log_plain(model, features, "test", artifacts={"../x": b""})


def test_a_version_logged_without_a_profile_has_none(settings, penguin_versions):
    settings.MODEL_NAME = penguin_versions.name

    assert registry.profile(penguin_versions.second.version) is None


def test_a_profile_logged_with_its_model_is_read_back_once_then_from_memory(model_name, monkeypatch):
    frame = demo_frame(1, "penguins")
    features = prepare_features(frame, "species")
    profile = build_profile(features, frame["species"].to_numpy())
    model = train(frame, "species", "random_forest", {"n_estimators": 3}, 42)
    version = log_plain(model, features, "profiled", profile=profile).version

    assert registry.profile(version) == profile
    monkeypatch.setattr("mlflow.artifacts.load_dict", lambda uri: pytest.fail("the profile was downloaded again"))
    cached = registry.profile(version)
    assert cached == profile
    cached["rows"] = -1
    assert registry.profile(version)["rows"] == profile["rows"]


def test_the_profile_of_a_version_that_does_not_exist_is_a_registry_error(model_name):
    with pytest.raises(registry.RegistryError, match=f"profile of {model_name} version 7"):
        registry.profile("7")


def test_the_columns_a_model_ignores_are_logged_with_it_and_read_back_at_load(model_name):
    frame = demo_frame(1, "penguins")
    model = train(frame, "species", "random_forest", {"n_estimators": 3}, 42)
    features = prepare_features(frame, "species")
    logged = log_plain(model, features, "test", ignored=["band", "field_note"])

    assert registry.load_version(logged.version).ignored == ("band", "field_note")
