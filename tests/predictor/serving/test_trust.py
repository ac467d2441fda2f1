"""The types MLflow is told to trust are listed from the model's objects, exactly as skops lists
them from a dump, and a logged model is serialized once."""

from pathlib import Path

import numpy as np
import pytest
import skops.io
import yaml
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from demo.batches import demo_frame
from ml.estimators import ESTIMATORS, REGRESSORS, train
from ml.features import prepare_features
from predictor.serving import packaging, registry
from predictor.serving.trust import untrusted_types
from tests.support.models import log_plain

COLUMNS = {
    "mixed": None,
    "categorical only": ["species", "island", "sex"],
    "numeric only": ["species", "bill_length_mm", "body_mass_g"],
}


def _from_a_dump(model) -> list[str]:
    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


@pytest.fixture(scope="module")
def penguins():
    return demo_frame(1, "penguins")


@pytest.mark.parametrize("columns", COLUMNS.values(), ids=COLUMNS.keys())
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_the_types_listed_from_the_model_are_the_ones_skops_lists_from_its_dump(penguins, estimator, columns):
    frame = penguins if columns is None else penguins[columns]
    model = train(frame, "species", estimator, {}, 42)

    listed = untrusted_types(model)

    assert listed is not None
    assert listed == _from_a_dump(model)


@pytest.mark.parametrize("estimator", REGRESSORS)
def test_the_regressors_types_are_listed_from_the_model_as_skops_lists_them(estimator):
    from demo.datasets import houses
    from ml.task import REGRESSION

    model = train(houses(200, 1), "price", estimator, {}, 42, task=REGRESSION)

    listed = untrusted_types(model)

    assert listed is not None
    assert listed == _from_a_dump(model)


def _guard(rows):
    return rows


def test_a_model_holding_an_object_the_walk_does_not_know_is_listed_from_a_dump(penguins):
    model = train(penguins, "species", "random_forest", {"n_estimators": 3}, 42)
    wrapped = Pipeline([("guard", FunctionTransformer(_guard)), ("model", model)])

    assert untrusted_types(wrapped) is None
    assert packaging.skops_trusted_types(wrapped) == _from_a_dump(wrapped)
    assert "tests.predictor.serving.test_trust._guard" in packaging.skops_trusted_types(wrapped)


class _Spy:
    """Counts calls to the real function it wraps."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


def test_a_logged_model_is_serialized_once_and_stores_the_types_skops_lists_from_its_file(
    model_name, penguins, monkeypatch, tmp_path
):
    model = train(penguins, "species", "random_forest", {"n_estimators": 3}, 42)
    features = prepare_features(penguins, "species")
    dump, dumps = _Spy(skops.io.dump), _Spy(skops.io.dumps)
    monkeypatch.setattr(skops.io, "dump", dump)
    monkeypatch.setattr(skops.io, "dumps", dumps)

    logged = log_plain(model, features, "serialized once")

    assert dump.calls + dumps.calls == 1
    monkeypatch.undo()
    import mlflow

    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{model_name}/{logged.version}", dst_path=tmp_path))
    stored = yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]
    assert stored["skops_trusted_types"] == skops.io.get_untrusted_types(file=folder / stored["pickled_model"])
    assert stored["skops_trusted_types"] == ["numpy.dtype", "sklearn.tree._tree.Tree"]
    loaded = registry.load_version(logged.version).model
    assert np.array_equal(loaded.predict_proba(features), model.predict_proba(features))
